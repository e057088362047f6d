"""The file-handling options against every real server of the suite (the ``login``
fixture: pyftpdlib, vsftpd, ProFTPD and Pure-FTPd over FTP and FTPS, OpenSSH and
ProFTPD's mod_sftp over SFTP), through the real command, in both directions where
the option concerns the server's side either way (overwrite, verify, remember);
min_age, max_age and archive_dir concern the source only, so the server is the
source (the local source is test_file_handling.py's).

What the servers offer decides some outcomes, and the tests say so: vsftpd lists
no modification times (no MLSD: min_age and max_age are refused) and cannot set
them (no MFMT: overwrite compares sizes only there); ProFTPD hashes files itself
(mod_digest: HASH), OpenSSH runs sha256sum for the account, the other servers'
files are read back to be checked."""

import hashlib
import json
import os
import signal
import subprocess
import time
import uuid

import pytest

from helpers import command_argv, make_files, tree
from procs import make_sparse, wait_for
from remote import write_hosts
from servers.login import logins

HOUR = 3600
BOTH_WAYS = pytest.mark.parametrize('direction', ['up', 'down'])


def fresh() -> str:
    """A folder of its own in the login's directory (servers are shared by the run)."""
    return f'files-{uuid.uuid4().hex[:8]}'


class Sides:
    """A job between ws's local directories and a fresh folder on the login's server:
    ``source`` and ``target`` are the paths on disk of both sides."""

    def __init__(self, ws, login, direction: str):
        self.ws, self.login, self.direction = ws, login, direction
        self.folder = fresh()
        self.remote = login.path(self.folder)
        os.makedirs(self.remote)
        login.own(self.remote)
        self.source, self.target = (ws.src, self.remote) if direction == 'up' \
            else (self.remote, ws.dst)
        write_hosts(ws, srv=login.host_section())

    def job(self, source=None, target=None, job=None) -> None:
        on_server = {'host_id': 'srv', 'path': self.login.remote(self.folder)}
        up = self.direction == 'up'
        self.ws.write_job(job=job, source={**({} if up else on_server), **(source or {})},
                          target={**(on_server if up else {}), **(target or {})})

    def put(self, side: str, files: dict, ages: dict | None = None) -> None:
        """Files on the ``side`` ('source' or 'target'), ``ages`` in seconds ago."""
        root = getattr(self, side)
        make_files(root, files)
        now = time.time()
        for relpath, seconds in (ages or {}).items():
            os.utime(os.path.join(root, relpath), (now - seconds, now - seconds))
        if root == self.remote:
            self.login.own(root)

    def run(self, *args):
        done = self.ws.run('--json', *args, 'job1')
        assert 'Traceback' not in done.stderr, done.stderr
        return done.returncode, json.loads(done.stdout)


def sent(data) -> list[str]:
    """The files sent, sorted (several at once are listed as they finish)."""
    return sorted(item['path'] for item in data['files'] if item['tag'] == '=')


def skipped(data) -> list[str]:
    return sorted(item['path'] for item in data['files'] if item['tag'] == '-')


def lists_mtimes(login) -> bool:
    """Whether the server lists modification times (MLSD or SFTP)."""
    return login.name != 'vsftpd'


def sets_mtimes(login) -> bool:
    """Whether the server sets modification times (MFMT or SFTP SETSTAT)."""
    return login.name != 'vsftpd'


# -- min_age and max_age ---------------------------------------------------------------

def test_ages_from_the_servers_listing(ws, login):
    sides = Sides(ws, login, 'down')
    sides.put('source', {'old.txt': 'O', 'young.txt': 'Y', 'ancient.txt': 'A'},
              {'old.txt': 2 * HOUR, 'young.txt': 5, 'ancient.txt': 3 * 24 * HOUR})
    sides.job(source={'min_age': '15m', 'max_age': '1d'})
    if not lists_mtimes(login):
        code, data = sides.run()
        assert code == 3 and data['status'] == 'config'
        assert f'{ws.jobs_dir}/job1.cfg: [source] min_age: the source (' in data['error']
        assert 'lists no modification times (an FTP server without MLSD)' in data['error']
        check = subprocess.run(command_argv('check', '-c', ws.app_cfg, '--connect', 'job1'),
                               capture_output=True, text=True, timeout=120)
        assert check.returncode == 3
        assert f'{ws.jobs_dir}/job1.cfg: [source] min_age: the source' in check.stdout
        return
    code, data = sides.run()
    assert (code, sent(data), data['skipped_cnt']) == (0, ['old.txt'], 0)
    assert 'leaving young.txt for a later run: not yet stable: modified ' in ws.log_text()
    assert tree(ws.dst) == {'old.txt': b'O'}


# -- archive_dir -----------------------------------------------------------------------

def test_archive_on_the_server(ws, login):
    sides = Sides(ws, login, 'down')
    sides.put('source', {'a.txt': 'A', 'sub/b.txt': 'B', 'done/sub/b.txt': 'before'})
    sides.job(source={'recursive': 'yes', 'archive_dir': 'done'},
              target={'temp': 'dot', 'resume': 'yes'})
    code, data = sides.run()
    assert (code, sent(data)) == (0, ['a.txt', 'sub/b.txt']), data
    assert tree(ws.dst) == {'a.txt': b'A', 'sub/b.txt': b'B'}
    assert tree(sides.remote) == {'done/a.txt': b'A', 'done/sub/b.txt': b'before',
                                  'done/sub/b.1.txt': b'B'}
    code, data = sides.run()                     # the archive is never listed
    assert (code, data['files']) == (0, [])
    elsewhere = f'{sides.folder}-archive'        # absolute, outside the source
    sides.put('source', {'c.txt': 'C'})
    sides.job(source={'archive_dir': login.remote(elsewhere)})
    code, data = sides.run()
    assert (code, sent(data)) == (0, ['c.txt'])
    assert tree(login.path(elsewhere)) == {'c.txt': b'C'}


