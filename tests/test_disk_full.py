"""A full disk on the target: a small tmpfs mounted by the test (needs root, as in CI;
skipped otherwise). The file that does not fit is a target error, its temp file is
removed, its source kept; the other files arrive, and nothing that was on the
target before is damaged. Exit code 1. The error says that the disk is full, or,
where the server does not tell why it refused a write, that it may be. The same
for a quota on an FTP server and the status codes of SFTP servers."""

import os
import subprocess

import pytest

from faults import counts, json_result
from helpers import make_files, tree
from remote import ftp_host, sftp_host, write_hosts
from servers.paramiko_sftp import PlainSftpServer

DISK = 4 << 20
BEFORE = {'big.bin': b'the old version', 'keep.txt': b'was here before'}
# what the error of the file that did not fit says, by the protocol of the target
FULL_DISK_ERRORS = {
    'local': 'No space left on device',
    'SFTP': "the server refused the write ('Failure'): its disk may be full or a quota "
            'reached',
    'FTP': "the server's disk is full (it says: 452 Insufficient storage space",
}


@pytest.fixture
def small_disk(tmp_path):
    """Mounts a 4 MiB tmpfs; yields a function that mounts it at a path."""
    if os.getuid() != 0:
        from servers.common import unavailable
        unavailable('mounting a small file system needs root')
    mounted = []

    def mount(path):
        os.makedirs(path, exist_ok=True)
        done = subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={DISK}', 'tmpfs',
                               str(path)], capture_output=True, text=True)
        if done.returncode:
            from servers.common import unavailable
            unavailable(f'cannot mount a tmpfs: {done.stderr.strip()}')
        mounted.append(str(path))
        return str(path)

    yield mount
    for path in mounted:
        subprocess.run(['umount', '-l', path], check=False)


@pytest.mark.parametrize('protocol, direction, resume', [
    ('local', 'up', 'no'), ('SFTP', 'up', 'no'), ('SFTP', 'down', 'no'), ('FTP', 'up', 'no'),
    ('FTP', 'down', 'no'), ('local', 'up', 'yes'), ('SFTP', 'up', 'yes')])
def test_disk_full_is_a_target_error_and_nothing_else_is_harmed(
        ws, tmp_path, small_disk, live_sshd, ftp_server, protocol, direction, resume):
    """(With resume too: a temp file that cannot be completed is no use later.)"""
    files = {'a.txt': os.urandom(1000), 'big.bin': os.urandom(2 * DISK),
             'c.txt': os.urandom(1000)}
    server_dir = str(tmp_path / 'remote')
    host = {}
    if protocol == 'SFTP':
        write_hosts(ws, srv=sftp_host(live_sshd))
        host = {'host_id': 'srv', 'path': server_dir}
    elif protocol == 'FTP':
        server = ftp_server()
        write_hosts(ws, srv=ftp_host(server))
        server_dir = server.path('data')
        host = {'host_id': 'srv', 'path': 'data'}
    if direction == 'up':
        source, target = ws.src, small_disk(server_dir)
        target_options = {**(host or {'path': target}), 'temp': 'dot', 'resume': resume}
        source_options = {'delete': 'yes'}
    else:
        source, target = server_dir, small_disk(ws.dst)
        source_options = {**host, 'delete': 'yes'}
        target_options = {'temp': 'dot', 'resume': resume}
    make_files(source, files)
    make_files(target, BEFORE)
    ws.write_job(source=source_options, target=target_options)
    error = big_file_failed(ws.run('--json', 'job1'))
    assert FULL_DISK_ERRORS[protocol if direction == 'up' else 'local'] in error
    assert tree(target) == {**BEFORE, 'a.txt': files['a.txt'], 'c.txt': files['c.txt']}
    assert tree(source) == {'big.bin': files['big.bin']}     # not deleted


def upload_too_big(ws, host, path, server_dir):
    """Uploads a.txt, big.bin (too big for the server) and c.txt; returns the error
    of big.bin (which must fail, its partial file removed)."""
    files = {'a.txt': b'A' * 1000, 'big.bin': os.urandom(2 * DISK), 'c.txt': b'C' * 1000}
    make_files(ws.src, files)
    write_hosts(ws, srv=host)
    ws.write_job(source={'delete': 'yes'},
                 target={'host_id': 'srv', 'path': path, 'temp': 'dot'})
    error = big_file_failed(ws.run('--json', 'job1'))
    assert tree(server_dir) == {'a.txt': files['a.txt'], 'c.txt': files['c.txt']}
    assert tree(ws.src) == {'big.bin': files['big.bin']}
    return error


def big_file_failed(done) -> str:
    """Checks that a run transferred two files and failed big.bin on the target;
    returns the error of big.bin."""
    assert done.returncode == 1, done.stderr
    result = json_result(done)
    assert counts(result) == (2, 0, 1)
    [failed] = [item for item in result['files'] if item['tag'] == '<']
    assert failed['path'] == 'big.bin'
    return failed['error']


def test_a_quota_on_an_ftp_server_is_said(ws, ftp_server):
    server = ftp_server(quota=DISK)
    error = upload_too_big(ws, ftp_host(server), 'data', server.path('data'))
    assert error.startswith('the storage allocation on the server is exceeded (it says: '
                            '552 Exceeded storage allocation'), error


@pytest.mark.parametrize('status, said', [
    (4, "the server refused the write ('Failure'): its disk may be full or a quota reached"),
    (14, "the server's disk is full (it says: "),
    (15, 'a quota on the server is exceeded (it says: ')])
def test_the_status_of_an_sftp_server_refusing_a_write_is_said(ws, tmp_path, status, said):
    """Status 4 is SSH_FX_FAILURE, 14 SSH_FX_NO_SPACE_ON_FILESYSTEM and 15
    SSH_FX_QUOTA_EXCEEDED (of later SFTP versions)."""
    served = tmp_path / 'served'
    served.mkdir()
    server = PlainSftpServer(str(tmp_path), str(served), refuse_past=(DISK, status))
    try:
        error = upload_too_big(ws, {'type': 'SFTP', 'host': f'127.0.0.1:{server.port}',
                                    'user': server.user, 'password': server.password,
                                    'known_hosts': server.known_hosts, 'timeout': '30'},
                               '/data', served / 'data')
    finally:
        server.stop()
    assert error.startswith(said), error
