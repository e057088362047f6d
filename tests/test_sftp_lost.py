"""An SFTP server that goes away in the middle of a file sent or fetched, over both
transports: the try fails (exit 2) and its error says that the server closed the
connection (or reset it), never a bare EOFError or an empty reason."""

import os
import pathlib
import signal
import subprocess

import pytest

from faults import json_result
from procs import make_sparse, wait_for
from remote import sftp_host, write_hosts
from servers.paramiko_sftp import PlainSftpServer


def run_until_partial(ws, partial, go_away, source=None) -> subprocess.CompletedProcess:
    """Runs the job, which copies a big file from ``source`` (ws.src when None);
    calls ``go_away()`` once ``partial`` holds a MiB."""
    make_sparse(os.path.join(source or ws.src, 'big.bin'), 1 << 30)
    proc = ws.popen('--json', 'job1', stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    text=True)
    try:
        assert wait_for(lambda: partial.exists() and partial.stat().st_size >= 1 << 20,
                        proc=proc, timeout=60), 'copied too fast to catch'
        go_away()
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_paramiko_transport(ws, tmp_path):
    served = tmp_path / 'served'
    served.mkdir()
    server = PlainSftpServer(str(tmp_path), str(served))
    try:
        write_hosts(ws, srv={'type': 'SFTP', 'host': f'127.0.0.1:{server.port}',
                             'user': server.user, 'password': server.password,
                             'known_hosts': server.known_hosts, 'timeout': '30'})
        ws.write_job(target={'host_id': 'srv', 'path': '/data', 'temp': 'dot'})
        done = run_until_partial(ws, served / 'data' / '.big.bin', server.drop)
    finally:
        server.stop()
    check(done)


@pytest.mark.parametrize('direction', ['upload', 'download'])
@pytest.mark.parametrize('transport', ['openssh', 'paramiko'])
def test_sshd_session_killed(ws, tmp_path, live_sshd, transport, direction):
    remote = tmp_path / 'remote'
    write_hosts(ws, srv=sftp_host(live_sshd, transport=transport))
    if direction == 'upload':
        ws.write_job(target={'host_id': 'srv', 'path': str(remote), 'temp': 'dot'})
        partial, source = remote / '.big.bin', None
    else:
        remote.mkdir()
        ws.write_job(source={'host_id': 'srv', 'path': str(remote)}, target={'temp': 'dot'})
        partial, source = pathlib.Path(ws.dst) / '.big.bin', remote

    def kill_sessions():
        for pid in live_sshd.sessions():
            os.kill(pid, signal.SIGKILL)
    # paramiko's transport gets a reset when the killed session left data unread
    check(run_until_partial(ws, partial, kill_sessions, source),
          *(['Connection reset by peer'] if transport == 'paramiko' else []))


def check(done, *other_reasons):
    """The try failed, saying that the server closed the connection (or one of
    ``other_reasons``): never a bare EOFError or an empty reason."""
    assert done.returncode == 2, done.stderr
    error = json_result(done)['error']
    reasons = ('the server closed the connection', *other_reasons)
    assert any(error.endswith(f'connection lost: {reason}') for reason in reasons), error
    assert 'Traceback' not in done.stderr
