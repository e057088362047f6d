"""Jobs through the real command: exit codes, temp files, delete, ready file,
single instance, SIGTERM, retries."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from helpers import command_argv, make_files, tree, write_ini
from procs import make_dense, stop_while_writing


def test_success_exit_0_and_files_identical(ws):
    files = {'a.txt': os.urandom(100_000), 'b.txt': b'', 'c.bin': os.urandom(3_000_001)}
    make_files(ws.src, files)
    ws.write_job()
    done = ws.run('job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert tree(ws.dst) == files
    assert tree(ws.src) == files


def test_file_errors_exit_1_and_the_job_goes_on(ws):
    make_files(ws.src, {'a.txt': 'A', 'b.txt': 'B', 'c.txt': 'C'})
    os.makedirs(os.path.join(ws.dst, 'b.txt'))   # a directory where the file must go
    ws.write_job()
    done = ws.run('-v', 'job1')
    assert done.returncode == 1
    assert done.stdout == ('Job finished: 2 file(s) transferred, 0 source error(s), '
                           '1 target error(s)\n')
    assert tree(ws.dst) == {'a.txt': b'A', 'c.txt': b'C'}
    assert 'target error: b.txt: Is a directory' in ws.log_text()


def test_failure_exit_2(ws):
    ws.write_job(source={'path': os.path.join(ws.root, 'missing')})
    done = ws.run('job1')
    assert (done.returncode, done.stderr) == (2, '')
    done = ws.run('-v', 'job1')
    assert done.returncode == 2
    assert done.stderr.strip().endswith('does not exist')
    assert 'Traceback' not in done.stderr
    assert 'source directory' in ws.log_text() and 'exit code 2' in ws.log_text()


@pytest.mark.parametrize('args', [[], ['a', 'b'], ['--nope', 'job1'], ['-v', '-c'], [''],
                                  ['--', '']])
def test_usage_errors_exit_4(ws, args):
    done = subprocess.run(command_argv(*args), capture_output=True, text=True,
                          env={**os.environ, 'FILETRANSFER_CFG': ws.app_cfg})
    assert done.returncode == 4
    assert 'Usage:' in done.stderr and 'Traceback' not in done.stderr


def test_missing_config_is_a_configuration_error(ws):
    env = {k: v for k, v in os.environ.items() if k != 'FILETRANSFER_CFG'}
    done = subprocess.run(command_argv('job1'), capture_output=True, text=True, env=env)
    assert done.returncode == 3
    assert 'use -c CONFIG or set FILETRANSFER_CFG' in done.stderr


def test_config_from_environment(ws):
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job()
    done = subprocess.run(command_argv('job1'), capture_output=True, text=True,
                          env={**os.environ, 'FILETRANSFER_CFG': ws.app_cfg})
    assert done.returncode == 0 and tree(ws.dst) == {'a.txt': b'A'}


def test_help_and_version():
    done = subprocess.run(command_argv('-h'), capture_output=True, text=True)
    assert done.returncode == 0 and 'JOBID' in done.stdout and 'Exit codes' in done.stdout
    done = subprocess.run(command_argv('-V'), capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith('filetransfer ')


def test_internal_error_exit_9_one_line_and_trace_with_vv(ws, tmp_path):
    """An unexpected exception inside the library (injected with sitecustomize)."""
    hook = tmp_path / 'hook'
    hook.mkdir()
    (hook / 'sitecustomize.py').write_text(textwrap.dedent('''
        import filetransfer.run.copier
        def broken(self, *args, **kwargs):
            raise RuntimeError('injected bug')
        filetransfer.run.copier.Copier.run = broken
        '''))
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job()
    env = {**os.environ, 'PYTHONPATH': str(hook)}
    done = ws.run('job1', env=env)
    assert done.returncode == 9
    assert done.stderr.strip() == 'filetransfer: internal error: RuntimeError: injected bug'
    done = ws.run('-vv', 'job1', env=env)
    assert done.returncode == 9 and 'Traceback' in done.stderr
    assert 'unexpected error: RuntimeError: injected bug' in ws.log_text()


@pytest.mark.parametrize('temp,temp_name', [('dot', '.big.bin'), ('ext:.part', 'big.bin.part'),
                                            ('dir:.incoming', '.incoming/big.bin')])
def test_temp_modes_leave_only_final_files(ws, temp, temp_name):
    files = {'big.bin': os.urandom(2_000_000), 'sub/small.txt': b'small'}
    make_files(ws.src, files)
    ws.write_job(source={'recursive': 'yes'}, target={'temp': temp})
    done = ws.run('job1')
    assert done.returncode == 0
    assert tree(ws.dst) == files


def test_sigterm_mid_copy_exit_5_no_partial_file_lock_released(ws):
    """SIGTERM while a large file is written under its temp name."""
    for size in (256 << 20, 1 << 30):
        make_dense(os.path.join(ws.src, 'big.bin'), size)
        ws.write_job(job={'single_instance': 'yes'}, target={'temp': 'ext:.part'})
        proc = ws.popen('job1', stderr=subprocess.PIPE, text=True)
        partial, final = (os.path.join(ws.dst, name) for name in ('big.bin.part', 'big.bin'))
        if stop_while_writing(proc, partial, final):
            break
        proc.wait()
        os.unlink(final)
    else:
        pytest.fail('the copy was too fast to interrupt')
    assert not os.path.exists(final)
    proc.send_signal(signal.SIGTERM)
    os.kill(proc.pid, signal.SIGCONT)
    assert proc.wait(timeout=60) == 5
    assert not os.path.exists(partial) and not os.path.exists(final)
    assert os.path.getsize(os.path.join(ws.src, 'big.bin')) == size
    log = ws.log_text()
    assert 'job job1 terminated: terminated by signal SIGTERM' in log
    assert 'exit code 5' in log
    done = ws.run('job1')   # the lock was released: the next run transfers the file
    assert done.returncode == 0 and os.path.getsize(final) == size


def test_sigint_is_terminated_too(ws):
    make_dense(os.path.join(ws.src, 'big.bin'), 1 << 30)
    ws.write_job(target={'temp': 'dot'})
    proc = ws.popen('job1')
    if not stop_while_writing(proc, os.path.join(ws.dst, '.big.bin'),
                              os.path.join(ws.dst, 'big.bin')):
        pytest.fail('the copy was too fast to interrupt')
    proc.send_signal(signal.SIGINT)
    os.kill(proc.pid, signal.SIGCONT)
    assert proc.wait(timeout=60) == 5
    assert tree(ws.dst) == {}


def test_second_instance_exits_0_quietly_while_the_first_runs(ws):
    make_dense(os.path.join(ws.src, 'big.bin'), 512 << 20)
    ws.write_job(job={'single_instance': 'yes'}, target={'temp': 'dot'})
    first = ws.popen('job1')
    if not stop_while_writing(first, os.path.join(ws.dst, '.big.bin'),
                              os.path.join(ws.dst, 'big.bin')):
        pytest.fail('the copy was too fast to interrupt')
    try:
        second = ws.run('-v', 'job1', timeout=30)
    finally:
        os.kill(first.pid, signal.SIGCONT)
    assert second.returncode == 0
    assert "lock 'job1' is held by another running instance" in second.stderr
    assert first.wait(timeout=60) == 0
    assert os.path.getsize(os.path.join(ws.dst, 'big.bin')) == 512 << 20
    assert ws.run('job1').returncode == 0


def test_named_lock_is_shared_between_jobs(ws):
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job('job2', job={'single_instance': 'shared'})
    holder = subprocess.Popen(
        [sys.executable, '-c', textwrap.dedent(f'''
            import sys, filelock
            lock = filelock.FileLock({os.path.join(ws.locks_dir, 'shared.lock')!r})
            lock.acquire()
            print('locked', flush=True)
            sys.stdin.read()
            ''')], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        os.makedirs(ws.locks_dir, exist_ok=True)
        assert holder.stdout.readline().strip() == 'locked'
        done = ws.run('job2')
        assert (done.returncode, done.stderr) == (0, '')
        assert not os.path.exists(ws.dst)
    finally:
        holder.stdin.close()
        holder.wait()
    assert ws.run('job2').returncode == 0 and tree(ws.dst) == {'a.txt': b'A'}


def test_ready_file_missing_exit_0_nothing_written(ws):
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job(job={'ready_file': 'READY'})
    done = ws.run('job1')
    assert (done.returncode, done.stdout, done.stderr) == (0, '', '')
    assert not os.path.exists(ws.dst)
    assert ws.log_files() == []   # a cron job polling every minute leaves no log files
    done = ws.run('-v', 'job1')
    assert done.returncode == 0 and 'ready file READY not present' in done.stderr


def test_ready_file_not_transferred_and_deleted_after_success(ws):
    make_files(ws.src, {'a.txt': 'A', 'READY': ''})
    ws.write_job(job={'ready_file': 'READY'})
    assert ws.run('job1').returncode == 0
    assert tree(ws.dst) == {'a.txt': b'A'}
    assert tree(ws.src) == {'a.txt': b'A'}


def test_ready_file_kept_when_the_job_had_errors(ws):
    make_files(ws.src, {'a.txt': 'A', 'b.txt': 'B', 'READY': ''})
    os.makedirs(os.path.join(ws.dst, 'b.txt'))
    ws.write_job(job={'ready_file': 'READY'})
    assert ws.run('job1').returncode == 1
    assert 'READY' in tree(ws.src)


def test_delete_only_transferred_files(ws):
    make_files(ws.src, {'a.txt': 'A', 'bad.txt': 'B', 'sub/c.txt': 'C'})
    os.makedirs(os.path.join(ws.dst, 'bad.txt'))
    ws.write_job(source={'delete': 'yes', 'recursive': 'yes'}, target={'temp': 'dot'})
    assert ws.run('job1').returncode == 1
    assert tree(ws.src) == {'bad.txt': b'B'}
    assert tree(ws.dst) == {'a.txt': b'A', 'sub/c.txt': b'C'}


def test_delete_never_happens_when_the_target_rename_fails(ws):
    """The temp file is written, but the final name is taken by a directory."""
    make_files(ws.src, {'a.txt': 'A'})
    os.makedirs(os.path.join(ws.dst, 'a.txt', 'inside'))
    ws.write_job(source={'delete': 'yes'}, target={'temp': 'ext:.tmp'})
    assert ws.run('job1').returncode == 1
    assert tree(ws.src) == {'a.txt': b'A'}
    assert not os.path.exists(os.path.join(ws.dst, 'a.txt.tmp'))


def test_retries_after_a_failure_until_the_source_appears(ws):
    """stderr logging: the test fixes the problem when it reads the retry line."""
    ws.write_app(logging={})
    missing = os.path.join(ws.root, 'later')
    ws.write_job(job={'retries': '2'}, source={'path': missing})
    proc = ws.popen('job1', stderr=subprocess.PIPE, text=True)
    first = proc.stderr.readline()
    assert 'try 1 of 3 failed' in first and 'trying again in 1 s' in first
    make_files(missing, {'a.txt': 'A'})
    rest = proc.stderr.read()
    assert proc.wait(timeout=30) == 0
    assert 'job job1 finished: 1 file(s) transferred' in rest
    assert tree(ws.dst) == {'a.txt': b'A'}


def test_no_retry_for_configuration_errors(ws):
    ws.write_app(logging={})
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job(job={'retries': '3'}, target={'path': ws.src})
    done = ws.run('job1', timeout=20)
    assert done.returncode == 3
    assert 'same directory' in done.stderr and 'trying again' not in done.stderr


def test_logging_files_format_level_and_lines(ws):
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job(job={'name': 'Daily export'})
    assert ws.run('job1').returncode == 0
    [path] = ws.log_files()
    assert os.path.basename(path).endswith('.log')
    assert os.stat(path).st_mode & 0o777 == 0o600
    text = open(path).read()
    assert f'job job1 (Daily export) started: {ws.src} -> {ws.dst}' in text
    assert 'transferred a.txt (1 bytes' in text
    assert 'job job1 finished: 1 file(s) transferred, 0 source error(s), 0 target error(s) in ' \
        in text and '(exit code 0)' in text
    assert ' INFO     ' in text   # the default msg_format


def test_logging_options(ws):
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_app(logging={'log_dir': ws.log_dir, 'use_subdirs': 'no',
                          'msg_format': '%(levelname)s|%(name)s|%(message)s',
                          'log_level': 'WARNING'})
    ws.write_job(job={'log_level': 'DEBUG'})
    assert ws.run('job1').returncode == 0
    [name] = os.listdir(ws.log_dir)
    assert name.startswith('job1_') and name.endswith('.log')
    text = open(os.path.join(ws.log_dir, name)).read()
    assert 'DEBUG|filetransfer.run.copier|1 file(s) selected' in text
    ws.write_job(job={'log_disabled': 'yes'})
    os.unlink(os.path.join(ws.log_dir, name))
    assert ws.run('job1').returncode == 0
    assert os.listdir(ws.log_dir) == []
    ws.write_app(logging={'log_dir': ws.log_dir, 'disabled': 'yes'})
    ws.write_job()
    assert ws.run('job1').returncode == 0
    assert os.listdir(ws.log_dir) == []


def test_stderr_logging_when_no_log_dir(ws):
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_app(logging={})
    ws.write_job()
    done = ws.run('job1')
    assert done.returncode == 0
    assert 'job job1 finished' in done.stderr


def test_broken_job_file_is_logged(ws):
    ws.write_job(target={'temp': 'bogus'})
    done = ws.run('job1')
    assert done.returncode == 3 and '[target] temp: expected dot' in done.stderr
    assert '[target] temp: expected dot' in ws.log_text() and 'exit code 3' in ws.log_text()


def test_unknown_job_exit_3(ws):
    done = ws.run('nosuchjob')
    assert done.returncode == 3 and 'no such job file' in done.stderr


def test_sibling_hosts_file_problems_do_not_matter_for_local_jobs(ws):
    write_ini(ws.hosts_cfg, 'not an ini file')
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job()
    assert ws.run('job1').returncode == 0


def mode_of(path) -> int:
    return os.stat(path).st_mode & 0o777


def test_directories_the_job_makes_are_private(ws):
    var = os.path.join(ws.root, 'var')
    os.mkdir(var, 0o755)
    os.chmod(var, 0o755)                       # there already: left as it is
    log_dir, locks_dir = os.path.join(var, 'log', 'ft'), os.path.join(var, 'lock', 'ft')
    ws.write_app({'global': {'locks_dir': locks_dir}},
                 logging={'log_dir': log_dir, 'use_subdirs': 'yes'})
    ws.write_job(job={'single_instance': 'yes'})
    make_files(ws.src, {'a.txt': 'A'})
    umask = os.umask(0o022)
    try:
        done = ws.run('job1')
    finally:
        os.umask(umask)
    assert (done.returncode, done.stderr) == (0, '')
    made = [os.path.join(var, 'log'), log_dir, os.path.join(log_dir, 'job1'),
            os.path.join(var, 'lock'), locks_dir]
    assert {path: mode_of(path) for path in made} == {path: 0o700 for path in made}
    assert mode_of(var) == 0o755
    [log_file] = os.listdir(os.path.join(log_dir, 'job1'))
    assert mode_of(os.path.join(log_dir, 'job1', log_file)) == 0o600
