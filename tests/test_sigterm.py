"""SIGTERM during a transfer over each protocol: exit 5, no temp file left, the lock
released, the mail sent. And the moments around it: a second SIGTERM during the
clean-up, a SIGTERM while the mail of a finished run goes out, a SIGTERM right
after a file was put in place (it must not be sent again by the next run), and a
SIGTERM while the writes to an SFTP server block (the server stopped reading)."""

import contextlib
import os
import signal
import subprocess

import pytest

import filetransfer
import filetransfer.run.job
from faults import BIG, SMALL, GatedRelay, setup_job, stop_in_the_middle
from helpers import make_files, tree
from procs import make_sparse, read_until, wait_for
from remote import sftp_host, write_hosts

CASES = [('local', 'up'), ('SFTP', 'up'), ('SFTP', 'down'), ('FTP', 'up'), ('FTP', 'down'),
         ('FTPS', 'up'), ('FTPS', 'down')]


def mail_to(ws, server, port=None):
    section = server.mail_section()
    if port:
        section['host'] = f'127.0.0.1:{port}'
    ws.write_app({'mail': section, 'notify': {'done': 'ops@example.com'}})


def terminated_in_the_middle(ws, setup) -> subprocess.Popen:
    proc = ws.popen('job1', stderr=subprocess.PIPE, text=True)
    assert stop_in_the_middle(proc, setup), 'copied too fast to catch'
    os.kill(proc.pid, signal.SIGTERM)
    os.kill(proc.pid, signal.SIGCONT)
    return proc


@pytest.mark.parametrize('protocol, direction', CASES)
def test_sigterm_exit_5_no_temp_file_lock_released_mail_sent(
        ws, tmp_path, live_sshd, ftp_server, smtpd, protocol, direction):
    setup = setup_job(ws, protocol, direction, tmp_path, sshd=live_sshd,
                      ftp_server=ftp_server, source={'delete': 'yes'})
    mail_to(ws, smtpd)
    proc = terminated_in_the_middle(ws, setup)
    assert proc.wait(timeout=60) == 5, proc.stderr.read()
    assert tree(setup.target) == SMALL                    # no temp file, no partial file
    assert sorted(os.listdir(setup.source)) == [BIG]     # the interrupted file is kept
    assert setup.lock_is_free()
    [mail] = smtpd.messages
    assert mail.subject == 'Job "job1" finished [ERROR]'
    assert '\nTerminated:\n  2 files transferred, 0 source error(s), 0 target error(s)\n' \
        in mail.text


@pytest.mark.parametrize('direction', ['up', 'down'])
def test_sigterm_during_a_fasp_transfer(ws, tmp_path, live_sshd, smtpd, direction):
    from test_fasp_jobs import fasp_host
    from helpers import write_ini

    remote = str(tmp_path / 'remote')
    write_ini(ws.hosts_cfg, {'fasp': fasp_host(live_sshd, target_rate_kbps='4000')})
    source, target = (ws.src, remote) if direction == 'up' else (remote, ws.dst)
    make_files(source, SMALL)
    make_sparse(os.path.join(source, BIG), 8 << 20)
    fasp = {'host_id': 'fasp', 'path': remote}
    # an upload is written as the server decides: this plain SSH server writes in place
    temp, written_as = ({}, BIG) if direction == 'up' else ({'temp': 'ext:.part'}, 'big.bin.part')
    ws.write_job(job={'single_instance': 'yes'},
                 source={**(fasp if direction == 'down' else {}), 'delete': 'yes'},
                 target={**(fasp if direction == 'up' else {}), **temp})
    mail_to(ws, smtpd)
    proc = ws.popen('job1')
    wait_for(lambda: os.path.exists(os.path.join(target, written_as)), proc=proc)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 5
    assert tree(target) == SMALL
    assert sorted(os.listdir(source)) == [BIG]
    assert setup_free(ws)
    [mail] = smtpd.messages
    assert mail.subject == 'Job "job1" finished [ERROR]'
    assert '\nTerminated:\n' in mail.text


def setup_free(ws) -> bool:
    from faults import Setup
    return Setup(ws, 'local', 'up', ws.src, ws.dst).lock_is_free()


@pytest.fixture
def relay(smtpd):
    relay = GatedRelay(smtpd.port)
    yield relay
    relay.stop()


def test_a_second_sigterm_does_not_cut_the_clean_up_short(ws, tmp_path, smtpd, relay):
    setup = setup_job(ws, 'local', 'up', tmp_path)
    mail_to(ws, smtpd, relay.port)
    proc = terminated_in_the_middle(ws, setup)
    try:
        assert relay.connected.wait(30)          # the run is sending its mail
        os.kill(proc.pid, signal.SIGTERM)        # and gets another SIGTERM
        relay.open()
        assert proc.wait(timeout=60) == 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    wait_for(lambda: smtpd.messages, timeout=10)
    [mail] = smtpd.messages
    assert mail.subject == 'Job "job1" finished [ERROR]'
    assert '\nTerminated:\n' in mail.text
    assert tree(setup.target) == SMALL and setup.lock_is_free()


