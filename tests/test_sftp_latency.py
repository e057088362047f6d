"""What keeps SFTP requests from waiting on the network more than they must,
against the real OpenSSH sshd: requests sent together leave together, the TCP
connection of paramiko's transport sends at once, a file of a known size is read
in one round trip."""

import gc
import io
import os
import socket
import struct
import subprocess

import pytest

from filetransfer.endpoints import create
from filetransfer.endpoints.base import FileEntry
from filetransfer.endpoints.sftp import sshpipe
from helpers import endpoint_spec
from remote import sftp_host

SFTP_WRITE, SFTP_READ, SFTP_FSTAT, SFTP_CLOSE = 6, 5, 8, 4
SFTP_MKDIR, SFTP_STAT, SFTP_REALPATH = 14, 17, 16


def open_endpoint(sshd, role: str, path, transport: str):
    options = {'files': '*'} if role == 'source' else {}
    endpoint = create(endpoint_spec(role, path=str(path), **options,
                                    **sftp_host(sshd, transport=transport)))
    endpoint.open()
    return endpoint


def message_types(data: bytes) -> list[int]:
    """The SFTP message types of the whole messages in ``data``."""
    types = []
    while len(data) >= 5:
        length = struct.unpack('>I', data[:4])[0]
        types.append(data[4])
        data = data[4 + length:]
    return types


@pytest.fixture
def writes_to_ssh(monkeypatch):
    """The SFTP message types of each write to an ssh child's stdin, from now on
    (the writes still happen)."""
    written = []
    real_write = os.write

    def write(fd, data):
        count = real_write(fd, data)
        if fd in pipes:
            written.append(message_types(bytes(data[:count])))
        return count

    pipes = set()
    real_init = sshpipe.SshPipe.__init__

    def init(self, argv):
        real_init(self, argv)
        pipes.add(self._out)

    monkeypatch.setattr(sshpipe.SshPipe, '__init__', init)
    monkeypatch.setattr(os, 'write', write)
    return written


def test_a_small_files_write_stat_and_close_reach_ssh_in_one_write(live_sshd, tmp_path,
                                                                    writes_to_ssh):
    """ssh does not set TCP_NODELAY: requests it reads apart leave in packets of
    their own, and the later ones wait for the first one's acknowledgement."""
    (tmp_path / 'remote').mkdir()
    endpoint = open_endpoint(live_sshd, 'target', tmp_path / 'remote', 'openssh')
    try:
        del writes_to_ssh[:]
        endpoint.write('small.bin', io.BytesIO(b'x' * 4096))
    finally:
        endpoint.close()
    assert (tmp_path / 'remote' / 'small.bin').read_bytes() == b'x' * 4096
    assert [SFTP_WRITE, SFTP_FSTAT, SFTP_CLOSE] in writes_to_ssh, writes_to_ssh


@pytest.mark.parametrize('depth', [1, 3])
def test_a_missing_target_directory_is_made_with_its_looks(live_sshd, tmp_path, writes_to_ssh,
                                                           depth):
    """A target directory found missing: its MKDIR goes with the STAT and REALPATH
    that follow it, one round trip; one whose parent is missing too is made all
    the same."""
    remote = tmp_path.joinpath(*['new'] * depth)
    endpoint = open_endpoint(live_sshd, 'target', remote, 'openssh')
    try:
        endpoint.write('small.bin', io.BytesIO(b'x' * 10))
    finally:
        endpoint.close()
    assert (remote / 'small.bin').read_bytes() == b'x' * 10
    if depth == 1:
        assert [SFTP_MKDIR, SFTP_STAT, SFTP_REALPATH] in writes_to_ssh, writes_to_ssh
        assert writes_to_ssh.count([SFTP_STAT, SFTP_REALPATH]) == 1, writes_to_ssh


def test_a_file_of_known_size_is_read_with_one_batch_of_requests(live_sshd, tmp_path,
                                                                 writes_to_ssh):
    """Its size from the listing: one read for its bytes, one at its end that finds
    the end, sent together; no read requests past the end."""
    served = tmp_path / 'served'
    served.mkdir()
    data = os.urandom(5000)
    (served / 'small.bin').write_bytes(data)
    endpoint = open_endpoint(live_sshd, 'source', served, 'openssh')
    try:
        entry = FileEntry('small.bin', len(data), 0)
        del writes_to_ssh[:]
        with endpoint.open_read('small.bin', expected=entry) as reader:
            assert reader.read() == data
    finally:
        endpoint.close()
    reads = [types for types in writes_to_ssh if SFTP_READ in types]
    assert reads == [[SFTP_READ, SFTP_READ]], writes_to_ssh


