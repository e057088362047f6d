"""The transfer scenarios against every real server: pyftpdlib, vsftpd, ProFTPD and
Pure-FTPd over FTP and FTPS, OpenSSH and ProFTPD's mod_sftp over SFTP (the
``login`` fixture), through the real command.

A scenario runs against the servers it passes on; where it leaves some out, the
comment above it says why: what the command does wrong there."""

import json
import os
import uuid

import pytest

from faults import counts
from filetransfer.run.resume import CHECK_BYTES
from helpers import make_files, tree
from remote import write_hosts
from servers.login import logins

FILES = {'a.txt': b'A' * 10, 'empty.txt': b'', 'sub/b.bin': os.urandom(700_000),
         'sub/deeper/c.csv': b'x,y\n1,2\n', 'with space.txt': b'spaces'}
MANY = {f'{folder}f{number:02d}.txt': os.urandom(number * 311)
        for number in range(24) for folder in ('', 'sub/')}


def fresh() -> str:
    """A folder of its own in the login's directory (servers are shared by the run)."""
    return f'matrix-{uuid.uuid4().hex[:8]}'


def directories(root) -> set:
    """The directories below ``root``, relative to it."""
    return {os.path.relpath(os.path.join(folder, name), str(root))
            for folder, names, _ in os.walk(str(root)) for name in names}


def put(login, folder, files) -> None:
    """Files on the server, owned by its login as if it had written them."""
    make_files(login.path(folder), files)
    login.own(login.path(folder))


def run(ws, job, *options):
    return ws.run('-v', *options, job)


def assert_ok(done, ws, job) -> None:
    assert (done.returncode, done.stderr) == (0, ''), ws.log_text(job)


def assert_failed(done, login, *parts) -> None:
    """Exit 2, a message naming the server and ``parts``, no stack trace."""
    assert done.returncode == 2, done.stderr
    for part in (f'127.0.0.1:{login.port}', *parts):
        assert part in done.stderr, done.stderr
    assert 'Traceback' not in done.stderr


@pytest.mark.parametrize('temp', [None, 'dot', 'ext:.part', 'dir:.incoming'])
def test_both_ways_with_delete(ws, login, tmp_path, temp):
    """Up into a directory the job creates, then down again deleting on the server."""
    folder = fresh()
    temp_option = {'temp': temp} if temp else {}
    make_files(ws.src, FILES)
    write_hosts(ws, srv=login.host_section())
    ws.write_job('up', source={'recursive': 'yes'},
                 target={'host_id': 'srv', 'path': login.remote(folder, 'new', 'dir'),
                         **temp_option})
    assert_ok(run(ws, 'up'), ws, 'up')
    assert tree(login.path(folder, 'new', 'dir')) == FILES
    assert directories(login.path(folder, 'new', 'dir')) == {'sub', 'sub/deeper'}
    ws.write_job('down', source={'host_id': 'srv', 'path': login.remote(folder, 'new'),
                                 'recursive': 'yes', 'delete': 'yes'},
                 target={'path': str(tmp_path / 'down'), **temp_option})
    assert_ok(run(ws, 'down'), ws, 'down')
    assert tree(tmp_path / 'down') == {f'dir/{name}': data for name, data in FILES.items()}
    assert directories(tmp_path / 'down') == {'dir', 'dir/sub', 'dir/sub/deeper'}
    assert tree(login.path(folder)) == {}


@pytest.mark.parametrize('direction', ['up', 'down'])
def test_temp_directories_found_there_stay(ws, login, tmp_path, direction):
    """temp = dir:SUBDIR: the directories the job made there go once empty, those
    it found there stay, and so does what others keep there."""
    folder = fresh()
    files = {'a.txt': b'A', 'sub/b.txt': b'B', 'sub/deeper/c.txt': b'C', 'x/y/z.txt': b'Z'}
    write_hosts(ws, srv=login.host_section())
    if direction == 'up':
        make_files(ws.src, files)
        target_dir = login.path(folder)
        ws.write_job(source={'recursive': 'yes'},
                     target={'host_id': 'srv', 'path': login.remote(folder),
                             'temp': 'dir:.incoming'})
    else:
        put(login, folder, files)
        target_dir = str(tmp_path / 'down')
        ws.write_job(source={'host_id': 'srv', 'path': login.remote(folder),
                             'recursive': 'yes'},
                     target={'path': target_dir, 'temp': 'dir:.incoming'})
    # made by others before the run
    make_files(target_dir, {'.incoming/sub/keep-me': b"not the job's"})
    os.mkdir(os.path.join(target_dir, '.incoming', 'old'))
    if direction == 'up':
        login.own(target_dir)
    assert_ok(run(ws, 'job1'), ws, 'job1')
    assert tree(target_dir) == {**files, '.incoming/sub/keep-me': b"not the job's"}
    assert directories(target_dir) == {'sub', 'sub/deeper', 'x', 'x/y', '.incoming',
                                       '.incoming/old', '.incoming/sub'}


