"""Jobs on several hosts sharing a PostgreSQL state database ([global] state_db):
exactly one runner per job anywhere, what a dead host left is cleaned up by the
next run anywhere, a database that goes away stops the run as a SIGTERM would, and
the errors around the database are clear (and keep its password).

A "host" is an application configuration of its own (its own locks_dir) over the
same jobs, source and target, run by separate processes."""

import contextlib
import json
import os
import signal
import subprocess
import sys

from helpers import command_argv, ini_value, make_files, tree, write_ini
from procs import make_dense, wait_for

BIG = 'zz-big.bin'
FILES = {f'f{index:02}.txt': os.urandom(1000 + index) for index in range(20)}


def add_host(ws, name: str, database, **global_options) -> str:
    """A second host's application configuration: the same jobs, its own locks_dir
    and logs, the same state database."""
    path = os.path.join(ws.root, f'{name}.cfg')
    write_ini(path, {'global': {'jobs_dir': ws.jobs_dir,
                                'locks_dir': os.path.join(ws.root, f'{name}-locks'),
                                'state_db': ini_value(database.url), **global_options},
                     'logging': {'log_dir': os.path.join(ws.root, f'{name}-logs')}})
    return path


def use_database(ws, database, **global_options) -> None:
    ws.write_app(extra={'global': {'state_db': ini_value(database.url), **global_options}})


