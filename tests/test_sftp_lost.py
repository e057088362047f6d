"""An SFTP server that goes away in the middle of a file, over both transports: the
try fails (exit 2) and its error says that the server closed the connection."""

import os
import signal
import subprocess

from faults import json_result
from procs import make_sparse, wait_for
from remote import sftp_host, write_hosts
from servers.paramiko_sftp import PlainSftpServer


def run_until_partial(ws, partial, go_away) -> subprocess.CompletedProcess:
    """Runs the job; calls ``go_away()`` once ``partial`` holds a MiB."""
    make_sparse(os.path.join(ws.src, 'big.bin'), 1 << 30)
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


def test_openssh_transport(ws, tmp_path, live_sshd):
    remote = tmp_path / 'remote'
    write_hosts(ws, srv=sftp_host(live_sshd, transport='openssh'))
    ws.write_job(target={'host_id': 'srv', 'path': str(remote), 'temp': 'dot'})

    def kill_sessions():
        for pid in live_sshd.sessions():
            os.kill(pid, signal.SIGKILL)
    check(run_until_partial(ws, remote / '.big.bin', kill_sessions))


def check(done):
    assert done.returncode == 2, done.stderr
    error = json_result(done)['error']
    assert error.endswith('connection lost: the server closed the connection'), error
    assert 'Traceback' not in done.stderr
