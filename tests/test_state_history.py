"""The run history (filetransfer/state/) and `filetransfer runs`: every outcome is
stored, in the SQLite file of locks_dir and in PostgreSQL alike; a killed run shows
as unfinished, never as a success."""

import json
import os
import signal
import subprocess

import pytest

from helpers import command_argv, ini_value, make_files, tree
from procs import make_dense, stop_while_writing

BIG = 'zz-big.bin'


@pytest.fixture(params=['sqlite', 'postgres'])
def state_ws(request, ws):
    """The workspace with its history in the SQLite file of locks_dir, or in a
    PostgreSQL database (state_db)."""
    if request.param == 'postgres':
        ws.write_app(extra={'global': {'state_db': ini_value(request.getfixturevalue('postgres').url)}})
    return ws


def runs_command(ws, *args) -> subprocess.CompletedProcess:
    return subprocess.run(command_argv('runs', '-c', ws.app_cfg, *args), capture_output=True,
                          text=True, timeout=60, cwd=ws.root)


def stored_runs(ws, *args) -> list[dict]:
    done = runs_command(ws, '--json', *args)
    assert (done.returncode, done.stderr) == (0, ''), done.stderr
    return json.loads(done.stdout)


def interrupted(ws, job_id: str, signum: int) -> int:
    """Runs the job, sends ``signum`` while its big file is written; its pid."""
    size = 1 << 30
    make_dense(os.path.join(ws.src, job_id, BIG), size)
    proc = ws.popen(job_id)
    try:
        partial, final = (os.path.join(ws.dst, job_id, name) for name in ('.' + BIG, BIG))
        assert stop_while_writing(proc, partial, final), 'copied too fast to catch'
        os.kill(proc.pid, signum)
        os.kill(proc.pid, signal.SIGCONT)
        assert proc.wait(timeout=60) == (5 if signum == signal.SIGTERM else -signum)
        assert not os.path.exists(final)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.pid


def test_every_outcome_is_stored(state_ws):
    ws = state_ws
    make_files(ws.src, {'ok/a.txt': 'A', 'errors/a.txt': 'A', 'errors/b.txt': 'B'})
    os.makedirs(os.path.join(ws.dst, 'errors', 'b.txt'))    # a directory where a file goes
    for job_id in ('ok', 'errors', 'term', 'kill'):
        ws.write_job(job_id, source={'path': os.path.join(ws.src, job_id)},
                     target={'path': os.path.join(ws.dst, job_id), 'temp': 'dot'})
    ws.write_job('failure', source={'path': os.path.join(ws.root, 'missing')})
    ws.write_job('notready', job={'ready_file': 'go'})

    done = ws.run('--json', 'ok')
    assert done.returncode == 0
    ok_result = json.loads(done.stdout)
    assert ws.run('--json', 'errors').returncode == 1
    assert ws.run('failure').returncode == 2
    assert ws.run('notready').returncode == 0          # found nothing to do: not stored
    term_pid = interrupted(ws, 'term', signal.SIGTERM)
    kill_pid = interrupted(ws, 'kill', signal.SIGKILL)

    found = stored_runs(ws)
    assert [(run['job_id'], run['status'], run['exit_code']) for run in found] == [
        ('ok', 'success', 0), ('errors', 'errors', 1), ('failure', 'failure', 2),
        ('term', 'terminated', 5), ('kill', 'unfinished', None)]
    ok, errors, failure, term, kill = found
    assert ok['result'] == ok_result
    assert 'WARNING' not in ws.log_text('ok')        # the first run made the tables
    assert (ok['files_cnt'], ok['src_error_cnt'], ok['tgt_error_cnt']) == (1, 0, 0)
    assert ok['host'] == os.uname().nodename and ok['ended'] >= ok['started']
    assert (errors['files_cnt'], errors['tgt_error_cnt']) == (1, 1)
    assert errors['result']['files'][-1] == {'tag': '<', 'path': 'b.txt',
                                             'error': 'Is a directory'}
    assert 'missing' in failure['error'] and failure['result']['status'] == 'failure'
    assert term['pid'] == term_pid and term['error'] == 'terminated by signal SIGTERM'
    assert kill['pid'] == kill_pid
    assert (kill['ended'], kill['result'], kill['files_cnt']) == (None, None, None)

    assert [run['status'] for run in stored_runs(ws, 'errors')] == ['errors']
    assert [run['job_id'] for run in stored_runs(ws, '--last', '2')] == ['term', 'kill']
    table = runs_command(ws, '--last', '1')
    assert table.returncode == 0
    assert table.stdout.splitlines()[0].split() == ['ID', 'JOB', 'HOST', 'PID', 'STARTED',
                                                    'DURATION', 'STATUS', 'EXIT', 'FILES',
                                                    'ERRORS', 'ERROR']
    assert table.stdout.splitlines()[1].split()[1:4] == ['kill', os.uname().nodename,
                                                         str(kill_pid)]
    assert ' unfinished ' in table.stdout

    pruned = runs_command(ws, '--prune', '1')
    assert (pruned.returncode, pruned.stdout) == (
        0, 'deleted 0 run(s) that started more than 1 day(s) ago\n')
    pruned = runs_command(ws, '--prune', '0')
    assert pruned.stdout == 'deleted 5 run(s) that started more than 0 day(s) ago\n'
    assert stored_runs(ws) == []
    assert runs_command(ws).stdout == 'no runs stored\n'


