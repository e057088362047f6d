"""The endpoint contract (filetransfer/endpoints/base.py), checked against every stream
endpoint: a local directory, and every real server of the suite over FTP, FTPS and SFTP
(OpenSSH over both transports, ProFTPD's mod_sftp). What is protocol-specific stays in
the protocol's own tests."""

import os
import uuid

import pytest

from filetransfer import TransferError
from filetransfer.endpoints import create
from filetransfer.endpoints.base import SourceReader, SourceReadError
from conftest import login_for
from helpers import endpoint_spec, make_files, tree
from remote import sftp_host
from servers.login import LOGINS

KINDS = ['local', *LOGINS, 'openssh-SFTP-openssh', 'openssh-SFTP-paramiko']


class Side:
    """One kind of endpoint: ``open(role, folder)`` gives an open endpoint whose root
    is ``folder`` (relative to a fresh directory of the test), ``path(folder, ...)``
    that directory on this machine."""

    def __init__(self, local_root: str, remote_root: str, host: dict | None, own):
        self.local_root, self.remote_root, self.host, self.own = \
            local_root, remote_root, host, own
        self.opened = []

    def path(self, *parts: str) -> str:
        return os.path.join(self.local_root, *parts)

    def spec(self, role: str, folder: str):
        path = f'{self.remote_root}/{folder}' if self.host else self.path(folder)
        options = {'files': '*'} if role == 'source' else {}
        return endpoint_spec(role, path=path, **options, **(self.host or {}))

    def open(self, role: str, folder: str = 'root'):
        endpoint = create(self.spec(role, folder))
        endpoint.open()
        self.opened.append(endpoint)
        return endpoint

    def put(self, files: dict, folder: str = 'root') -> None:
        make_files(self.path(folder), files)
        self.own(self.local_root)

    def close(self) -> None:
        for endpoint in self.opened:
            endpoint.close()


@pytest.fixture(params=KINDS)
def side(request, tmp_path):
    kind = request.param
    folder = f'contract-{uuid.uuid4().hex[:8]}'
    if kind == 'local':
        os.makedirs(tmp_path / folder)
        made = Side(str(tmp_path / folder), None, None, lambda path: path)
    elif kind.startswith('openssh-SFTP-'):
        sshd = request.getfixturevalue('live_sshd')
        local = tmp_path / folder
        local.mkdir()
        host = sftp_host(sshd, transport=kind.rsplit('-', 1)[1])
        made = Side(str(local), str(local), host, lambda path: path)
    else:
        login = login_for(request, kind)
        os.makedirs(login.path(folder))
        login.own(login.path(folder))
        made = Side(login.path(folder), login.remote(folder),
                    {k: v for k, v in login.host_section().items()}, login.own)
    yield made
    made.close()


# -- opening ------------------------------------------------------------------------------

def test_a_target_makes_its_root(side):
    side.open('target', 'new/and/deeper')
    assert os.path.isdir(side.path('new', 'and', 'deeper'))


def test_a_missing_source_root_is_a_transfer_error(side):
    """As FileTransfer 0.11 reports it (a target's is a ConnectError)."""
    with pytest.raises(TransferError, match='does not exist|cannot be opened'):
        side.open('source', 'missing')


# -- listing and looking ------------------------------------------------------------------

FILES = {'a.txt': b'alpha', 'with space.csv': b'1,2\n', 'ünï.txt': b'u' * 1000,
         'sub/b.bin': b'\0' * 4096, 'sub/deeper/c': b'', 'skipped/d.txt': b'D'}


def test_walk_lists_the_regular_files_and_enters_what_descend_allows(side):
    side.put(FILES)
    os.makedirs(side.path('root', 'empty'))
    endpoint = side.open('source')
    entries = list(endpoint.walk(lambda folder: folder != 'skipped'))
    listed = {entry.path: entry.size for entry in entries}
    assert listed == {path: len(data) for path, data in FILES.items()
                      if not path.startswith('skipped/')}
    for entry in entries:
        if entry.mtime is not None:      # a LIST without MLSD gives none
            assert abs(entry.mtime - os.stat(side.path('root', entry.path)).st_mtime) < 120


def test_stat_gives_a_file_and_none_for_what_is_not_one(side):
    side.put({'a.txt': b'alpha', 'sub/b.txt': b'b'})
    endpoint = side.open('source')
    found = endpoint.stat('a.txt')
    assert (found.path, found.size) == ('a.txt', 5)
    assert endpoint.stat('missing.txt') is None
    assert endpoint.stat('sub') is None


# -- reading ------------------------------------------------------------------------------

