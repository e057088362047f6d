"""The operator's options of the job form through the real command: --dry-run,
--json, the progress line on a terminal, and job ids equal to subcommand names."""

import json
import os
import pty
import select
import subprocess
import sys

import pytest

from helpers import command_argv, make_files, tree
from procs import make_sparse


def test_dry_run_lists_files_and_writes_nothing(ws):
    make_files(ws.src, {'a.txt': 'AAA', 'sub/b.csv': 'BB', 'skip.bin': 'x', 'READY': ''})
    ws.write_job(job={'ready_file': 'READY', 'single_instance': 'yes'},
                 source={'files': '*.txt, *.csv', 'recursive': 'yes', 'delete': 'yes'})
    done = ws.run('--dry-run', 'job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert done.stdout.splitlines() == [
        f'dry run of job job1: {ws.src} -> {ws.dst}',
        'would transfer 2 file(s), 5 B:',
        '  a.txt  (3 bytes)',
        '  sub/b.csv  (2 bytes)',
        'would delete each of them from the source once its copy is complete',
        'would delete the ready file READY if all files succeed',
    ]
    assert not os.path.exists(ws.dst) and not os.path.exists(ws.locks_dir)
    assert tree(ws.src) == {'a.txt': b'AAA', 'sub/b.csv': b'BB', 'skip.bin': b'x',
                            'READY': b''}


def test_dry_run_json_not_ready_and_failure(ws):
    make_files(ws.src, {'a.txt': 'AAA'})
    ws.write_job()
    done = ws.run('--dry-run', '--json', 'job1')
    assert done.returncode == 0
    assert json.loads(done.stdout) == {
        'job_id': 'job1', 'dry_run': True, 'status': 'success', 'exit_code': 0, 'error': None,
        'source': ws.src, 'target': ws.dst,
        'files': [{'path': 'a.txt', 'size': 3, 'action': 'send', 'source': 'keep'}],
        'skipped': [], 'delete_source': False, 'archive_dir': None, 'ready_file': None}
    ws.write_job(job={'ready_file': 'READY'})
    done = ws.run('--dry-run', 'job1')
    assert done.returncode == 0
    assert 'not ready (ready file READY not present), nothing would be transferred' \
        in done.stdout
    ws.write_job(source={'path': os.path.join(ws.root, 'missing')})
    done = ws.run('--dry-run', 'job1')
    assert done.returncode == 2 and 'does not exist' in done.stderr
    ws.write_job(source={'recursive': 'maybe'})
    done = ws.run('--dry-run', 'job1')
    assert done.returncode == 3 and 'recursive: expected yes/no' in done.stderr
    assert not os.path.exists(ws.dst)


def test_dry_run_json_prints_an_object_for_every_outcome(ws):
    make_files(ws.src, {'a.txt': 'AAA'})
    ws.write_job(job={'ready_file': 'READY'}, source={'delete': 'yes'})
    done = ws.run('--dry-run', '--json', 'job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert json.loads(done.stdout) == {
        'job_id': 'job1', 'dry_run': True, 'status': 'not_ready', 'exit_code': 0,
        'error': 'ready file READY not present', 'source': ws.src, 'target': ws.dst,
        'files': [], 'skipped': [], 'delete_source': True, 'archive_dir': None,
        'ready_file': 'READY'}

    missing = os.path.join(ws.root, 'missing')
    ws.write_job(source={'path': missing})
    done = ws.run('--dry-run', '--json', 'job1')
    assert done.returncode == 2 and 'does not exist' in done.stderr
    assert json.loads(done.stdout) == {
        'job_id': 'job1', 'dry_run': True, 'status': 'failure', 'exit_code': 2,
        'error': f'source directory {missing} does not exist', 'source': missing,
        'target': ws.dst, 'files': None, 'skipped': None, 'delete_source': False,
        'archive_dir': None, 'ready_file': None}

    ws.write_job(source={'recursive': 'maybe'})
    done = ws.run('--dry-run', '--json', 'job1')
    assert done.returncode == 3 and 'recursive: expected yes/no' in done.stderr
    data = json.loads(done.stdout)
    assert 'recursive: expected yes/no' in data.pop('error')
    assert data == {'job_id': 'job1', 'dry_run': True, 'status': 'config', 'exit_code': 3,
                    'source': None, 'target': None, 'files': None, 'skipped': None,
                    'delete_source': None, 'archive_dir': None, 'ready_file': None}

    done = ws.run('--dry-run', '--json', 'nosuchjob')
    assert done.returncode == 3
    assert json.loads(done.stdout)['status'] == 'config'
    assert not os.path.exists(ws.dst)


def test_json_success_lists_files_even_without_collect_data(ws):
    make_files(ws.src, {'a.txt': 'A', 'b.txt': 'BB'})
    ws.write_job(job={'name': 'Nightly', 'collect_data': 'no'})
    done = ws.run('--json', 'job1')
    assert done.returncode == 0
    data = json.loads(done.stdout)
    assert {key: data[key] for key in ('job_id', 'name', 'status', 'exit_code', 'error',
                                       'source', 'target', 'files_cnt', 'src_error_cnt',
                                       'tgt_error_cnt')} == {
        'job_id': 'job1', 'name': 'Nightly', 'status': 'success', 'exit_code': 0,
        'error': None, 'source': ws.src, 'target': ws.dst, 'files_cnt': 2,
        'src_error_cnt': 0, 'tgt_error_cnt': 0}
    assert [(item['tag'], item['path']) for item in data['files']] == [('=', 'a.txt'),
                                                                       ('=', 'b.txt')]
    assert all(item['duration'] >= 0 for item in data['files'])
    assert data['duration'] >= 0 and data['started'] <= data['ended']
    assert data['log_file'] == ws.log_files()[0]
    assert tree(ws.dst) == {'a.txt': b'A', 'b.txt': b'BB'}