def test_a_file_of_known_size_is_read_in_one_batch_when_many_share_the_session(
        live_sshd, tmp_path, writes_to_ssh):
    """200 files sharing the session leave each less than one read request's worth
    in flight: the read at the end still goes with the data's (one round trip)."""
    served = tmp_path / 'served'
    served.mkdir()
    data = os.urandom(4096)
    (served / 'small.bin').write_bytes(data)
    endpoint = open_endpoint(live_sshd, 'source', served, 'openssh')
    sharing = [endpoint.shared() for _ in range(200)]
    try:
        del writes_to_ssh[:]
        with sharing[0].open_read('small.bin', expected=FileEntry('small.bin', 4096, 0)) \
                as reader:
            assert reader.read() == data
    finally:
        for other in sharing:
            other.close()
        endpoint.close()
    reads = [types for types in writes_to_ssh if SFTP_READ in types]
    assert reads == [[SFTP_READ, SFTP_READ]], writes_to_ssh


@pytest.mark.parametrize('grown', [False, True], ids=['same size', 'grown'])
def test_a_file_read_with_a_size_hint_is_read_to_its_end(live_sshd, tmp_path, grown):
    """The listed size is a hint: a file that grew since is read whole, as is one
    larger than what is kept in flight."""
    served = tmp_path / 'served'
    served.mkdir()
    data = os.urandom((5 << 20) + 77)
    (served / 'big.bin').write_bytes(data)
    listed = len(data) - 1000 if grown else len(data)
    for transport in ('openssh', 'paramiko'):
        endpoint = open_endpoint(live_sshd, 'source', served, transport)
        try:
            with endpoint.open_read('big.bin', expected=FileEntry('big.bin', listed, 0)) \
                    as reader:
                assert reader.read() == data, transport
        finally:
            endpoint.close()


def test_paramikos_connection_sends_at_once(live_sshd, tmp_path):
    (tmp_path / 'remote').mkdir()
    endpoint = open_endpoint(live_sshd, 'target', tmp_path / 'remote', 'paramiko')
    try:
        sock = endpoint._transport.sock
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        endpoint.write('small.bin', io.BytesIO(b'x' * 10))
    finally:
        endpoint.close()
    assert (tmp_path / 'remote' / 'small.bin').read_bytes() == b'x' * 10


def test_the_end_of_the_ssh_child_is_seen_when_it_comes():
    """An ssh child that ends is reaped as it ends; one that does not is left to the
    caller once the time is up (it kills it)."""
    quick = subprocess.Popen(['sleep', '0.2'])
    assert sshpipe._ended(quick, 30)
    assert quick.returncode == 0
    stuck = subprocess.Popen(['sleep', '30'])
    try:
        assert not sshpipe._ended(stuck, 0.1)
        assert stuck.poll() is None
    finally:
        stuck.kill()
        stuck.wait()


def held_open(path) -> bool:
    """Whether a process of this machine (this user's: the test server's) holds
    ``path`` open."""
    path = os.path.realpath(path)
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            fds = os.listdir(f'/proc/{pid}/fd')
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f'/proc/{pid}/fd/{fd}') == path:
                    return True
            except OSError:
                pass
    return False


def test_a_read_stopped_early_leaves_no_file_open_on_the_server(live_sshd, tmp_path):
    served = tmp_path / 'served'
    served.mkdir()
    data = os.urandom(1 << 20)
    (served / 'big.bin').write_bytes(data)
    endpoint = open_endpoint(live_sshd, 'source', served, 'openssh')
    try:
        reader = endpoint.open_read('big.bin', expected=FileEntry('big.bin', len(data), 0))
        assert reader.readinto(bytearray(1000)) == 1000
        assert held_open(served / 'big.bin')
        reader.close()             # stopped early (an error, SIGTERM)
        del reader
        gc.collect()
        endpoint.stat('big.bin')   # answered after whatever was sent before it
        assert not held_open(served / 'big.bin')
    finally:
        endpoint.close()