# Servers that announce REST STREAM but refuse REST before STOR (ProFTPD: 451
# "Append/Restart not permitted", AllowStoreRestart is off by default).
REFUSE_UPLOAD_RESTART = ('proftpd-FTP', 'proftpd-FTPS')


# ProFTPD cannot continue an upload: see the next scenario.
@pytest.mark.parametrize('login, direction', [
    pytest.param(each, direction, id=f'{each}-{direction}')
    for each in logins() for direction in ('up', 'down')
    if (each, direction) not in {(name, 'up') for name in REFUSE_UPLOAD_RESTART}],
    indirect=['login'])
def test_resume_sends_only_the_rest(ws, login, tmp_path, direction):
    data = os.urandom(3 << 20)
    point = len(data) // 2 + 4321
    folder = fresh()
    write_hosts(ws, srv=login.host_section())
    remote = {'host_id': 'srv', 'path': login.remote(folder)}
    if direction == 'up':
        make_files(ws.src, {'big.bin': data})
        put(login, folder, {'.big.bin': data[:point]})
        ws.write_job(target={**remote, 'temp': 'dot', 'resume': 'yes'})
        final = login.path(folder, 'big.bin')
    else:
        put(login, folder, {'big.bin': data})
        make_files(ws.dst, {'.big.bin': data[:point]})
        ws.write_job(source=remote, target={'temp': 'dot', 'resume': 'yes'})
        final = os.path.join(ws.dst, 'big.bin')
    ws.record_partial('.big.bin')         # left by a killed run
    assert_ok(run(ws, 'job1'), ws, 'job1')
    with open(final, 'rb') as fh:
        assert fh.read() == data
    assert f'resuming big.bin at byte {point} of {len(data)} (the {CHECK_BYTES} bytes ' \
           'before it match the source)' in ws.log_text()


@pytest.mark.parametrize('login', REFUSE_UPLOAD_RESTART, indirect=True)
def test_upload_resume_refused_by_the_server_sends_the_files_whole(ws, login):
    """The first refusal is logged and its file sent whole in the same run; the
    server is not asked to continue a file again in that session."""
    files = {'a.bin': os.urandom(2 << 20), 'b.bin': os.urandom(2 << 20)}
    folder = fresh()
    make_files(ws.src, files)
    put(login, folder, {f'.{name}': data[:(1 << 20) + 99] for name, data in files.items()})
    write_hosts(ws, srv=login.host_section())
    ws.write_job(target={'host_id': 'srv', 'path': login.remote(folder), 'temp': 'dot',
                         'resume': 'yes'})
    for name in files:
        ws.record_partial(f'.{name}')     # left by a killed run
    assert_ok(run(ws, 'job1'), ws, 'job1')
    assert tree(login.path(folder)) == files
    log_text = ws.log_text()
    assert log_text.count('the server refuses to continue a file at an offset (REST, '
                          'then STOR: 451 ') == 1, log_text
    assert 'files are transferred whole from now on' in log_text
    assert 'resuming a.bin at byte' in log_text and 'resuming b.bin' not in log_text


def test_listing_of_2000_entries(ws, login, tmp_path):
    folder = fresh()
    put(login, folder, {**{f'skip-{number:04d}.log': '' for number in range(1999)},
                        'take.txt': 'taken'})
    write_hosts(ws, srv=login.host_section())
    ws.write_job(source={'host_id': 'srv', 'path': login.remote(folder), 'files': '*.txt'})
    assert_ok(run(ws, 'job1'), ws, 'job1')
    assert tree(ws.dst) == {'take.txt': b'taken'}