def test_sqlite_history_is_private_and_made_when_first_needed(ws):
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job(job={'ready_file': 'go'})
    assert ws.run('job1').returncode == 0
    assert not os.path.exists(ws.locks_dir)       # a run with nothing to do stores nothing
    assert runs_command(ws).stdout == 'no runs stored\n'
    open(os.path.join(ws.src, 'go'), 'w').close()
    assert ws.run('job1').returncode == 0
    path = os.path.join(ws.locks_dir, 'state.sqlite3')
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.listdir(ws.locks_dir) == ['state.sqlite3']
    assert [run['status'] for run in stored_runs(ws)] == ['success']


def test_without_locks_dir_nor_state_db_no_history_is_kept(ws):
    ws.write_app()
    with open(ws.app_cfg, 'w') as fh:
        fh.write(f'[global]\njobs_dir = {ws.jobs_dir}\n')
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job()
    assert ws.run('job1').returncode == 0
    assert tree(ws.dst) == {'a.txt': b'A'}
    done = runs_command(ws)
    assert done.returncode == 3
    assert done.stderr == (f'filetransfer: {ws.app_cfg}: [global]: no run history is kept: '
                           'set locks_dir (an SQLite file there) or state_db (PostgreSQL)\n')


def test_a_broken_history_file_is_a_warning_for_the_run_and_a_failure_for_runs(ws):
    os.makedirs(ws.locks_dir)
    with open(os.path.join(ws.locks_dir, 'state.sqlite3'), 'w') as fh:
        fh.write('not a database, but long enough to be taken for one ' * 100)
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job()
    done = ws.run('job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert tree(ws.dst) == {'a.txt': b'A'}
    assert 'cannot store the run in the run history' in ws.log_text()
    done = runs_command(ws)
    assert done.returncode == 2
    assert done.stderr.startswith('filetransfer: cannot open ') and 'Traceback' not in done.stderr


@pytest.mark.parametrize('value, problem', [
    ('mysql://u@h/db', 'only PostgreSQL is supported'),
    ('postgresql://u:Hunter2-secret@h/db', 'without a password'),
    ('postgresql://u@h:0/db', 'PORT: a number from 1 to 65535'),
    ('postgresql://u@h/', 'expected postgresql://USER@HOST[:PORT]/DB'),
])
def test_a_wrong_state_db_is_a_configuration_error(ws, value, problem):
    ws.write_app(extra={'global': {'state_db': value}})
    ws.write_job()
    for argv in (['-c', ws.app_cfg, 'job1'], ['runs', '-c', ws.app_cfg]):
        done = subprocess.run(command_argv(*argv), capture_output=True, text=True, timeout=60)
        assert done.returncode == 3
        assert f'{ws.app_cfg}: [global] state_db: ' in done.stderr and problem in done.stderr
        assert 'Hunter2' not in done.stderr and 'Traceback' not in done.stderr


def test_a_readable_file_with_the_password_is_warned_about(ws):
    ws.write_app(extra={'global': {'state_db': 'postgresql://u@db.example/x',
                                   'state_db_password': 'Hunter2-secret'}})
    os.chmod(ws.app_cfg, 0o644)
    from filetransfer import config
    assert [warning for warning in config.load_app(ws.app_cfg).warnings
            if 'can be read by other users' in warning] != []
    os.chmod(ws.app_cfg, 0o600)
    assert config.load_app(ws.app_cfg).warnings == []


def test_a_sigterm_as_the_run_is_stored_leaves_one_finished_row(state_ws, monkeypatch):
    """The signal (sent by the process to itself) comes right after the run's row was
    inserted: the run ends terminated and that same row holds its end; no second row,
    no row left unfinished."""
    import filetransfer
    import filetransfer.run.job
    from filetransfer.state.postgres import Database
    from filetransfer.state.sqlite import SqliteHistory

    ws = state_ws
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job()
    with open(ws.app_cfg) as fh:
        store = Database if 'state_db' in fh.read() else SqliteHistory
    begin = store.begin

    def begin_then_sigterm(self, *args):
        run_id = begin(self, *args)
        os.kill(os.getpid(), signal.SIGTERM)
        return run_id

    monkeypatch.setattr(store, 'begin', begin_then_sigterm)
    previous = signal.getsignal(signal.SIGTERM)
    filetransfer.set_sigterm_handler()
    try:
        job = filetransfer.run.job.load(ws.app_cfg, 'job1')
        with pytest.raises(filetransfer.Terminated):
            job.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert [(run['status'], run['exit_code']) for run in stored_runs(ws)] == [('terminated', 5)]
