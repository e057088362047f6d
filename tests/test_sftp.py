"""SFTP jobs against the real OpenSSH sshd, through the real command."""

import os
import pwd
import signal
import socket
import subprocess

import pytest

from helpers import make_files, tree
from procs import make_sparse, stop_while_writing, wait_for
from remote import known_hosts_with_another_key, max_rss_kib, sftp_host, write_hosts

FILES = {'a.txt': b'A' * 10, 'empty.txt': b'', 'sub/b.bin': os.urandom(2_500_000),
         'sub/deeper/c.csv': b'x,y\n1,2\n'}


def upload_job(ws, remote, target=None, job=None, **host):
    write_hosts(ws, srv=host)
    ws.write_job(job=job, source={'recursive': 'yes'},
                 target={'host_id': 'srv', 'path': str(remote), **(target or {})})


def assert_failed(done, *parts, trace=False):
    """Exit 2 with a message holding ``parts`` (and a stack trace only with -vv)."""
    assert done.returncode == 2, done.stderr
    for part in parts:
        assert part in done.stderr, done.stderr
    assert ('Traceback' in done.stderr) == trace


@pytest.mark.parametrize('temp', [None, 'dot', 'ext:.part', 'dir:.incoming'])
def test_upload_tree_with_temp_modes(ws, live_sshd, tmp_path, temp):
    make_files(ws.src, FILES)
    remote = tmp_path / 'remote' / 'new' / 'dir'          # created by the job
    upload_job(ws, remote, target={'temp': temp} if temp else None, **sftp_host(live_sshd))
    done = ws.run('job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert not os.path.exists(remote / '.incoming')   # made by the job, removed once empty
    assert tree(remote) == FILES


def test_download_tree_with_delete(ws, live_sshd, tmp_path):
    remote = tmp_path / 'remote'
    make_files(remote, {**FILES, 'skip.log': 'L', '.hidden/x.txt': 'H'})
    write_hosts(ws, srv=sftp_host(live_sshd))
    ws.write_job(source={'host_id': 'srv', 'path': str(remote), 'recursive': 'yes',
                         'files': '*.txt, *.bin, *.csv', 'delete': 'yes'},
                 target={'temp': 'dot'})
    done = ws.run('job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert tree(ws.dst) == FILES
    assert tree(remote) == {'skip.log': b'L', '.hidden/x.txt': b'H'}


def test_relative_paths_are_relative_to_the_login_directory(ws, live_sshd):
    home = pwd.getpwuid(os.getuid()).pw_dir
    if not os.access(home, os.W_OK):
        pytest.skip(f'the login directory {home} is not writable')
    relative = f'.filetransfer-test-{os.getpid()}'
    make_files(ws.src, {'a.txt': 'A'})
    upload_job(ws, f'{relative}/x', **sftp_host(live_sshd))
    try:
        done = ws.run('job1')
        assert done.returncode == 0, done.stderr
        assert tree(os.path.join(home, relative)) == {'x/a.txt': b'A'}
    finally:
        subprocess.run(['rm', '-rf', os.path.join(home, relative)], check=True)


@pytest.mark.parametrize('temp', [None, 'dot'])
def test_existing_target_files_are_replaced(ws, live_sshd, tmp_path, temp):
    remote = tmp_path / 'remote'
    make_files(remote, {'a.txt': 'old and longer', 'sub/b.txt': 'old'})
    make_files(ws.src, {'a.txt': 'new', 'sub/b.txt': 'newer'})
    upload_job(ws, remote, target={'temp': temp} if temp else None, **sftp_host(live_sshd))
    done = ws.run('job1')
    assert done.returncode == 0, done.stderr
    assert tree(remote) == {'a.txt': b'new', 'sub/b.txt': b'newer'}


def test_server_without_posix_rename_gets_replacements_in_steps(ws, tmp_path):
    """SFTP version 3 semantics: a rename never replaces; the old file is moved
    aside, the new one renamed, the old one removed."""
    from servers.paramiko_sftp import PlainSftpServer
    served = tmp_path / 'served'
    make_files(served, {'up/a.txt': 'old a', 'up/sub/b.txt': 'old b'})
    server = PlainSftpServer(str(tmp_path), str(served))
    try:
        make_files(ws.src, {'a.txt': 'new a', 'sub/b.txt': 'new b', 'c.txt': 'new c'})
        # one file at a time: files in flight together may each ask before one's refusal
        upload_job(ws, '/up', target={'temp': 'dot', 'connections': '1'}, type='SFTP',
                   host=f'127.0.0.1:{server.port}', user=server.user,
                   password=server.password, known_hosts=server.known_hosts)
        done = ws.run('-v', 'job1')
    finally:
        server.stop()
    assert (done.returncode, done.stderr) == (0, '')
    assert tree(served) == {'up/a.txt': b'new a', 'up/sub/b.txt': b'new b',
                            'up/c.txt': b'new c'}
    operations = [operation for operation, _ in server.requests]
    assert operations.count('posix_rename') == 1          # refused once, then not asked
    assert operations.count('rename') == 3 + 2 * 2        # a, b: aside, new; c: new


def test_an_upload_stopped_before_its_open_leaves_the_servers_file(ws, tmp_path):
    """SIGTERM while the client waits for the server before it opens a file the
    server has under that name (here the look at its folder): nothing of the file
    was written, so the server's file stays, and the run's record does not take
    it for a partial file of the job (the next run would remove it)."""
    from servers.paramiko_sftp import PlainSftpServer
    served = tmp_path / 'served'
    make_files(served, {'up/sub/a.txt': 'theirs'})
    server = PlainSftpServer(str(tmp_path), str(served), mute=(('stat', 'up/sub'),))
    try:
        make_files(ws.src, {'sub/a.txt': 'ours'})
        upload_job(ws, '/up', type='SFTP',
                   host=f'127.0.0.1:{server.port}', user=server.user,
                   password=server.password, known_hosts=server.known_hosts)
        proc = ws.popen('-v', 'job1', stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        text=True)
        wait_for(lambda: any(request == 'stat' and path.endswith('/up/sub')
                             for request, path in server.requests), proc=proc)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        server.stop()
    assert proc.returncode == 5, err
    assert tree(served) == {'up/sub/a.txt': b'theirs'}
    assert [name for name in os.listdir(ws.locks_dir) if '.writing.' in name] == []
    assert [path for request, path in server.requests if request == 'remove'] == []


def test_ready_file_on_a_local_source_with_a_remote_target(ws, live_sshd, tmp_path):
    remote = tmp_path / 'remote'
    make_files(ws.src, {'a.txt': 'A', 'b.txt': 'B'})
    upload_job(ws, remote, job={'ready_file': 'go.now'}, **sftp_host(live_sshd))
    done = ws.run('job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert not remote.exists()                  # not run: not even connected
    make_files(ws.src, {'go.now': ''})
    done = ws.run('job1')
    assert done.returncode == 0, done.stderr
    assert tree(remote) == {'a.txt': b'A', 'b.txt': b'B'}
    assert sorted(os.listdir(ws.src)) == ['a.txt', 'b.txt']


def test_ready_file_on_an_sftp_source(ws, live_sshd, tmp_path):
    remote = tmp_path / 'remote'
    make_files(remote, {'a.txt': 'A'})
    write_hosts(ws, srv=sftp_host(live_sshd))
    ws.write_job(job={'ready_file': 'done.flag'}, source={'host_id': 'srv', 'path': str(remote)})
    done = ws.run('job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert not os.path.exists(ws.dst) and tree(remote) == {'a.txt': b'A'}
    make_files(remote, {'done.flag': ''})
    done = ws.run('job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert tree(ws.dst) == {'a.txt': b'A'}
    assert tree(remote) == {'a.txt': b'A'}          # the ready file is deleted


def test_per_file_target_error_is_counted_and_the_job_goes_on(ws, live_sshd, tmp_path):
    remote = tmp_path / 'remote'
    os.makedirs(remote / 'b.txt')               # a directory where the file must go
    make_files(ws.src, {'a.txt': 'A', 'b.txt': 'B', 'c.txt': 'C'})
    upload_job(ws, remote, target={'temp': 'dot'}, **sftp_host(live_sshd))
    done = ws.run('-v', 'job1')
    assert done.returncode == 1, done.stderr
    assert done.stdout == ('Job finished: 2 file(s) transferred, 0 source error(s), '
                           '1 target error(s)\n')
    assert tree(remote) == {'a.txt': b'A', 'c.txt': b'C'}
    assert 'target error: b.txt' in ws.log_text()


# -- keys and passwords -----------------------------------------------------------

@pytest.mark.parametrize('kind,key_type', [('ed25519', 'Ed25519'), ('ecdsa', 'ECDSA'),
                                           ('rsa', 'RSA'), ('rsa', None), ('ecdsa', None)])
def test_key_types(ws, live_sshd, tmp_path, kind, key_type):
    make_files(ws.src, {'a.txt': 'A'})
    upload_job(ws, tmp_path / 'remote', **sftp_host(
        live_sshd, key_file=live_sshd.client_keys[kind], key_type=key_type))
    done = ws.run('-v', 'job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert tree(tmp_path / 'remote') == {'a.txt': b'A'}


def test_key_and_known_hosts_from_the_sftp_section(ws, live_sshd, tmp_path):
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_app({'sftp': {'key_ecdsa_file': live_sshd.client_keys['ecdsa'],
                           'known_hosts': live_sshd.known_hosts}})
    upload_job(ws, tmp_path / 'remote', **sftp_host(live_sshd, key_file=None,
                                                     known_hosts=None, key_type='ECDSA'))
    done = ws.run('-v', 'job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert tree(tmp_path / 'remote') == {'a.txt': b'A'}


@pytest.fixture
def encrypted_key(live_sshd, tmp_path):
    """The authorized ed25519 key, protected by a passphrase."""
    path = str(tmp_path / 'id_encrypted')
    with open(live_sshd.client_keys['ed25519'], 'rb') as fh, open(path, 'wb') as out:
        out.write(fh.read())
    os.chmod(path, 0o600)
    passphrase = 'Pass-' + os.urandom(6).hex()
    subprocess.run(['ssh-keygen', '-q', '-p', '-P', '', '-N', passphrase, '-f', path],
                   check=True, capture_output=True)
    return path, passphrase


def test_encrypted_key_with_key_pass(ws, live_sshd, tmp_path, encrypted_key):
    path, passphrase = encrypted_key
    make_files(ws.src, {'a.txt': 'A'})
    upload_job(ws, tmp_path / 'remote', **sftp_host(live_sshd, key_file=path,
                                                     key_pass=passphrase))
    done = ws.run('-v', 'job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert tree(tmp_path / 'remote') == {'a.txt': b'A'}


@pytest.mark.parametrize('key_pass,expected', [(None, 'it is encrypted: set key_pass'),
                                               ('wrong-Passphrase', 'wrong key_pass')])
def test_encrypted_key_without_or_with_a_wrong_key_pass(ws, live_sshd, tmp_path,
                                                       encrypted_key, key_pass, expected):
    path, passphrase = encrypted_key
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_app(logging={'log_dir': ws.log_dir, 'log_level': 'DEBUG'})
    upload_job(ws, tmp_path / 'remote', **sftp_host(live_sshd, key_file=path,
                                                     key_pass=key_pass))
    done = ws.run('-vv', 'job1')
    assert_failed(done, f'SFTP 127.0.0.1:{live_sshd.port}', expected, trace=True)
    assert not (tmp_path / 'remote').exists()
    for secret in (passphrase, 'wrong-Passphrase'):
        assert secret not in done.stderr + ws.log_text()


def test_key_type_must_match_the_key_file(ws, live_sshd, tmp_path):
    make_files(ws.src, {'a.txt': 'A'})
    upload_job(ws, tmp_path / 'remote', **sftp_host(live_sshd, key_type='RSA'))
    done = ws.run('-v', 'job1')
    assert_failed(done, 'holds a key of type Ed25519, but key_type is RSA')


@pytest.mark.parametrize('key_type', ['DSA', None])
def test_dsa_keys_are_refused_clearly_when_paramiko_cannot_load_them(ws, live_sshd, tmp_path,
                                                                     key_type):
    import paramiko
    if hasattr(paramiko, 'DSSKey'):
        pytest.skip('this paramiko still loads DSA keys')
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import dsa
    key = dsa.generate_private_key(2048)
    path = tmp_path / 'id_dsa'
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))
    make_files(ws.src, {'a.txt': 'A'})
    upload_job(ws, tmp_path / 'remote', **sftp_host(live_sshd, key_file=str(path),
                                                     key_type=key_type))
    done = ws.run('-v', 'job1')
    assert_failed(done, 'cannot load DSA keys', 'use an RSA, ECDSA or Ed25519 key')


def test_wrong_key_is_refused(ws, live_sshd, tmp_path):
    path = str(tmp_path / 'id_other')
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', path], check=True)
    make_files(ws.src, {'a.txt': 'A'})
    upload_job(ws, tmp_path / 'remote', **sftp_host(live_sshd, key_file=path))
    done = ws.run('-v', 'job1')
    assert_failed(done, f'SFTP 127.0.0.1:{live_sshd.port}',
                  f'the key {path} was refused for user {live_sshd.user}')


def test_password_login_both_ways(ws, live_sshd, password_user, tmp_path):
    name, password, home = password_user
    make_files(ws.src, FILES)
    host = sftp_host(live_sshd, user=name, password=password, key_file=None)
    upload_job(ws, os.path.join(home, 'pw-up'), **host)
    done = ws.run('-v', 'job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert tree(os.path.join(home, 'pw-up')) == FILES
    ws.write_job('down', source={'host_id': 'srv', 'path': os.path.join(home, 'pw-up'),
                                 'recursive': 'yes', 'delete': 'yes'},
                 target={'path': str(tmp_path / 'down')})
    done = ws.run('-v', 'down')
    assert (done.returncode, done.stderr) == (0, '')
    assert tree(tmp_path / 'down') == FILES
    assert tree(os.path.join(home, 'pw-up')) == {}


def test_a_file_the_login_may_not_write_is_left_as_it_was(ws, live_sshd, password_user):
    """The target directory (the login's) holds a file of another account, which the
    login may not open for writing but could remove: that file fails and stays as it
    was (nothing of it was written, so nothing is removed); the others go."""
    name, password, home = password_user
    remote = os.path.join(home, f'theirs-{os.getpid()}')
    login = pwd.getpwnam(name)
    os.makedirs(remote)
    try:
        os.chown(remote, login.pw_uid, login.pw_gid)
        make_files(remote, {'a.txt': 'theirs'})        # root's, 0644
        make_files(ws.src, {'a.txt': 'ours', 'b.txt': 'B'})
        upload_job(ws, remote, **sftp_host(live_sshd, user=name, password=password,
                                           key_file=None))
        done = ws.run('job1')
        assert done.returncode == 1, done.stderr
        assert 'a.txt' in ws.log_text('job1')
        assert tree(remote) == {'a.txt': b'theirs', 'b.txt': b'B'}
    finally:
        subprocess.run(['rm', '-rf', remote], check=True)


def test_wrong_password_fails_without_showing_it(ws, live_sshd, password_user):
    name, password, home = password_user
    wrong = password + 'X'
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_app(logging={'log_dir': ws.log_dir, 'log_level': 'DEBUG'})
    upload_job(ws, os.path.join(home, 'never'),
               **sftp_host(live_sshd, user=name, password=wrong, key_file=None))
    done = ws.run('-vv', 'job1')
    assert_failed(done, f'SFTP 127.0.0.1:{live_sshd.port}',
                  f'authentication failed for user {name}', trace=True)
    log = ws.log_text()
    assert 'authentication failed' in log
    assert wrong not in done.stderr + done.stdout + log
    assert not os.path.exists(os.path.join(home, 'never'))


def test_refused_login_and_unknown_host_key_are_not_tried_again(ws, live_sshd, password_user,
                                                                tmp_path):
    """Another try cannot fix them, and repeated wrong passwords can lock the account."""
    name, password, home = password_user
    make_files(ws.src, {'a.txt': 'A'})
    upload_job(ws, os.path.join(home, 'never'), job={'retries': '3'},
               **sftp_host(live_sshd, user=name, password=password + 'X', key_file=None))
    done = ws.run('job1', timeout=60)
    assert done.returncode == 2
    assert 'not tried again' in ws.log_text() and 'trying again' not in ws.log_text()
    empty = tmp_path / 'empty_known_hosts'
    empty.write_text('')
    upload_job(ws, home, job={'retries': '3'}, **sftp_host(live_sshd, known_hosts=str(empty)))
    done = ws.run('-v', 'job1', timeout=60)
    assert done.returncode == 2 and 'filetransfer -k' in done.stderr
    assert 'trying again' not in ws.log_text()


def test_unreadable_source_file_is_a_source_error(ws, live_sshd, password_user, tmp_path):
    name, password, home = password_user
    remote = os.path.join(home, 'unreadable')
    make_files(remote, {'a.txt': 'A', 'secret.txt': 'S', 'c.txt': 'C'})
    os.chmod(os.path.join(remote, 'secret.txt'), 0o000)     # owned by root, not by name
    user = pwd.getpwnam(name)
    os.chown(remote, user.pw_uid, user.pw_gid)
    write_hosts(ws, srv=sftp_host(live_sshd, user=name, password=password, key_file=None))
    ws.write_job(source={'host_id': 'srv', 'path': remote, 'delete': 'yes'})
    done = ws.run('-v', 'job1')
    assert done.returncode == 1, done.stderr
    assert done.stdout == ('Job finished: 2 file(s) transferred, 1 source error(s), '
                           '0 target error(s)\n')
    assert tree(ws.dst) == {'a.txt': b'A', 'c.txt': b'C'}
    assert os.listdir(remote) == ['secret.txt']
    assert 'source error: secret.txt: Permission denied' in ws.log_text()


# -- host keys -----------------------------------------------------------------------

def test_unknown_host_key_is_refused_and_the_fix_is_named(ws, live_sshd, tmp_path):
    known = tmp_path / 'known_hosts'
    known.write_text('# nothing for this host yet\n')
    make_files(ws.src, {'a.txt': 'A'})
    upload_job(ws, tmp_path / 'remote', **sftp_host(live_sshd, known_hosts=str(known)))
    done = ws.run('-v', 'job1')
    assert_failed(done, f'the host key of [127.0.0.1]:{live_sshd.port} is unknown',
                  f'filetransfer -k -p {live_sshd.port} 127.0.0.1 {known}')
    assert known.read_text() == '# nothing for this host yet\n'     # never added
    assert not (tmp_path / 'remote').exists()


def test_changed_host_key_is_refused(ws, live_sshd, tmp_path):
    known = known_hosts_with_another_key(tmp_path, live_sshd)
    make_files(ws.src, {'a.txt': 'A'})
    upload_job(ws, tmp_path / 'remote', **sftp_host(live_sshd, known_hosts=str(known)))
    done = ws.run('-v', 'job1')
    assert_failed(done, f'the host key of [127.0.0.1]:{live_sshd.port} has CHANGED',
                  f'filetransfer -k -p {live_sshd.port} 127.0.0.1 {known}')
    assert not (tmp_path / 'remote').exists()


def test_only_a_known_key_type_of_the_server_is_asked_for(ws, live_sshd, tmp_path):
    """The known_hosts file has only the server's RSA key: the handshake asks for it."""
    known = live_sshd.write_known_hosts(str(tmp_path / 'known_hosts'), kinds=('rsa',))
    make_files(ws.src, {'a.txt': 'A'})
    upload_job(ws, tmp_path / 'remote', **sftp_host(live_sshd, known_hosts=known))
    done = ws.run('-v', 'job1')
    assert (done.returncode, done.stderr) == (0, '')


def test_hashed_known_hosts_entries(ws, live_sshd, tmp_path):
    known = live_sshd.write_known_hosts(str(tmp_path / 'known_hosts'))
    subprocess.run(['ssh-keygen', '-q', '-H', '-f', known], check=True, capture_output=True)
    assert '127.0.0.1' not in open(known).read()
    make_files(ws.src, {'a.txt': 'A'})
    upload_job(ws, tmp_path / 'remote', **sftp_host(live_sshd, known_hosts=known))
    done = ws.run('-v', 'job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert tree(tmp_path / 'remote') == {'a.txt': b'A'}


def test_missing_known_hosts_file(ws, live_sshd, tmp_path):
    missing = tmp_path / 'no_known_hosts'
    make_files(ws.src, {'a.txt': 'A'})
    upload_job(ws, tmp_path / 'remote', **sftp_host(live_sshd, known_hosts=str(missing)))
    done = ws.run('-v', 'job1')
    assert_failed(done, f'cannot read known_hosts file {missing}: No such file',
                  f'filetransfer -k -p {live_sshd.port} 127.0.0.1 {missing}')


# -- failures of the server ------------------------------------------------------

def test_server_down(ws, live_sshd, tmp_path):
    make_files(ws.src, {'a.txt': 'A'})
    upload_job(ws, tmp_path / 'remote', **sftp_host(live_sshd))
    live_sshd.stop()
    done = ws.run('-v', 'job1')
    assert_failed(done, f'cannot connect to SFTP 127.0.0.1:{live_sshd.port}',
                  'Connection refused')
    assert 'exit code 2' in ws.log_text()


def test_silent_server_times_out_while_connecting(ws, live_sshd, tmp_path):
    with socket.socket() as silent:      # accepts connections (backlog), never speaks
        silent.bind(('127.0.0.1', 0))
        silent.listen()
        port = silent.getsockname()[1]
        make_files(ws.src, {'a.txt': 'A'})
        upload_job(ws, tmp_path / 'remote',
                   **sftp_host(live_sshd, host=f'127.0.0.1:{port}', timeout='0.5'))
        done = ws.run('-v', 'job1')
    assert_failed(done, f'SFTP 127.0.0.1:{port}', 'timed out')


@pytest.mark.parametrize('direction', ['up', 'down'])
def test_server_stopped_mid_transfer_then_retries_succeed(ws, live_sshd, tmp_path, direction):
    remote = tmp_path / 'remote'
    big = 96 * 1024 * 1024
    write_hosts(ws, srv=sftp_host(live_sshd))
    if direction == 'up':
        make_sparse(os.path.join(ws.src, 'big.bin'), big)
        ws.write_job(job={'retries': '3'}, target={'host_id': 'srv', 'path': str(remote),
                                                   'temp': 'dot'})
        partial, final = remote / '.big.bin', remote / 'big.bin'
    else:
        make_sparse(str(remote / 'big.bin'), big)
        ws.write_job(job={'retries': '3'}, source={'host_id': 'srv', 'path': str(remote)},
                     target={'temp': 'dot'})
        partial, final = os.path.join(ws.dst, '.big.bin'), os.path.join(ws.dst, 'big.bin')
    proc = ws.popen('-v', 'job1', stderr=subprocess.PIPE, text=True)
    try:
        assert stop_while_writing(proc, str(partial), str(final)), 'copied too fast to catch'
        live_sshd.stop()            # the host goes down in the middle of the file
        live_sshd.start()
        os.kill(proc.pid, signal.SIGCONT)
        stderr = proc.communicate(timeout=120)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    log = ws.log_text()
    assert 'try 1 of 4 failed' in log and 'connection lost' in log
    source, target = (ws.src, remote) if direction == 'up' else (remote, ws.dst)
    assert tree(target) == tree(source)


def test_operation_timeout_when_the_server_stops_answering(ws, live_sshd, tmp_path):
    remote = tmp_path / 'remote'
    make_sparse(os.path.join(ws.src, 'big.bin'), 96 * 1024 * 1024)
    upload_job(ws, remote, target={'temp': 'dot'}, **sftp_host(live_sshd, timeout='1'))
    proc = ws.popen('-v', 'job1', stderr=subprocess.PIPE, text=True)
    frozen = []
    try:
        wait_for(lambda: (remote / '.big.bin').exists(), proc=proc)
        frozen = [pid for pid in live_sshd.sessions() if _comm(pid) == 'sftp-server']
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        stderr = proc.communicate(timeout=60)[1]
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
        if proc.poll() is None:
            proc.kill()
    assert frozen
    assert proc.returncode == 2, stderr
    assert f'SFTP 127.0.0.1:{live_sshd.port}: no answer within the timeout (1.0 s)' in stderr


def _comm(pid):
    try:
        with open(f'/proc/{pid}/comm') as fh:
            return fh.read().strip()
    except OSError:
        return None


def test_sigterm_mid_upload_removes_the_partial_file(ws, live_sshd, tmp_path):
    remote = tmp_path / 'remote'
    make_sparse(os.path.join(ws.src, 'big.bin'), 96 * 1024 * 1024)
    upload_job(ws, remote, target={'temp': 'dot'}, **sftp_host(live_sshd))
    ws.write_app(logging={'log_dir': ws.log_dir, 'log_level': 'DEBUG'})
    proc = ws.popen('job1')
    assert stop_while_writing(proc, str(remote / '.big.bin'), str(remote / 'big.bin'))
    os.kill(proc.pid, signal.SIGTERM)
    os.kill(proc.pid, signal.SIGCONT)
    assert proc.wait(timeout=60) == 5
    assert tree(remote) == {}
    assert 'terminated' in ws.log_text()


@pytest.mark.slow
def test_big_file_streams_with_flat_memory(ws, live_sshd, tmp_path):
    size = 256 * 1024 * 1024
    remote = tmp_path / 'remote'
    make_sparse(os.path.join(ws.src, 'big.bin'), size)
    write_hosts(ws, srv=sftp_host(live_sshd))
    ws.write_job('up', target={'host_id': 'srv', 'path': str(remote), 'temp': 'dot'})
    ws.write_job('down', source={'host_id': 'srv', 'path': str(remote)},
                 target={'path': str(tmp_path / 'back')})
    for job in ('up', 'down'):
        done, rss = max_rss_kib(ws, job)
        assert done.returncode == 0, done.stderr
        assert rss < 100 * 1024, f'{job}: peak memory {rss} KiB for a {size >> 20} MiB file'
    assert os.path.getsize(tmp_path / 'back' / 'big.bin') == size
    assert subprocess.run(['cmp', os.path.join(ws.src, 'big.bin'),
                           str(tmp_path / 'back' / 'big.bin')]).returncode == 0


@pytest.mark.parametrize('exists', [True, False])
def test_the_target_directory_is_looked_at_once_and_made_only_when_missing(ws, tmp_path,
                                                                           exists):
    """An existing target directory costs one look; a missing one whose parent exists
    is made at once (no look at the parent), then looked at."""
    from servers.paramiko_sftp import PlainSftpServer
    served = tmp_path / 'served'
    (served / 'up' if exists else served).mkdir(parents=True)
    make_files(ws.src, {'a.txt': 'a'})
    server = PlainSftpServer(str(tmp_path), str(served))
    try:
        upload_job(ws, '/up', type='SFTP', host=f'127.0.0.1:{server.port}', user=server.user,
                   password=server.password, known_hosts=server.known_hosts)
        done = ws.run('job1')
    finally:
        server.stop()
    assert (done.returncode, done.stderr) == (0, '')
    assert tree(served) == {'up/a.txt': b'a'}
    before_open = server.requests[:[op for op, _ in server.requests].index('open')]
    assert before_open == ([('stat', '/up')] if exists else
                           [('stat', '/up'), ('mkdir', '/up'), ('stat', '/up')])