def test_sigterm_while_the_mail_of_a_finished_run_goes_out(ws, tmp_path, smtpd, relay):
    setup = setup_job(ws, 'local', 'up', tmp_path, big=1000, job={'ready_file': 'READY'},
                      source={'delete': 'yes'})
    open(os.path.join(setup.source, 'READY'), 'w').close()
    mail_to(ws, smtpd, relay.port)
    proc = ws.popen('job1')
    try:
        assert relay.connected.wait(30)
        os.kill(proc.pid, signal.SIGTERM)
        relay.open()
        assert proc.wait(timeout=60) == 0         # everything was done: the outcome stands
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    wait_for(lambda: smtpd.messages, timeout=10)
    [mail] = smtpd.messages
    assert mail.subject == 'Job "job1" finished [OK]'
    assert os.listdir(setup.source) == [] and sorted(tree(setup.target)) == ['a.txt', 'b.txt',
                                                                              BIG]
    assert 'SIGTERM came after the transfer was complete' in ws.log_text()


@pytest.fixture
def sigterm_handler():
    """The command's SIGTERM handler in this process; the old one afterwards."""
    previous = signal.getsignal(signal.SIGTERM)
    filetransfer.set_sigterm_handler()
    yield
    signal.signal(signal.SIGTERM, previous)


def test_sigterm_right_after_a_file_was_put_in_place(ws, monkeypatch, sigterm_handler):
    """The signal (a real one, sent by the process to itself at the worst moment:
    the file renamed into place, its source not yet deleted) takes effect once the
    file is booked and its source deleted: the next run does not send it again."""
    from filetransfer.endpoints.local import LocalEndpoint

    make_files(ws.src, {'a.txt': 'A', 'b.txt': 'B', 'c.txt': 'C'})
    ws.write_job(job={'collect_data': 'yes'}, source={'delete': 'yes'},
                 target={'temp': 'dot'})
    rename = LocalEndpoint.rename

    def rename_then_sigterm(self, relpath, new_relpath):
        rename(self, relpath, new_relpath)
        if new_relpath == 'a.txt':
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(LocalEndpoint, 'rename', rename_then_sigterm)
    job = filetransfer.run.job.load(ws.app_cfg, 'job1')
    with pytest.raises(filetransfer.Terminated):
        job.run()
    assert job.report.result.files_cnt == 1 and job.report.exit_code == 5
    assert tree(ws.dst) == {'a.txt': b'A'}
    assert sorted(os.listdir(ws.src)) == ['b.txt', 'c.txt']       # a.txt was deleted
    monkeypatch.setattr(LocalEndpoint, 'rename', rename)
    result, code = filetransfer.configure(ws.app_cfg, 'job1')[0]()
    assert (code, [path for path, _, _ in result.file_list]) == (0, ['b.txt', 'c.txt'])


def test_sigterm_as_a_fasp_file_finishes_is_counted(ws, tmp_path, live_sshd, monkeypatch,
                                                     sigterm_handler):
    from filetransfer.endpoints.fasp.batch import FaspBatch
    from helpers import write_ini
    from test_fasp_jobs import fasp_host

    remote = str(tmp_path / 'remote')
    write_ini(ws.hosts_cfg, {'fasp': fasp_host(live_sshd)})
    make_files(ws.src, {'a.txt': 'A', 'b.txt': 'B', 'c.txt': 'C'})
    ws.write_job(job={'collect_data': 'yes'}, source={'delete': 'yes'},
                 target={'host_id': 'fasp', 'path': remote, 'temp': 'ext:.part'})
    handle = FaspBatch._handle

    def handle_then_sigterm(self, event, at):
        outcome = handle(self, event, at)
        if outcome is not None and outcome.path == 'a.txt':
            os.kill(os.getpid(), signal.SIGTERM)
        return outcome

    monkeypatch.setattr(FaspBatch, '_handle', handle_then_sigterm)
    job = filetransfer.run.job.load(ws.app_cfg, 'job1')
    with pytest.raises(filetransfer.Terminated):
        job.run()
    assert 'a.txt' in tree(remote) and 'a.txt' not in os.listdir(ws.src)
    assert [path for path, _, _ in job.report.result.file_list] == ['a.txt']


@pytest.mark.parametrize('args,source,code', [
    ((), None, 0), (('--json',), None, 0), (('--json',), 'missing', 2)])
