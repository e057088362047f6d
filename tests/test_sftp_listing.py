"""SFTP listings with several READDIR requests in flight, and the directories of a
walk listed ahead of it, against real servers: OpenSSH's sftp-server (over both
transports), ProFTPD's mod_sftp, and paramiko's SFTP server, which answers a
READDIR with 16 names at most."""

import os
import uuid

import pytest

from conftest import login_for
from filetransfer.endpoints import create
from filetransfer.endpoints.sftp import endpoint as sftp_endpoint
from helpers import endpoint_spec
from remote import sftp_host
from test_sftp_latency import writes_to_ssh  # noqa: F401 (a fixture)

SFTP_OPENDIR, SFTP_READDIR = 11, 12
MANY = 3000
KINDS = ['openssh-openssh', 'openssh-paramiko', 'proftpd-SFTP', 'paramiko-server']


class Served:
    """A directory on this machine (``local``) that a server shows as ``remote``,
    with the host options that log in to it."""

    def __init__(self, local: str, remote: str, host: dict, own=lambda path: path):
        self.local, self.remote, self.host, self.own = local, remote, host, own

    def make(self, relpaths) -> None:
        """Creates these files (small) and directories (ending in '/')."""
        for relpath in relpaths:
            path = os.path.join(self.local, relpath)
            os.makedirs(path if relpath.endswith('/') else os.path.dirname(path),
                        exist_ok=True)
            if not relpath.endswith('/'):
                with open(path, 'wb') as fh:
                    fh.write(relpath.encode())
        self.own(self.local)

    def walk(self, descend=lambda reldir: True) -> list[str]:
        source = create(endpoint_spec('source', path=self.remote, files='*', **self.host))
        source.open()
        try:
            return [entry.path for entry in source.walk(descend)]
        finally:
            source.close()


@pytest.fixture(params=KINDS)
def served(request, tmp_path):
    kind = request.param
    folder = f'listing-{uuid.uuid4().hex[:8]}'
    if kind.startswith('openssh-'):
        sshd = request.getfixturevalue('live_sshd')
        local = str(tmp_path / folder)
        os.makedirs(local)
        yield Served(local, local, sftp_host(sshd, transport=kind.split('-')[1]))
    elif kind == 'paramiko-server':
        from servers.paramiko_sftp import PlainSftpServer
        base = tmp_path / 'base'
        (base / folder).mkdir(parents=True)
        server = PlainSftpServer(str(tmp_path), str(base))
        try:
            yield Served(str(base / folder), f'/{folder}',
                         {'type': 'SFTP', 'host': f'127.0.0.1:{server.port}',
                          'user': server.user, 'password': server.password,
                          'known_hosts': server.known_hosts, 'timeout': '30'})
        finally:
            server.stop()
    else:
        login = login_for(request, kind)
        os.makedirs(login.path(folder))
        yield Served(login.path(folder), login.remote(folder), login.host_section(),
                     login.own)


def depth_first(relpaths) -> list[str]:
    """The files of ``relpaths`` in the order of a walk: a directory's names sorted,
    each sub-directory's files where its name comes."""
    tree = {}
    for relpath in relpaths:
        node = tree
        parts = relpath.rstrip('/').split('/')
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        if relpath.endswith('/'):
            node.setdefault(parts[-1], {})
        else:
            node[parts[-1]] = None

    def files(node, prefix):
        for name in sorted(node):
            if node[name] is None:
                yield prefix + name
            else:
                yield from files(node[name], f'{prefix}{name}/')
    return list(files(tree, ''))


def test_a_large_directory_is_listed_whole_and_once(served):
    names = [f'f{number:05d}.dat' for number in range(MANY)]
    served.make(names)
    assert served.walk() == names


# more directories than a walk lists ahead, at several depths, some empty
TREE = ['a.txt', 'b/x.txt', 'b/c/y.txt', 'b/c/d/z.txt', 'b/e/', 'c.txt', 'd/',
        'e/f/g.txt', 'e/f2/h.txt',
        *[f'many/dir{number:02d}/file{number}.txt' for number in range(40)],
        *[f'many/dir{number:02d}/sub/deep.txt' for number in range(0, 40, 7)],
        'many/empty/', 'z.txt']


def test_a_tree_is_walked_whole_in_order(served):
    served.make(TREE)
    assert served.walk() == depth_first(TREE)


def test_a_walk_enters_only_the_directories_it_may(served):
    served.make(TREE)
    refused = ('b/c', 'many/dir03', 'many/dir07/sub')
    walked = served.walk(lambda reldir: reldir not in refused)
    assert walked == [path for path in depth_first(TREE)
                      if not any(path.startswith(folder + '/') for folder in refused)]


def test_an_empty_directory_lists_nothing(served):
    served.make([])
    assert served.walk() == []


def test_a_name_that_is_not_utf8_is_refused_and_the_others_listed(served):
    if not served.host.get('key_file'):
        pytest.skip("a name of raw bytes is tested against OpenSSH's sftp-server")
    served.make(['a.txt', 'z.txt'])
    with open(os.path.join(os.fsencode(served.local), b'bad\xff.txt'), 'wb') as fh:
        fh.write(b'x')
    served.own(served.local)
    source = create(endpoint_spec('source', path=served.remote, files='*', **served.host))
    with source:
        entries = list(source.walk(lambda reldir: True))
    assert [(entry.path, entry.refused) for entry in entries] == [
        ('a.txt', None), ('bad\\udcff.txt', 'refused name: the name is not UTF-8'),
        ('z.txt', None)]


def test_many_files_are_looked_at_together(served):
    served.make(['a.txt', 'sub/b.txt', 'dir/'])
    target = create(endpoint_spec('target', path=served.remote, **served.host))
    with target:
        found = target.stat_many(['a.txt', 'missing.txt', 'dir', 'sub/b.txt'])
    assert list(found) == ['a.txt', 'missing.txt', 'dir', 'sub/b.txt']
    assert [(entry.path, entry.size) for entry in (found['a.txt'], found['sub/b.txt'])] == \
        [('a.txt', 5), ('sub/b.txt', 9)]
    assert found['missing.txt'] is None and found['dir'] is None
    assert isinstance(found['a.txt'].mtime, (int, float))


def test_readdir_requests_and_the_listings_of_sub_directories_are_sent_together(
        live_sshd, tmp_path, writes_to_ssh):  # noqa: F811 (a fixture)
    """A directory of MANY names takes several READDIR answers from OpenSSH (100
    names each): they are asked for several at a time; the sub-directories of a
    directory are opened together."""
    local = tmp_path / 'served'
    served = Served(str(local), str(local), sftp_host(live_sshd, transport='openssh'))
    served.make([f'big/f{number:05d}.dat' for number in range(MANY)]
                + [f'sub{number}/a.txt' for number in range(5)])
    walked = served.walk()
    assert len(walked) == MANY + 5
    most_readdirs = max(types.count(SFTP_READDIR) for types in writes_to_ssh)
    most_opendirs = max(types.count(SFTP_OPENDIR) for types in writes_to_ssh)
    assert most_readdirs > 1 and most_opendirs > 1, writes_to_ssh
    assert most_opendirs <= sftp_endpoint.LISTINGS_AHEAD