def test_open_read_gives_the_bytes_from_an_offset(side):
    data = os.urandom(3 << 20)
    side.put({'big.bin': data})
    endpoint = side.open('source')
    with endpoint.open_read('big.bin') as fh:
        assert fh.read() == data
    with endpoint.open_read('big.bin', 12345) as fh:
        assert fh.read() == data[12345:]


def test_open_read_of_a_missing_file_is_an_oserror(side):
    side.put({'other.txt': b'o'})
    endpoint = side.open('source')
    with pytest.raises(OSError):
        with endpoint.open_read('missing.bin') as fh:
            fh.read()


# -- writing ------------------------------------------------------------------------------

class Bytes:
    """A source of ``data`` that fails after ``fail_after`` bytes, as a disk can."""

    def __init__(self, data: bytes, fail_after: int | None = None):
        self.data, self.fail_after, self.position = data, fail_after, 0

    def readinto(self, buffer) -> int:
        if self.fail_after is not None and self.position >= self.fail_after:
            raise OSError(5, 'Input/output error')
        piece = self.data[self.position:self.position + len(buffer)]
        buffer[:len(piece)] = piece
        self.position += len(piece)
        return len(piece)

    def read(self, size=-1) -> bytes:
        buffer = bytearray(len(self.data) if size is None or size < 0 else size)
        return bytes(buffer[:self.readinto(buffer)])


def test_write_makes_a_file_with_its_parents_and_counts_its_bytes(side):
    data = os.urandom(2 << 20)
    endpoint = side.open('target')
    counted = []
    assert endpoint.write('dir/new.bin', SourceReader(Bytes(data)), counted.append) == len(data)
    assert sum(counted) == len(data)
    assert tree(side.path('root')) == {'dir/new.bin': data}


def test_write_replaces_a_file_unless_exclusive(side):
    side.put({'there.txt': b'old'})
    endpoint = side.open('target')
    with pytest.raises(FileExistsError):
        endpoint.write('there.txt', SourceReader(Bytes(b'new')), exclusive=True)
    assert tree(side.path('root')) == {'there.txt': b'old'}
    endpoint.write('there.txt', SourceReader(Bytes(b'new')))
    assert tree(side.path('root')) == {'there.txt': b'new'}


def test_a_write_whose_source_fails_leaves_nothing(side):
    endpoint = side.open('target')
    with pytest.raises(SourceReadError):
        endpoint.write('failing.bin', SourceReader(Bytes(os.urandom(4 << 20), 1 << 20)))
    assert tree(side.path('root')) == {}


# ProFTPD announces REST STREAM but refuses REST before STOR (AllowStoreRestart off):
# that is the FTP endpoint's to handle (tests/test_ftp.py, test_server_matrix.py)
@pytest.mark.parametrize('side', [kind for kind in KINDS
                                  if kind not in ('proftpd-FTP', 'proftpd-FTPS')],
                         indirect=True)
def test_a_write_at_an_offset_keeps_the_start_where_the_endpoint_resumes(side):
    data = os.urandom(1 << 20)
    side.put({'part.bin': data[:300_000] + b'junk past the end'})
    endpoint = side.open('target')
    assert endpoint.capabilities.resume      # these servers all continue files at offsets
    written = endpoint.write('part.bin', SourceReader(Bytes(data[300_000:])), offset=300_000)
    assert written == len(data) - 300_000
    assert tree(side.path('root')) == {'part.bin': data}


# -- renaming and removing ------------------------------------------------------------------

def test_rename_replaces_the_target_and_makes_its_parents(side):
    side.put({'from.txt': b'new', 'to.txt': b'old'})
    endpoint = side.open('target')
    endpoint.rename('from.txt', 'to.txt')
    endpoint.rename('to.txt', 'moved/into/place.txt')
    assert tree(side.path('root')) == {'moved/into/place.txt': b'new'}
    with pytest.raises(OSError):
        endpoint.rename('missing.txt', 'elsewhere.txt')


def test_remove_deletes_a_file_and_a_missing_one_is_an_oserror(side):
    side.put({'a.txt': b'a', 'b.txt': b'b'})
    endpoint = side.open('target')
    endpoint.remove('a.txt')
    assert tree(side.path('root')) == {'b.txt': b'b'}
    with pytest.raises(OSError):
        endpoint.remove('a.txt')


@pytest.mark.parametrize('name', ['../escape.txt', '/abs.txt', 'a/../../b.txt'])
def test_names_that_leave_the_root_are_refused(side, name):
    endpoint = side.open('target')
    with pytest.raises(OSError):
        endpoint.write(name, SourceReader(Bytes(b'x')))
    parent = os.path.dirname(side.path('root'))
    assert not os.path.exists(os.path.join(parent, 'escape.txt'))
