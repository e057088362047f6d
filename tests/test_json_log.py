"""``[logging] format = json``: every line of a run (log file or stderr) and of the
daemon's log is one JSON object with time, level, job, message and the structured
fields of its event."""

import datetime
import json
import os
import signal

import pytest

from faults import setup_job, stop_in_the_middle
from helpers import make_files
from procs import wait_for
from test_daemon import Hot


def records(text: str, job='job1') -> list[dict]:
    """The JSON objects of the lines of ``text``, each checked for the common keys."""
    lines = text.splitlines()
    assert lines
    found = []
    for line in lines:
        record = json.loads(line)
        assert datetime.datetime.fromisoformat(record['time']).tzinfo is not None
        assert record['level'] in ('DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL')
        assert record['job'] == job and isinstance(record['message'], str)
        found.append(record)
    return found


def use_json(ws, **logging) -> None:
    ws.write_app(logging={'log_dir': ws.log_dir, 'format': 'json', **logging})


def test_success_with_the_fields_of_each_event(ws):
    use_json(ws, log_level='DEBUG')
    make_files(ws.src, {'a.txt': 'A', 'b.txt': 'BB'})
    ws.write_job()
    assert ws.run('job1').returncode == 0
    lines = records(ws.log_text())
    assert any(line['level'] == 'DEBUG' for line in lines)
    start = next(line for line in lines if line['message'].startswith('job job1 (job1) started'))
    assert (start['source'], start['target']) == (ws.src, ws.dst)
    sent = {line['file']: line for line in lines if line['message'].startswith('transferred')}
    assert sorted(sent) == ['a.txt', 'b.txt']
    assert (sent['b.txt']['size'], sent['b.txt']['level']) == (2, 'INFO')
    assert sent['b.txt']['seconds'] >= 0
    end = lines[-1]
    assert {key: end[key] for key in ('level', 'exit_code', 'status', 'files_cnt', 'bytes_cnt',
                                      'src_error_cnt', 'tgt_error_cnt')} == {
        'level': 'INFO', 'exit_code': 0, 'status': 'success', 'files_cnt': 2, 'bytes_cnt': 3,
        'src_error_cnt': 0, 'tgt_error_cnt': 0}
    assert end['seconds'] >= 0 and 'error' not in end


def test_file_errors_and_a_failure(ws):
    use_json(ws)
    make_files(ws.src, {'a.txt': 'A', 'b.txt': 'B'})
    os.makedirs(os.path.join(ws.dst, 'b.txt'))
    ws.write_job()
    assert ws.run('job1').returncode == 1
    lines = records(ws.log_text())
    [failed] = [line for line in lines if line.get('file') == 'b.txt']
    assert (failed['level'], failed['side']) == ('ERROR', 'target') and failed['error']
    assert (lines[-1]['exit_code'], lines[-1]['status'], lines[-1]['tgt_error_cnt']) == \
        (1, 'errors', 1)

    os.unlink(ws.log_files()[0])
    ws.write_job(source={'path': os.path.join(ws.root, 'missing')})
    assert ws.run('job1').returncode == 2
    end = records(ws.log_text())[-1]
    assert (end['level'], end['exit_code'], end['status']) == ('ERROR', 2, 'failure')
    assert 'missing' in end['error'] and end['error'] in end['message']


def test_sigterm(ws, tmp_path):
    setup = setup_job(ws, 'local', 'up', tmp_path)
    use_json(ws)
    proc = ws.popen('job1')
    assert stop_in_the_middle(proc, setup), 'copied too fast to catch'
    os.kill(proc.pid, signal.SIGTERM)
    os.kill(proc.pid, signal.SIGCONT)
    assert proc.wait(timeout=60) == 5
    end = records(ws.log_text())[-1]
    assert (end['level'], end['exit_code'], end['status'], end['files_cnt']) == \
        ('ERROR', 5, 'terminated', 2)


def test_stderr_without_log_dir(ws):
    ws.write_app(logging={'format': 'json'})
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job()
    done = ws.run('job1')
    assert done.returncode == 0
    lines = records(done.stderr)
    assert lines[-1]['exit_code'] == 0 and any(line.get('file') == 'a.txt' for line in lines)


def test_a_broken_job_file(ws):
    use_json(ws)
    ws.write_job(raw='[source]\npath = x\n')
    assert ws.run('job1').returncode == 3
    [line] = records(ws.log_text())
    assert (line['level'], line['exit_code'], line['status']) == ('ERROR', 3, 'config')


@pytest.fixture
def hot(ws):
    hot = Hot(ws)
    yield hot
    hot.kill_leftover()


def test_the_daemon_log_and_its_jobs_logs(hot):
    ws = hot.ws
    hot.configure(logging={'log_dir': ws.log_dir, 'log_level': 'DEBUG', 'format': 'json'})
    ws.write_job('hot', source={'delete': 'yes'})
    hot.start()
    make_files(ws.src, {'a.txt': 'A'})
    hot.wait_log('job hot finished (exit code 0)')
    assert hot.command('--stop').returncode == 0
    wait_for(lambda: hot.log().rstrip().endswith('"message": "daemon stopped"}'), timeout=30)
    lines = [json.loads(line) for line in hot.log().splitlines()]
    assert all({'time', 'level', 'job', 'message'} <= set(line) for line in lines)
    finished = [line for line in lines if line['message'] == 'job hot finished (exit code 0)']
    assert [(line['job'], line['exit_code']) for line in finished] == [('hot', 0)]
    assert lines[0]['job'] is None and lines[0]['message'].startswith('daemon started')
    [log_file] = ws.log_files('hot')
    with open(log_file, encoding='utf-8') as fh:
        assert records(fh.read(), job='hot')[-1]['files_cnt'] == 1


def test_a_file_name_that_is_not_utf8(ws):
    """The lines are ASCII: such a name is escaped, not a logging error."""
    use_json(ws)
    with open(os.path.join(os.fsencode(ws.src), b'caf\xe9.txt'), 'wb') as fh:
        fh.write(b'x')
    ws.write_job()
    assert ws.run('job1').returncode == 0
    with open(ws.log_files()[0], 'rb') as fh:
        assert fh.read().isascii()
    lines = records(ws.log_text())
    assert [line['file'] for line in lines if 'file' in line] == ['caf\udce9.txt']