def test_several_connections_both_ways(ws, login, tmp_path):
    folder = fresh()
    make_files(ws.src, MANY)
    write_hosts(ws, srv=login.host_section(connections='4'))
    ws.write_job('up', job={'log_level': 'DEBUG'}, source={'recursive': 'yes'},
                 target={'host_id': 'srv', 'path': login.remote(folder),
                         'temp': 'dir:.incoming'})
    done = ws.run('--json', 'up')
    assert done.returncode == 0, done.stderr
    assert counts(json.loads(done.stdout)) == (len(MANY), 0, 0)
    assert tree(login.path(folder)) == MANY
    assert directories(login.path(folder)) == {'sub'}     # the temp ones made, removed
    assert '4 files at once' in ws.log_text('up')
    ws.write_job('down', source={'host_id': 'srv', 'path': login.remote(folder),
                                 'recursive': 'yes', 'delete': 'yes'},
                 target={'path': str(tmp_path / 'back')})
    done = ws.run('--json', 'down')
    assert done.returncode == 0, done.stderr
    assert counts(json.loads(done.stdout)) == (len(MANY), 0, 0)
    assert tree(tmp_path / 'back') == MANY
    assert tree(login.path(folder)) == {}


# -- errors --------------------------------------------------------------------------

def test_wrong_password_fails_without_showing_it(ws, login):
    wrong = 'Wrong-' + uuid.uuid4().hex
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_app(logging={'log_dir': ws.log_dir, 'log_level': 'DEBUG'})
    write_hosts(ws, srv=login.host_section(password=wrong))
    ws.write_job(target={'host_id': 'srv', 'path': login.remote(fresh())})
    done = run(ws, 'job1')
    assert_failed(done, login, f'for user {login.user}')
    assert wrong not in done.stdout + done.stderr + ws.log_text()


def test_wrong_password_is_not_tried_again(ws, login):
    """Another try cannot fix it, and repeated wrong passwords can lock the account."""
    make_files(ws.src, {'a.txt': 'A'})
    write_hosts(ws, srv=login.host_section(password='Wrong-' + uuid.uuid4().hex))
    ws.write_job(job={'retries': '1'},
                 target={'host_id': 'srv', 'path': login.remote(fresh())})
    done = run(ws, 'job1')
    assert_failed(done, login)
    assert 'not tried again' in ws.log_text() and 'trying again' not in ws.log_text()


def test_missing_source_directory(ws, login):
    missing = login.remote(fresh(), 'missing')
    write_hosts(ws, srv=login.host_section())
    ws.write_job(source={'host_id': 'srv', 'path': missing})
    assert_failed(run(ws, 'job1'), login, missing)


def test_target_directory_that_cannot_be_created(ws, login):
    folder = fresh()
    put(login, folder, {'blocker': 'a file where a directory should be'})
    make_files(ws.src, {'a.txt': 'A'})
    write_hosts(ws, srv=login.host_section())
    target = login.remote(folder, 'blocker', 'sub')
    ws.write_job(target={'host_id': 'srv', 'path': target})
    assert_failed(run(ws, 'job1'), login, 'blocker')
    assert tree(login.path(folder)) == {'blocker': b'a file where a directory should be'}


# pyftpdlib runs as root here: it may create a directory anywhere.
@pytest.mark.parametrize('login', logins(but=('pyftpdlib-FTP', 'pyftpdlib-FTPS')),
                         indirect=True)
def test_target_directory_in_a_directory_of_another_user(ws, login):
    folder = fresh()
    os.mkdir(login.path(folder))
    login.own(login.path(folder))
    os.mkdir(login.path(folder, 'roots'))      # root's, not the login's
    make_files(ws.src, {'a.txt': 'A'})
    write_hosts(ws, srv=login.host_section())
    target = login.remote(folder, 'roots', 'sub')
    ws.write_job(target={'host_id': 'srv', 'path': target})
    assert_failed(run(ws, 'job1'), login, f'cannot create target directory {target}')
    assert os.listdir(login.path(folder, 'roots')) == []


# -- certificates ----------------------------------------------------------------------

@pytest.mark.parametrize('login', logins('FTPS'), indirect=True)
def test_certificate_verified_against_the_ca_and_another_ca_refused(ws, login, tls_files):
    folder = fresh()
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job(target={'host_id': 'srv', 'path': login.remote(folder)})
    write_hosts(ws, srv=login.host_section(ca_file=tls_files[2]))
    assert_failed(run(ws, 'job1'), login, 'certificate verification failed')
    assert not os.path.exists(login.path(folder))
    write_hosts(ws, srv=login.host_section())
    assert_ok(run(ws, 'job1'), ws, 'job1')
    assert tree(login.path(folder)) == {'a.txt': b'A'}
