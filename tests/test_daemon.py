"""The daemon, started for real through the command as a detached process (or
in the foreground), driven by files, config edits and signals."""

import os
import re
import signal
import subprocess
import sys

import pytest

from filetransfer.service.pidfile import running_pid
from helpers import command_argv, make_files, tree, write_ini
from procs import make_dense, read_until, wait_for

INTERVAL = '0.2'


class Hot:
    """A workspace whose application config has a [daemon] section."""

    def __init__(self, ws):
        self.ws = ws
        self.pidfile = os.path.join(ws.root, 'run', 'daemon.pid')
        self.daemon_log = os.path.join(ws.log_dir, 'daemon.log')
        write_ini(ws.hosts_cfg, {})
        self.configure()

    def configure(self, jobs='*', logging=None, **options):
        logging = {'log_dir': self.ws.log_dir, 'log_level': 'DEBUG'} if logging is None \
            else logging
        daemon = {'jobs': jobs, 'interval': INTERVAL, 'pidfile': self.pidfile, **options}
        self.ws.write_app({'daemon': daemon}, logging=logging)

    def command(self, *args, timeout=60):
        return subprocess.run(command_argv('daemon', '-c', self.ws.app_cfg, *args),
                              capture_output=True, text=True, timeout=timeout, cwd=self.ws.root)

    def start(self) -> int:
        done = self.command()
        assert (done.returncode, done.stderr) == (0, ''), done.stderr
        pid = int(re.fullmatch(r'filetransfer daemon started \(pid (\d+)\)\n', done.stdout)[1])
        assert running_pid(self.pidfile) == pid   # the pidfile is there when start returns
        return pid

    def log(self) -> str:
        try:
            with open(self.daemon_log, encoding='utf-8') as fh:
                return fh.read()
        except FileNotFoundError:
            return ''

    def wait_log(self, text, count=1):
        wait_for(lambda: self.log().count(text) >= count, timeout=30)

    def wait_scans(self, more=2):
        """Waits until ``more`` scans have started after now."""
        now = self.log().count(' scan ')
        wait_for(lambda: self.log().count(' scan ') >= now + more, timeout=30)

    def kill_leftover(self):
        """After a failed test: no daemon and no job process may outlive it."""
        pid = running_pid(self.pidfile)
        if pid:
            for child in _children(pid):
                os.kill(child, signal.SIGKILL)
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def hot(ws):
    hot = Hot(ws)
    yield hot
    hot.kill_leftover()


def _alive(pid) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f'/proc/{pid}/stat') as fh:
        return fh.read().rsplit(')', 1)[1].split()[0] != 'Z'


def _proc_stat(pid):
    with open(f'/proc/{pid}/stat') as fh:
        fields = fh.read().rsplit(')', 1)[1].split()
    return {'ppid': int(fields[1]), 'pgid': int(fields[2]), 'sid': int(fields[3]),
            'tty': int(fields[4])}


def _children(pid) -> list[int]:
    with open(f'/proc/{pid}/task/{pid}/children') as fh:
        return [int(child) for child in fh.read().split()]


def test_start_status_second_start_stop(hot):
    ws = hot.ws
    hot.configure(jobs='job1')
    ws.write_job('job1', job={'ready_file': 'READY'})
    pid = hot.start()
    stat = _proc_stat(pid)
    assert stat['ppid'] != os.getpid() and stat['sid'] != os.getsid(0) and stat['tty'] == 0
    assert stat['sid'] != pid   # not a session leader: it cannot get a terminal back
    assert os.readlink(f'/proc/{pid}/cwd') == ws.root
    with open(f'/proc/{pid}/status') as fh:
        assert 'Umask:\t0022\n' in fh.read()
    fds = {int(fd): os.readlink(f'/proc/{pid}/fd/{fd}') for fd in os.listdir(f'/proc/{pid}/fd')}
    assert fds == {0: '/dev/null', 1: '/dev/null', 2: '/dev/null', **{
        fd: path for fd, path in fds.items() if path in (hot.pidfile, hot.daemon_log)}}
    assert len(fds) == 5
    with open(hot.pidfile) as fh:
        assert fh.read() == f'{pid}\n'

    done = hot.command('--status')
    assert (done.returncode, done.stdout) == (0, f'filetransfer daemon is running (pid {pid})\n')
    done = hot.command()
    assert done.returncode == 0 and done.stdout == ''
    assert f'already running (pid {pid}); nothing changed' in done.stderr
    assert running_pid(hot.pidfile) == pid
    assert f'daemon started (pid {pid}): jobs job1, scan every 0.2 s' in hot.log()

    done = hot.command('--stop')
    assert (done.returncode, done.stdout) == (0, f'filetransfer daemon stopped (pid {pid})\n')
    assert not os.path.exists(hot.pidfile)
    wait_for(lambda: not _alive(pid), timeout=10)
    assert hot.log().rstrip().endswith('daemon stopped')
    done = hot.command('--status')
    assert (done.returncode, done.stdout) == (1, 'filetransfer daemon is not running\n')
    done = hot.command('--stop')
    assert (done.returncode, done.stdout) == (0, 'filetransfer daemon is not running\n')