def test_json_file_errors_failure_and_quiet_outcomes(ws):
    make_files(ws.src, {'a.txt': 'A', 'b.txt': 'B'})
    os.makedirs(os.path.join(ws.dst, 'b.txt'))
    ws.write_job()
    done = ws.run('--json', 'job1')
    data = json.loads(done.stdout)
    assert done.returncode == data['exit_code'] == 1 and data['status'] == 'errors'
    assert data['files'] == [data['files'][0], {'tag': '<', 'path': 'b.txt',
                                                'error': 'Is a directory'}]
    assert data['tgt_error_cnt'] == 1

    ws.write_job(source={'path': os.path.join(ws.root, 'missing')})
    done = ws.run('--json', 'job1')
    data = json.loads(done.stdout)
    assert done.returncode == data['exit_code'] == 2 and data['status'] == 'failure'
    assert 'does not exist' in data['error'] and data['files'] == []

    ws.write_job(target={'temp': 'bogus'})
    done = ws.run('--json', 'job1')
    data = json.loads(done.stdout)
    assert done.returncode == 3
    assert (data['status'], data['exit_code']) == ('config', 3)
    assert '[target] temp: expected dot' in data['error']

    ws.write_job(job={'ready_file': 'READY'})
    done = ws.run('--json', 'job1')
    assert done.returncode == 0
    assert json.loads(done.stdout) == {'job_id': 'job1', 'status': 'not_ready', 'exit_code': 0,
                                       'error': 'ready file READY not present'}


def _run_on_terminal(ws, *args, timeout=60) -> tuple[int, bytes]:
    """Runs the command with stderr on a pseudo-terminal; returns (code, what it showed)."""
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(command_argv('-c', ws.app_cfg, *args), cwd=ws.root,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=terminal)
    os.close(terminal)
    shown = b''
    try:
        while True:
            ready, _, _ = select.select([controller], [], [], timeout)
            assert ready, 'no output and no end within the timeout'
            try:
                chunk = os.read(controller, 65536)
            except OSError:   # EIO: the command closed the terminal
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(controller)
    return proc.wait(timeout=timeout), shown


def test_progress_on_a_terminal_only(ws):
    make_sparse(os.path.join(ws.src, 'big.bin'), 64 << 20)
    make_files(ws.src, {'small.txt': 'x'})
    ws.write_job()
    code, shown = _run_on_terminal(ws, 'job1')
    assert code == 0
    text = shown.decode()
    assert '[1/2] big.bin' in text and '[2/2] small.txt' in text
    assert '100%' in text and 'of 67.1 MB' in text and '/s' in text
    assert text.endswith('\r\x1b[K')   # the line is cleared at the end

    os.unlink(os.path.join(ws.dst, 'big.bin'))
    done = ws.run('job1')              # stderr is a pipe: no progress at all
    assert (done.returncode, done.stderr) == (0, '')
    assert os.path.getsize(os.path.join(ws.dst, 'big.bin')) == 64 << 20


def test_log_lines_on_the_terminal_start_on_a_clean_line(ws):
    make_files(ws.src, {f'file{number}.txt': 'x' * number for number in range(1, 6)})
    ws.write_app(logging={'msg_format': 'LOG %(levelname)s %(message)s'})   # log to stderr
    ws.write_job()
    code, shown = _run_on_terminal(ws, 'job1')
    assert code == 0
    text = shown.decode()
    assert '[5/5] file5.txt' in text               # the progress line was drawn
    records = [line for line in text.split('\n') if 'LOG ' in line]
    assert len(records) == 7                        # started, 5 files, finished
    for line in records:
        # what the terminal shows of the line: the text after its last erasure
        assert line.rsplit('\r\x1b[K', 1)[-1].startswith('LOG INFO '), repr(line)
    assert sum('LOG INFO transferred' in line for line in records) == 5


def test_jobs_named_like_subcommands_run_with_c_or_double_dash(ws):
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job('check')
    done = ws.run('check')             # -c CONFIG first: the job form
    assert done.returncode == 0 and tree(ws.dst) == {'a.txt': b'A'}
    os.unlink(os.path.join(ws.dst, 'a.txt'))
    ws.write_job('daemon')
    done = subprocess.run(command_argv('--', 'daemon'), capture_output=True, text=True,
                          env={**os.environ, 'FILETRANSFER_CFG': ws.app_cfg})
    assert done.returncode == 0 and tree(ws.dst) == {'a.txt': b'A'}


@pytest.mark.parametrize('args', [['-h'], ['daemon', '-h'], ['check', '-h'], ['-V']])
def test_help_imports_nothing_heavy(args):
    code = ('import sys\nfrom filetransfer.cli.main import main\ntry:\n    main(%r)\nexcept SystemExit:\n'
            '    pass\nprint(sorted(name for name in ("daemon", "paramiko", "filelock", '
            '"filetransfer.service.daemon", "filetransfer.service.check") if name in sys.modules))' % args)
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.splitlines()[-1] == '[]'
