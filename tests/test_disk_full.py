"""A full disk on the target: a small tmpfs mounted by the test (needs root, as in CI;
skipped otherwise). The file that does not fit is a target error, its temp file is
removed, its source kept; the other files arrive, and nothing that was on the
target before is damaged. Exit code 1."""

import os
import subprocess

import pytest

from faults import counts, json_result
from helpers import make_files, tree
from remote import ftp_host, sftp_host, write_hosts

DISK = 4 << 20
BEFORE = {'big.bin': b'the old version', 'keep.txt': b'was here before'}


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
    done = ws.run('--json', 'job1')
    assert done.returncode == 1, done.stderr
    result = json_result(done)
    assert counts(result) == (2, 0, 1)
    [failed] = [item for item in result['files'] if item['tag'] == '<']
    assert failed['path'] == 'big.bin'
    assert tree(target) == {**BEFORE, 'a.txt': files['a.txt'], 'c.txt': files['c.txt']}
    assert tree(source) == {'big.bin': files['big.bin']}     # not deleted