def _slow_to_exit_daemon(hot, seconds) -> subprocess.Popen:
    """A foreground daemon whose process lingers ``seconds`` after it released its
    pidfile (as one does that is slow to flush its output at exit)."""
    code = ('import atexit, sys, time\n'
            f'atexit.register(time.sleep, {seconds})\n'
            'from filetransfer.cli.main import main\n'
            'main(sys.argv[1:])\n')
    proc = subprocess.Popen([sys.executable, '-c', code, 'daemon', '-c', hot.ws.app_cfg,
                             '--foreground'], cwd=hot.ws.root, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: running_pid(hot.pidfile) == proc.pid, timeout=30, proc=proc)
    return proc


def test_stop_says_stopped_once_the_process_has_exited(hot):
    hot.ws.write_job('job1', job={'ready_file': 'READY'})
    hot.configure(jobs='job1')
    proc = _slow_to_exit_daemon(hot, 3)
    try:
        done = hot.command('--stop')
        assert (done.returncode, done.stdout) == (0, f'filetransfer daemon stopped (pid {proc.pid})\n')
        assert proc.poll() == 0        # it had exited when --stop said so
    finally:
        proc.kill()
        proc.wait()


def test_stop_says_so_when_the_process_does_not_exit_in_time(hot):
    from filetransfer.errors import Error
    from filetransfer.service import daemon

    hot.ws.write_job('job1', job={'ready_file': 'READY'})
    hot.configure(jobs='job1')
    proc = _slow_to_exit_daemon(hot, 120)
    try:
        with pytest.raises(Error) as raised:
            daemon.stop(hot.ws.app_cfg, timeout=5)
        assert str(raised.value) == (f'the daemon (pid {proc.pid}) released its pidfile but has '
                                     'not exited 5 s after SIGTERM')
        assert proc.poll() is None and running_pid(hot.pidfile) is None
    finally:
        proc.kill()
        proc.wait()


def test_files_wait_for_the_ready_file(hot):
    ws = hot.ws
    ws.write_job('hot', job={'ready_file': 'READY'}, target={'temp': 'dot'})
    hot.start()
    files = {'a.txt': os.urandom(1000), 'b.txt': b'bbb'}
    make_files(ws.src, files)
    before = hot.log().count('job hot: nothing to do')
    hot.wait_log('job hot: nothing to do', before + 2)   # two looks after the drop
    assert not os.path.exists(ws.dst)
    assert ws.log_files('hot') == []   # scans without work leave no job log
    make_files(ws.src, {'READY': ''})
    wait_for(lambda: not os.path.exists(os.path.join(ws.src, 'READY')), timeout=30)
    assert tree(ws.dst) == files and tree(ws.src) == files
    hot.wait_log('job hot finished (exit code 0)')
    [log_file] = ws.log_files('hot')
    assert 'job hot finished: 2 file(s) transferred' in open(log_file).read()


def test_broken_and_failing_jobs_do_not_stop_the_daemon(hot):
    ws = hot.ws
    ws.write_job('good', job={'ready_file': 'READY'})
    pid = hot.start()
    hot.wait_scans()
    broken = ws.write_job('broken', source={'recursive': 'maybe', 'delete': 'yes'})
    problem = f"job broken not run: {broken}: [source] recursive: expected yes/no, got 'maybe'"
    hot.wait_log(problem)
    hot.wait_scans(3)
    assert hot.log().count(problem) == 1   # logged once, not at every scan
    assert 'exit code 3' in ws.log_text('broken')   # reported like any broken job
    assert hot.command('--status').returncode == 0

    later = os.path.join(ws.root, 'later')   # a job failing until its source appears
    ws.write_job('failing', job={'ready_file': 'READY'}, source={'path': later},
                 target={'path': os.path.join(ws.root, 'out2')})
    hot.wait_log('job failing failed (exit code 2); tried again in 0.2 s')
    hot.wait_log('job failing failed (exit code 2); tried again in 0.4 s')
    make_files(later, {'late.txt': 'L', 'READY': ''})
    wait_for(lambda: tree(os.path.join(ws.root, 'out2')) == {'late.txt': b'L'}, timeout=30)

    ws.write_job('broken', source={'delete': 'yes', 'path': os.path.join(ws.root, 'in3')},
                 target={'path': os.path.join(ws.root, 'out3')})
    hot.wait_log('job broken: the problem is gone')
    make_files(ws.src, {'g.txt': 'G', 'READY': ''})
    wait_for(lambda: tree(ws.dst) == {'g.txt': b'G'}, timeout=30)
    assert running_pid(hot.pidfile) == pid and _alive(pid)


