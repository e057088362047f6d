"""Names in a server's listing are untrusted: whatever a hostile server lists, nothing
is written outside the target directory, and nothing is asked for outside the source."""

import os
import uuid

import pytest

from helpers import tree
from remote import ftp_host, write_hosts
from servers.paramiko_sftp import HOSTILE_DATA, HostileSftpServer

ESCAPE = f'escape-{uuid.uuid4().hex[:8]}.txt'
# (name, is a directory, refused as a source error)
HOSTILE = [
    ('ok.txt', False, False),
    (f'../{ESCAPE}', False, True),
    (f'../../{ESCAPE}', False, True),
    (f'/tmp/{ESCAPE}', False, True),
    (f'sub/../../{ESCAPE}', False, True),
    (f'dir/{ESCAPE}', False, True),
    (f'back\\slash-{ESCAPE}', False, True),
    (f'nul\0{ESCAPE}', False, True),
    ('..', True, False),                   # listed by LIST -a; skipped quietly
    ('.', True, False),
    ('../up', True, False),                # a directory: never entered
    ('/etc', True, False),
]


def refused_count():
    return sum(1 for _, _, refused in HOSTILE if refused)


def assert_nothing_escaped(ws, tmp_path):
    for folder in (tmp_path, tmp_path.parent, '/tmp', ws.root):
        assert not os.path.exists(os.path.join(str(folder), ESCAPE))
    for found in tmp_path.rglob('*'):
        assert ESCAPE not in found.name or 'escape' not in str(found.relative_to(tmp_path))
    assert tree(ws.dst) == {'ok.txt': HOSTILE_DATA}


def run_hostile_job(ws):
    # ignore nothing: the default '.*' would leave out the names starting with '..'
    ws.write_job(job={'collect_data': 'yes'},
                 source={'host_id': 'srv', 'path': '/data', 'recursive': 'yes', 'delete': 'yes',
                         'ignore': ''},
                 target={'temp': 'dot'})
    done = ws.run('-v', 'job1')
    assert done.returncode == 1, done.stderr
    assert done.stdout == (f'Job finished: 1 file(s) transferred, {refused_count()} source '
                           'error(s), 0 target error(s)\n')
    log = ws.log_text()
    assert log.count('refused name') == refused_count()
    return log


@pytest.fixture
def hostile_sftp(tmp_path):
    server = HostileSftpServer(str(tmp_path),
                               [(name, is_dir) for name, is_dir, _ in HOSTILE])
    yield server
    server.stop()


def test_hostile_sftp_listing(ws, hostile_sftp, tmp_path):
    write_hosts(ws, srv={'type': 'SFTP', 'host': f'127.0.0.1:{hostile_sftp.port}',
                         'user': hostile_sftp.user, 'password': hostile_sftp.password,
                         'known_hosts': hostile_sftp.known_hosts, 'timeout': '30'})
    log = run_hostile_job(ws)
    assert_nothing_escaped(ws, tmp_path)
    asked = [path for _, path in hostile_sftp.requests]
    assert ('open', '/data/ok.txt') in hostile_sftp.requests
    assert ('remove', '/data/ok.txt') in hostile_sftp.requests
    assert not any(ESCAPE in path for path in asked), asked
    assert not any(op == 'list' and path != '/data' for op, path in hostile_sftp.requests)
    assert "not entering directory '../up'" in log


@pytest.mark.parametrize('mlsd', [True, False])
def test_hostile_ftp_listing(ws, ftp_server, tmp_path, mlsd):
    server = ftp_server(mlsd=mlsd, hostile=[
        {'name': name, 'type': 'dir' if is_dir else 'file', 'size': len(HOSTILE_DATA)}
        for name, is_dir, _ in HOSTILE])
    os.makedirs(server.path('data'))
    write_hosts(ws, srv=ftp_host(server))
    log = run_hostile_job(ws)
    assert_nothing_escaped(ws, tmp_path)
    commands = server.commands()
    assert 'RETR /data/ok.txt' in commands and 'DELE /data/ok.txt' in commands
    assert not any(ESCAPE in line for line in commands), commands
    cwds = [line for line in commands if line.startswith('CWD')]
    assert set(cwds) == {'CWD /data'}, cwds
    assert "not entering directory '../up'" in log