def test_sigterm_right_after_the_last_log_line_keeps_the_exit_code(ws, args, source, code):
    """The run is over and logged: a SIGTERM while the command prints its JSON, closes
    down and exits must neither kill it nor change its exit code (20 tries, as the
    moment it hits varies)."""
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_app(logging={})     # the log on stderr, to see the last line come
    ws.write_job(source={'path': os.path.join(ws.root, source) if source else ws.src})
    codes = []
    for _ in range(20):
        proc = ws.popen(*args, 'job1', stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            read_until(proc.stderr, f'(exit code {code})')
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert b'Traceback' not in err, err.decode()
        if args:
            assert f'"exit_code": {code}' in out.decode()
        codes.append(proc.returncode)
    assert codes == [code] * 20


# -- a server that stopped reading ---------------------------------------------------

def unchanged_for_a_while(measure):
    """A predicate for wait_for (interval 0.1 s): true once ``measure()`` is above 0
    and the same over the last 10 calls (nothing moves any more)."""
    seen = []

    def check():
        seen.append(measure())
        return len(seen) >= 10 and seen[-1] > 0 and len(set(seen[-10:])) == 1
    return check


def test_sigterm_while_a_paramiko_upload_is_blocked_ends_the_run(ws, tmp_path):
    """The server takes no more data: the job's socket is full and its writes
    wait. A SIGTERM ends the run (exit 5), and the partial file is removed over a
    new connection; the blocked one is dropped without waiting for anything."""
    from servers.paramiko_sftp import PlainSftpServer

    served = tmp_path / 'served'
    served.mkdir()
    # a window larger than any network buffer: the socket fills before the window
    server = PlainSftpServer(str(tmp_path), str(served), window=1 << 30)
    proc = None
    try:
        write_hosts(ws, srv={'type': 'SFTP', 'host': f'127.0.0.1:{server.port}',
                             'user': server.user, 'password': server.password,
                             'known_hosts': server.known_hosts, 'timeout': '30',
                             'transport': 'paramiko'})
        make_files(ws.src, SMALL)
        make_sparse(os.path.join(ws.src, BIG), 1 << 30)
        ws.write_job(job={'single_instance': 'yes'},
                     target={'host_id': 'srv', 'path': '/data', 'temp': 'dot'})
        proc = ws.popen('job1', stderr=subprocess.PIPE, text=True)
        partial = served / 'data' / f'.{BIG}'
        assert wait_for(lambda: partial.exists() and partial.stat().st_size > 0, proc=proc,
                        timeout=60), proc.stderr.read()
        server.stall()
        wait_for(unchanged_for_a_while(
            lambda: sum(connection.unread() for connection in server.connections
                        if connection.stalled.is_set())), timeout=60, interval=0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 5, proc.stderr.read()
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        server.stop()
    assert tree(served / 'data') == SMALL
    assert setup_free(ws)


def test_sigterm_while_the_ssh_pipe_is_full_ends_the_run(ws, tmp_path, live_sshd):
    """The same over OpenSSH's ssh: the server's session is frozen, so ssh stops
    reading what the job writes into its pipe."""
    from servers.process import descendants

    remote = tmp_path / 'remote'
    write_hosts(ws, srv=sftp_host(live_sshd, transport='openssh'))
    make_files(ws.src, SMALL)
    make_sparse(os.path.join(ws.src, BIG), 1 << 30)
    ws.write_job(job={'single_instance': 'yes'},
                 target={'host_id': 'srv', 'path': str(remote), 'temp': 'dot'})
    proc = ws.popen('job1', stderr=subprocess.PIPE, text=True)
    frozen = []
    try:
        partial = remote / f'.{BIG}'
        assert wait_for(lambda: partial.exists() and partial.stat().st_size > 0, proc=proc,
                        timeout=60), proc.stderr.read()
        frozen = live_sshd.sessions()
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        [ssh] = [pid for pid in descendants(proc.pid) if _name(pid) == 'ssh']
        wait_for(unchanged_for_a_while(lambda: _pipe_bytes(ssh)), timeout=60, interval=0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 5, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert tree(remote) == SMALL
    assert setup_free(ws)


def _name(pid: int) -> str:
    with open(f'/proc/{pid}/comm') as fh:
        return fh.read().strip()


def _pipe_bytes(pid: int) -> int:
    """The bytes waiting in the pipe a process reads as its standard input."""
    import fcntl
    import struct
    import termios

    with open(f'/proc/{pid}/fd/0', 'rb', buffering=0) as pipe:
        raw = fcntl.ioctl(pipe.fileno(), termios.FIONREAD, b'\0' * 4)
    return struct.unpack('i', raw)[0]