def test_jobs_without_ready_file_run_when_files_arrive(hot):
    ws = hot.ws
    hot.configure(jobs='mover, keeper')
    ws.write_job('mover', source={'delete': 'yes'})
    ws.write_job('keeper', source={'path': os.path.join(ws.root, 'k')})
    hot.start()
    hot.wait_log('job keeper not run: ')
    assert 'every scan sends the same files again' in hot.log()
    hot.wait_scans()
    assert ws.log_files('mover') == []
    make_files(ws.src, {'x.bin': os.urandom(5000)})
    wait_for(lambda: 'x.bin' in tree(ws.dst) and not os.listdir(ws.src), timeout=30)
    hot.wait_log('job mover finished (exit code 0)')


def test_sighup_reloads_the_configuration(hot):
    ws = hot.ws
    hot.configure(jobs='job1')
    ws.write_job('job1', job={'ready_file': 'READY'})
    in2 = os.path.join(ws.root, 'in2')
    ws.write_job('job2', job={'ready_file': 'READY'}, source={'path': in2},
                 target={'path': os.path.join(ws.root, 'o2')})
    make_files(ws.src, {'f.txt': 'F', 'READY': ''})
    make_files(in2, {'f.txt': 'F', 'READY': ''})
    pid = hot.start()
    wait_for(lambda: tree(ws.dst) == {'f.txt': b'F'}, timeout=30)
    hot.wait_scans(3)
    assert not os.path.exists(os.path.join(ws.root, 'o2'))   # job2 is not listed

    write_ini(ws.app_cfg, '[global]\njobs_dir = nowhere\n[daemon]\njobs = job1\n')
    os.kill(pid, signal.SIGHUP)
    hot.wait_log('reload failed, the configuration in use stays: ')
    assert '[daemon] pidfile: required option is missing' in hot.log()

    hot.configure(jobs='job1, job2')
    os.kill(pid, signal.SIGHUP)
    hot.wait_log('configuration reloaded: jobs job1, job2')
    wait_for(lambda: tree(os.path.join(ws.root, 'o2')) == {'f.txt': b'F'}, timeout=30)
    assert running_pid(hot.pidfile) == pid


def test_sigterm_during_a_file_cleans_up(hot):
    ws = hot.ws
    ws.write_job('big', job={'ready_file': 'READY', 'single_instance': 'yes'},
                 target={'temp': 'ext:.part'})
    partial, final = (os.path.join(ws.dst, name) for name in ('big.bin.part', 'big.bin'))
    pid = hot.start()
    for size in (256 << 20, 1 << 30):
        make_dense(os.path.join(ws.src, 'big.bin'), size)
        make_files(ws.src, {'READY': ''})
        wait_for(lambda: os.path.exists(partial) or os.path.exists(final), timeout=30)
        children = _children(pid)
        for child in children:
            os.kill(child, signal.SIGSTOP)
        if children and not os.path.exists(final):
            break
        for child in children:
            os.kill(child, signal.SIGCONT)
        wait_for(lambda: 'READY' not in os.listdir(ws.src), timeout=60)
        os.unlink(final)
    else:
        pytest.fail('the copy was too fast to interrupt')
    [child] = children
    stopper = subprocess.Popen(command_argv('daemon', '-c', ws.app_cfg, '--stop'),
                               stdout=subprocess.PIPE, text=True, cwd=ws.root)
    hot.wait_log('stopping on SIGTERM')
    os.kill(child, signal.SIGCONT)
    assert stopper.wait(timeout=60) == 0
    assert stopper.stdout.read() == f'filetransfer daemon stopped (pid {pid})\n'
    assert not os.path.exists(partial) and not os.path.exists(final)
    assert not os.path.exists(hot.pidfile)
    assert os.path.getsize(os.path.join(ws.src, 'big.bin')) == size
    assert 'READY' in os.listdir(ws.src)
    log = hot.log()
    assert 'waiting for 1 running job(s) to clean up and end' in log
    assert 'job big was terminated (exit code 5)' in log
    assert 'job big terminated: terminated by signal SIGTERM' in ws.log_text('big')
    done = ws.run('big')   # the lock was released
    assert done.returncode == 0 and os.path.getsize(final) == size