# -- overwrite -------------------------------------------------------------------------

@BOTH_WAYS
def test_overwrite_different_and_older(ws, login, direction):
    sides = Sides(ws, login, direction)
    ages = {'same.txt': HOUR, 'changed.txt': HOUR, 'bigger.txt': HOUR, 'new.txt': HOUR}
    sides.put('source', {'same.txt': 'S', 'changed.txt': 'C', 'bigger.txt': 'BB',
                         'new.txt': 'N'}, ages)
    sides.put('target', {'same.txt': 'S', 'changed.txt': 'x', 'bigger.txt': 'B'},
              {'same.txt': HOUR, 'changed.txt': 3 * HOUR, 'bigger.txt': 3 * HOUR})
    sides.job(target={'overwrite': 'different', 'temp': 'dot'})
    code, data = sides.run()
    times = lists_mtimes(login) and (direction == 'down' or sets_mtimes(login))
    expected = ['bigger.txt', 'changed.txt', 'new.txt'] if times \
        else ['bigger.txt', 'new.txt']       # same size: the same file, by size only
    assert (code, sent(data)) == (0, expected), data
    code, data = sides.run()                 # every copy has its source's time now
    assert (code, sent(data), data['skipped_cnt']) == (0, [], 4)
    sides.put('source', {'same.txt': 'T'}, {'same.txt': 10})
    sides.put('target', {'changed.txt': 'y'}, {'changed.txt': 5 * HOUR})
    sides.job(target={'overwrite': 'older'})
    code, data = sides.run()
    # same.txt is newer on the source; changed.txt is older on the target
    expected = ['changed.txt', 'same.txt'] if lists_mtimes(login) else []
    assert (code, sent(data)) == (0, expected), data
    sides.job(target={'overwrite': 'never'})
    code, data = sides.run()
    assert (code, sent(data), data['skipped_cnt']) == (0, [], 4)


# -- verify = checksum -----------------------------------------------------------------

def how_checked(login, direction) -> str:
    """How the target's copy is hashed: by the server, or read back."""
    if direction == 'down':
        return 'read back'
    return 'server' if (login.name, login.protocol) in {
        ('proftpd', 'FTP'), ('proftpd', 'FTPS'), ('openssh', 'SFTP')} else 'read back'


@BOTH_WAYS
def test_checksum_verified_by_the_server_or_read_back(ws, login, direction):
    sides = Sides(ws, login, direction)
    files = {'a.bin': os.urandom(2 << 20), 'empty': b'', 'sub/c.txt': b'C'}
    sides.put('source', files)
    sides.job(source={'recursive': 'yes'}, target={'verify': 'checksum', 'temp': 'dot'})
    code, data = sides.run()
    assert code == 0, data
    assert {item['path']: item['sha256'] for item in data['files']} == \
        {path: hashlib.sha256(content).hexdigest() for path, content in files.items()}
    assert tree(sides.target) == files
    log = ws.log_text()
    if how_checked(login, direction) == 'server' and login.protocol == 'SFTP':
        assert 'no sha256sum on the server' not in log
    if (login.name, login.protocol, direction) == ('proftpd', 'SFTP', 'up'):
        assert 'no sha256sum on the server for this account' in log
    if login.name == 'proftpd' and login.protocol != 'SFTP' and direction == 'up':
        assert 'HASH ' in login.server.logs()


@pytest.mark.parametrize('temp', ['dot', None])
def test_a_checksum_mismatch_on_the_server_is_a_target_error(ws, login, temp):
    sides = Sides(ws, login, 'up')
    make_sparse(os.path.join(ws.src, 'big.bin'), 128 << 20)
    sides.job(source={'delete': 'yes'},
              target={'verify': 'checksum', **({'temp': temp} if temp else {})})
    proc = ws.popen('--json', 'job1', stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    text=True)
    path = os.path.join(sides.remote, '.big.bin' if temp else 'big.bin')
    try:
        wait_for(lambda: os.path.exists(path) and os.path.getsize(path) >= 4 << 20,
                 proc=proc, timeout=60)
        os.kill(proc.pid, signal.SIGSTOP)
        with open(path, 'r+b') as fh:       # the server stores something else
            fh.write(b'\xff')
        os.kill(proc.pid, signal.SIGCONT)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    data = json.loads(out)
    assert (proc.returncode, data['tgt_error_cnt']) == (1, 1), err
    assert data['files'][0]['error'].startswith('checksum mismatch: the stored file has ')
    assert tree(sides.remote) == {}
    assert os.path.exists(os.path.join(ws.src, 'big.bin'))


# -- remember --------------------------------------------------------------------------

@BOTH_WAYS
def test_remember_with_a_server(ws, login, direction):
    sides = Sides(ws, login, direction)
    files = {f'f{number}.txt': f'file {number}'.encode() for number in range(6)}
    sides.put('source', files, {name: HOUR for name in files})
    sides.job(source={'remember': 'yes'}, target={'temp': 'dot', 'connections': '3'})
    code, data = sides.run()
    assert (code, sorted(sent(data))) == (0, sorted(files))
    for name in files:
        os.remove(os.path.join(sides.target, name))
    code, data = sides.run()
    assert (code, data['files']) == (0, [])
    sides.put('source', {'f2.txt': 'file 2, longer'}, {'f2.txt': HOUR})
    code, data = sides.run()
    assert (code, sent(data)) == (0, ['f2.txt'])
    assert tree(sides.target) == {'f2.txt': b'file 2, longer'}