def run(config: str, *args, env=None, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run(command_argv('-c', config, *args), capture_output=True, text=True,
                          timeout=timeout, env=env)


def logs_of(root: str) -> str:
    texts = []
    for folder, _, names in os.walk(root):
        for name in names:
            with open(os.path.join(folder, name), encoding='utf-8') as fh:
                texts.append(fh.read())
    return ''.join(texts)


@contextlib.contextmanager
def caught_writing(ws, *args, **popen):
    """Runs job1; yields its process once the big file is being written under its
    temp name; kills it at the end if it still runs."""
    proc = ws.popen(*args, 'job1', **popen)
    try:
        assert wait_for(lambda: os.path.exists(os.path.join(ws.dst, '.' + BIG)), proc=proc), \
            'copied too fast to catch'
        yield proc
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
            proc.kill()
            proc.wait()


def history(database, query: str) -> list:
    """The rows of a query of the run history; none before the first run made it."""
    if not database.sql("SELECT to_regclass('filetransfer_runs') IS NOT NULL")[0][0]:
        return []
    return database.sql(query)


def unfinished_run(database) -> int | None:
    """The pid of the run that holds the job now (its row has no end yet)."""
    rows = history(database, 'SELECT pid FROM filetransfer_runs WHERE ended IS NULL')
    return rows[0][0] if rows else None


def test_ten_starts_on_two_hosts_exactly_one_transfers(ws, postgres):
    use_database(ws, postgres)
    other_host = add_host(ws, 'host2', postgres)
    make_files(ws.src, FILES)
    make_dense(os.path.join(ws.src, BIG), 1 << 30)
    ws.write_job(job={'single_instance': 'yes'}, source={'delete': 'yes'},
                 target={'temp': 'dot'})
    procs = [subprocess.Popen(command_argv('-c', config, '--json', 'job1'),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for config in [ws.app_cfg, other_host] * 5]
    results = {}
    try:
        # The run holding the lock is held still until all the others ended.
        winner = wait_for(lambda: unfinished_run(postgres), timeout=60)
        os.kill(winner, signal.SIGSTOP)
        for proc in procs:
            if proc.pid != winner:
                out, err = proc.communicate(timeout=120)
                assert (proc.returncode, err) == (0, '')
                results[proc.pid] = json.loads(out)
        os.kill(winner, signal.SIGCONT)
        for proc in procs:
            if proc.pid == winner:
                out, err = proc.communicate(timeout=120)
                assert (proc.returncode, err) == (0, '')
                results[winner] = json.loads(out)
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.kill()
                proc.wait()
    assert sorted(result['status'] for result in results.values()) == \
        ['already_running'] * 9 + ['success']
    assert results[winner]['files_cnt'] == len(FILES) + 1
    assert os.path.getsize(os.path.join(ws.dst, BIG)) == 1 << 30
    os.unlink(os.path.join(ws.dst, BIG))
    assert tree(ws.dst) == FILES
    assert tree(ws.src) == {}
    transferred = logs_of(ws.log_dir) + logs_of(os.path.join(ws.root, 'host2-logs'))
    assert sorted(line.split('transferred ')[1].split(' ')[0] for line in
                  transferred.splitlines() if ' INFO     transferred ' in line) == \
        sorted([*FILES, BIG])
    assert postgres.sql('SELECT pid, status FROM filetransfer_runs') == [(winner, 'success')]
    assert postgres.sql('SELECT count(*) FROM filetransfer_writing') == [(0,)]


def test_killed_holder_the_next_start_anywhere_runs_and_cleans_up(ws, postgres):
    use_database(ws, postgres)
    other_host = add_host(ws, 'host2', postgres)
    make_files(ws.src, FILES)
    make_dense(os.path.join(ws.src, BIG), 1 << 30)
    ws.write_job(job={'single_instance': 'yes'}, target={'temp': 'dot'})
    with caught_writing(ws) as proc:
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    assert postgres.sql('SELECT path FROM filetransfer_writing') == [('.' + BIG,)]
    # The server ends the killed run's session as soon as its socket closes.
    wait_for(lambda: not postgres.sql("SELECT 1 FROM pg_stat_activity WHERE "
                                      "application_name = 'filetransfer job1'"), timeout=30)
    os.unlink(os.path.join(ws.src, BIG))     # the next run has no reason to write it again

    done = run(other_host, 'job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert tree(ws.dst) == FILES
    assert f'removed .{BIG}, left unfinished on the target by an earlier run' in \
        logs_of(os.path.join(ws.root, 'host2-logs'))
    assert postgres.sql('SELECT count(*) FROM filetransfer_writing') == [(0,)]
    assert postgres.sql('SELECT pid, status FROM filetransfer_runs ORDER BY id') == [
        (proc.pid, None), (postgres.sql('SELECT max(pid) FROM filetransfer_runs '
                                        "WHERE status = 'success'")[0][0], 'success')]
    assert not os.path.exists(os.path.join(ws.root, 'host2-locks'))


def test_a_live_runs_record_is_left_alone(ws, postgres):
    """A run without a lock takes over only the records of runs whose session has
    ended: a run still going on elsewhere keeps its entries."""
    use_database(ws, postgres)
    make_files(ws.src, FILES)
    make_dense(os.path.join(ws.src, BIG), 1 << 30)
    ws.write_job(target={'temp': 'dot'})
    with caught_writing(ws) as proc:
        os.kill(proc.pid, signal.SIGSTOP)
        ws.write_job(source={'files': 'f0*'}, target={'temp': 'dot'})
        done = ws.run('job1')
        assert (done.returncode, done.stderr) == (0, '')
        assert os.path.exists(os.path.join(ws.dst, '.' + BIG))
        assert postgres.sql('SELECT path FROM filetransfer_writing') == [('.' + BIG,)]


def test_database_stopped_mid_run_stops_the_job_with_exit_2(ws, postgres):
    use_database(ws, postgres)
    make_files(ws.src, FILES)
    make_dense(os.path.join(ws.src, BIG), 1 << 30)
    big = os.path.join(ws.src, BIG)
    ws.write_job(job={'single_instance': 'yes'}, source={'delete': 'yes'},
                 target={'temp': 'dot'})
    with caught_writing(ws, '-v', stderr=subprocess.PIPE, text=True) as proc:
        postgres.server.stop_immediately()
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert f'state database {postgres.url}: session lost: ' in err
    assert 'session lost' in err and 'the run stopped as on SIGTERM' in err
    assert 'Traceback' not in err
    final = os.path.join(ws.dst, BIG)      # never a partial final file (a fast copy may end first)
    assert not os.path.exists(final) or os.path.getsize(final) == 1 << 30
    assert not os.path.exists(os.path.join(ws.dst, '.' + BIG))  # removed as on SIGTERM
    assert os.path.getsize(big) == 1 << 30
    for name, data in FILES.items():     # each small file: still a source, or in place
        assert tree(ws.src).get(name) == data or tree(ws.dst).get(name) == data
    log = ws.log_text()
    assert 'session lost' in log and 'exit code 2' in log

    postgres.server.start()
    done = ws.run('job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert os.path.getsize(os.path.join(ws.dst, BIG)) == 1 << 30
    os.unlink(os.path.join(ws.dst, BIG))
    assert tree(ws.dst) == FILES and tree(ws.src) == {}
    assert [status for status, in postgres.sql(
        'SELECT status FROM filetransfer_runs ORDER BY id')] == [None, 'success']


def test_daemons_on_two_hosts_take_each_file_once(ws, postgres, tmp_path):
    """Two hot-folder daemons over the same folder: each scan runs the job under its
    lock, so while one of them sends the files (a big one takes a while), the other
    takes none."""
    use_database(ws, postgres)
    other_host = add_host(ws, 'host2', postgres)
    ws.write_job(source={'delete': 'yes'}, target={'temp': 'dot'})
    daemons = []
    for config, name in ((ws.app_cfg, 'host1'), (other_host, 'host2')):
        with open(config, 'a') as fh:
            fh.write(f'\n[daemon]\njobs = job1\ninterval = 0.05\n'
                     f'pidfile = {tmp_path / name}.pid\n')
        daemons.append(subprocess.Popen(command_argv('daemon', '-c', config, '--foreground'),
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    try:
        staging = str(tmp_path / 'staging')       # written aside, then moved in
        make_files(staging, FILES)
        make_dense(os.path.join(staging, BIG), 1 << 30)
        for name in sorted(os.listdir(staging)):
            os.rename(os.path.join(staging, name), os.path.join(ws.src, name))
        wait_for(lambda: history(postgres, 'SELECT sum(files_cnt) FROM filetransfer_runs '
                                           'WHERE ended IS NOT NULL') == [(len(FILES) + 1,)],
                 timeout=120, interval=0.05)
    finally:
        for daemon in daemons:
            daemon.send_signal(signal.SIGTERM)
        for daemon in daemons:
            daemon.wait(timeout=60)
    assert os.path.getsize(os.path.join(ws.dst, BIG)) == 1 << 30
    os.unlink(os.path.join(ws.dst, BIG))
    assert tree(ws.dst) == FILES
    rows = postgres.sql('SELECT status, files_cnt FROM filetransfer_runs')
    # (a run that started after the last file, when the daemons stopped, is terminated)
    assert {status for status, count in rows if count} == {'success'}
    assert {status for status, _ in rows} <= {'success', 'terminated'}
    assert sum(count for _, count in rows) == len(FILES) + 1
    logs = logs_of(ws.log_dir) + logs_of(os.path.join(ws.root, 'host2-logs'))
    assert ' error' not in logs.replace('0 source error(s), 0 target error(s)', '')


# -- errors around the database --------------------------------------------------------

def test_a_missing_psycopg_is_a_configuration_error(ws, postgres, tmp_path):
    hidden = tmp_path / 'hidden'
    (hidden / 'psycopg').mkdir(parents=True)
    (hidden / 'psycopg' / '__init__.py').write_text(
        "raise ImportError('No module named psycopg')\n")
    env = {**os.environ, 'PYTHONPATH': str(hidden)}
    use_database(ws, postgres)
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job(job={'single_instance': 'yes'})
    for argv in (['-c', ws.app_cfg, 'job1'], ['runs', '-c', ws.app_cfg]):
        done = subprocess.run(command_argv(*argv), capture_output=True, text=True, env=env,
                              timeout=60)
        assert done.returncode == 3
        assert done.stderr == (
            f'filetransfer: {ws.app_cfg}: [global] state_db: PostgreSQL needs the psycopg '
            'package (version 3): No module named psycopg; install it with: pip install '
            '"filetransfer[postgres]"\n')
    assert not os.path.exists(ws.dst)


def test_an_unreachable_database_is_a_failure(ws, tmp_path):
    nowhere = str(tmp_path / 'no-server')
    os.mkdir(nowhere)
    ws.write_app(extra={'global': {'state_db': f'postgresql://someone@{nowhere.replace("/", "%%2F")}:5999/db'}})
    make_files(ws.src, {'a.txt': 'A'})
    for job in ({'single_instance': 'yes'}, None):    # connects for the lock, or at the start
        ws.write_job(job=job)
        done = ws.run('-v', 'job1')
        assert done.returncode == 2
        assert done.stderr.startswith(f'ConnectError: state database postgresql://someone@'
                                      f'{nowhere.replace("/", "%2F")}:5999/db: cannot connect: ')
        assert 'Traceback' not in done.stderr
        assert not os.path.exists(ws.dst)
    done = subprocess.run(command_argv('runs', '-c', ws.app_cfg), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and 'cannot connect' in done.stderr
    assert 'Traceback' not in done.stderr


def test_the_password_stays_secret(ws, postgres):
    from servers.postgres import PASSWORD_ROLE

    password = postgres.server.password
    url = postgres.server.url(postgres.name, user=PASSWORD_ROLE)
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job(job={'single_instance': 'yes', 'log_level': 'DEBUG'})
    ws.write_app(extra={'global': {'state_db': ini_value(url), 'state_db_password': password}})
    os.chmod(ws.app_cfg, 0o600)
    done = ws.run('-vv', '--json', 'job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert postgres.sql('SELECT status FROM filetransfer_runs') == [('success',)]
    shown = [done.stdout, done.stderr, runs_output(ws)]

    ws.write_app(extra={'global': {'state_db': ini_value(url), 'state_db_password': password + 'x'}})
    done = ws.run('-vv', '--json', 'job1')
    assert done.returncode == 2
    assert 'password authentication failed' in done.stderr
    shown += [done.stdout, done.stderr, runs_output(ws, expect=2)]
    shown.append(logs_of(ws.log_dir))
    assert not [text for text in shown if password in text]

    env = {**os.environ, 'PGPASSWORD': password}      # libpq's own sources work too
    ws.write_app(extra={'global': {'state_db': ini_value(url)}})
    assert ws.run('job1', env=env).returncode == 0
    assert ws.run('job1').returncode == 2


def runs_output(ws, expect=0) -> str:
    done = subprocess.run(command_argv('runs', '-c', ws.app_cfg), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == expect, done.stderr
    return done.stdout + done.stderr


def test_lock_keys_are_stable_and_the_lock_is_shared_by_name(ws, postgres):
    """The key of a lock name is fixed (hosts and versions in a fleet must agree; it
    does not depend on Python's hash seed), and jobs naming the same lock exclude
    each other."""
    from filetransfer.state.postgres import lock_key

    probe = 'import sys; from filetransfer.state.postgres import lock_key; ' \
            'print(lock_key(sys.argv[1]))'
    done = subprocess.run([sys.executable, '-c', probe, 'nightly'], capture_output=True,
                          text=True, env={**os.environ, 'PYTHONHASHSEED': '123'}, check=True)
    assert int(done.stdout) == lock_key('nightly') == -828335674971545760
    use_database(ws, postgres)
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job('job2', job={'single_instance': 'shared'})
    with postgres.server.connect(postgres.name) as holder:
        assert holder.execute('SELECT pg_try_advisory_lock(%s)',
                              [lock_key('shared')]).fetchone()[0]
        done = ws.run('--json', 'job2')
        assert json.loads(done.stdout)['status'] == 'already_running'
    done = ws.run('--json', 'job2')
    assert json.loads(done.stdout)['status'] == 'success'