def test_stale_pidfile_is_replaced(hot):
    ws = hot.ws
    ws.write_job('job1', job={'ready_file': 'READY'})
    dead = subprocess.Popen(['true'])
    dead.wait()
    make_files(os.path.dirname(hot.pidfile), {'daemon.pid': f'{dead.pid}\n'})
    done = hot.command('--status')
    assert (done.returncode, done.stdout) == (1, 'filetransfer daemon is not running\n')
    make_files(os.path.dirname(hot.pidfile), {'daemon.pid': f'{os.getpid()}\n'})
    assert hot.command('--status').returncode == 1   # a live pid, but not holding the file
    pid = hot.start()
    assert pid != os.getpid()
    assert f'replaced a stale pidfile (pid {os.getpid()} is not running)' in hot.log()
    assert hot.command('--stop').returncode == 0


def test_foreground_logs_to_stderr_and_exits_0_on_sigterm(hot):
    ws = hot.ws
    hot.configure(jobs='job1', logging={})
    ws.write_job('job1', job={'ready_file': 'READY'})
    done = hot.command()
    assert done.returncode == 3
    assert f'{ws.app_cfg}: [logging] log_dir: required to run the daemon detached' in done.stderr
    proc = subprocess.Popen(command_argv('daemon', '-c', ws.app_cfg, '--foreground'),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ws.root)
    try:
        shown = read_until(proc.stderr, f'daemon started (pid {proc.pid}): jobs job1')
        assert hot.command('--status').stdout == f'filetransfer daemon is running (pid {proc.pid})\n'
        make_files(ws.src, {'a.txt': 'A', 'READY': ''})
        shown += read_until(proc.stderr, 'job job1 finished (exit code 0)')
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    shown += proc.stderr.read().decode()
    assert 'job job1 (job1) started' in shown
    assert shown.rstrip().endswith('daemon stopped') and proc.stdout.read() == b''
    assert tree(ws.dst) == {'a.txt': b'A'}
    assert not os.path.exists(hot.pidfile)


@pytest.mark.parametrize('daemon,expected', [
    (None, '[daemon]: required section is missing'),
    ({'jobs': 'job1'}, '[daemon] pidfile: required option is missing'),
    ({'pidfile': 'x.pid'}, '[daemon] jobs: required option is missing'),
    ({'jobs': 'a, *', 'pidfile': 'x.pid'}, "[daemon] jobs: expected job ids or '*' alone"),
    ({'jobs': 'a', 'pidfile': 'x.pid', 'interval': '-1'}, '[daemon] interval: expected a '
                                                           "number > 0, got '-1'"),
])
def test_config_errors_exit_3(ws, daemon, expected):
    ws.write_app({'daemon': daemon} if daemon else None)
    for args in ((), ('--status',), ('--stop',), ('--foreground',)):
        done = subprocess.run(command_argv('daemon', '-c', ws.app_cfg, *args),
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 3
        assert done.stderr.startswith(f'filetransfer: {ws.app_cfg}: {expected}')
        assert done.stderr.count('\n') == 1


def test_unusable_pidfile_exit_3(hot):
    ws = hot.ws
    make_files(ws.root, {'file': ''})
    hot.configure(pidfile=os.path.join(ws.root, 'file', 'd.pid'))
    done = hot.command()
    assert done.returncode == 3
    assert f'{ws.app_cfg}: [daemon] pidfile: cannot read ' in done.stderr
    assert done.stderr.rstrip().endswith('Not a directory')


def test_usage_errors_exit_4(ws):
    done = subprocess.run(command_argv('daemon', '-c', ws.app_cfg, '--status', '--stop'),
                          capture_output=True, text=True)
    assert done.returncode == 4 and 'exclude each other' in done.stderr
    env = {k: v for k, v in os.environ.items() if k != 'FILETRANSFER_CFG'}
    done = subprocess.run(command_argv('daemon'), capture_output=True, text=True, env=env)
    assert done.returncode == 4 and 'use -c CONFIG' in done.stderr


def test_pidfile_and_log_directories_it_makes_are_private(hot):
    ws = hot.ws
    hot.pidfile = os.path.join(ws.root, 'run', 'ft', 'daemon.pid')
    hot.configure(jobs='job1')
    ws.write_job('job1', job={'ready_file': 'READY'})
    hot.start()
    done = hot.command('--stop')
    assert done.returncode == 0, done.stderr
    made = [os.path.join(ws.root, 'run'), os.path.dirname(hot.pidfile), ws.log_dir]
    assert {path: os.stat(path).st_mode & 0o777 for path in made} == \
        {path: 0o700 for path in made}
