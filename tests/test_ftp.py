"""FTP and FTPS jobs against real pyftpdlib servers, through the real command."""

import ftplib
import os
import signal
import socket
import ssl
import subprocess
import uuid

import pytest

from helpers import make_files, tree
from procs import make_sparse, stop_while_writing, wait_for
from remote import ftp_host, max_rss_kib, sftp_host, write_hosts

FILES = {'a.txt': b'A' * 10, 'empty.txt': b'', 'sub/b.bin': os.urandom(2_500_000),
         'sub/deeper/c.csv': b'x,y\n1,2\n', 'with space.txt': b'spaces'}


def fresh_dir() -> str:
    """A directory name of its own on a server shared by several tests."""
    return f'test-{uuid.uuid4().hex[:8]}'


def assert_failed(done, *parts):
    assert done.returncode == 2, done.stderr
    for part in parts:
        assert part in done.stderr, done.stderr
    assert 'Traceback' not in done.stderr


def after(commands, first):
    """The commands a server received after the first ``first``."""
    return commands[commands.index(first) + 1:]


@pytest.mark.parametrize('temp', [None, 'dot'])
def test_upload_then_download_trees(ws, ftpd, tmp_path, temp):
    """Both directions, a target directory created on the way, delete on the server."""
    folder = fresh_dir()
    make_files(ws.src, FILES)
    write_hosts(ws, srv=ftp_host(ftpd))
    ws.write_job('up', source={'recursive': 'yes'},
                 target={'host_id': 'srv', 'path': f'{folder}/new/dir',
                         **({'temp': temp} if temp else {})})
    done = ws.run('-v', 'up')
    assert (done.returncode, done.stderr) == (0, '')
    assert tree(ftpd.path(folder, 'new', 'dir')) == FILES
    ws.write_job('down', source={'host_id': 'srv', 'path': f'/{folder}/new', 'recursive': 'yes',
                                 'delete': 'yes'},
                 target={'path': str(tmp_path / 'down'), **({'temp': temp} if temp else {})})
    done = ws.run('-v', 'down')
    assert (done.returncode, done.stderr) == (0, '')
    assert tree(tmp_path / 'down') == {f'dir/{name}': data for name, data in FILES.items()}
    assert tree(ftpd.path(folder)) == {}


def test_existing_target_files_are_replaced(ws, ftpd):
    folder = fresh_dir()
    make_files(ftpd.path(folder), {'a.txt': 'old and longer', 'b.txt': 'old'})
    make_files(ws.src, {'a.txt': 'new', 'b.txt': 'newer'})
    write_hosts(ws, srv=ftp_host(ftpd))
    ws.write_job(target={'host_id': 'srv', 'path': folder, 'temp': 'ext:.part'})
    done = ws.run('-v', 'job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert tree(ftpd.path(folder)) == {'a.txt': b'new', 'b.txt': b'newer'}


def test_server_whose_rename_does_not_replace(ws, ftp_server):
    server = ftp_server(rename_replaces=False)
    make_files(server.path('up'), {'a.txt': 'old a', 'b.txt': 'old b'})
    make_files(ws.src, {'a.txt': 'new a', 'b.txt': 'new b', 'c.txt': 'new c'})
    write_hosts(ws, srv=ftp_host(server))
    ws.write_job(target={'host_id': 'srv', 'path': 'up', 'temp': 'dot'})
    done = ws.run('-v', 'job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert tree(server.path('up')) == {'a.txt': b'new a', 'b.txt': b'new b', 'c.txt': b'new c'}
    renames = [line for line in server.commands() if line.startswith('RNTO')]
    assert len(renames) == 3 + 3 + 1        # a, b: refused, old aside, new; c: new
    assert renames[1].startswith('RNTO /up/a.txt.') and renames[1].endswith('.old')


def test_refused_download_is_a_source_error_and_the_job_goes_on(ws, ftp_server):
    server = ftp_server(refuse_retr=['/src/b.txt'])
    make_files(server.path('src'), {'a.txt': 'A', 'b.txt': 'B', 'c.txt': 'C'})
    write_hosts(ws, srv=ftp_host(server))
    ws.write_job(source={'host_id': 'srv', 'path': 'src', 'delete': 'yes'}, target={'temp': 'dot'})
    done = ws.run('-v', 'job1')
    assert done.returncode == 1, done.stderr
    assert done.stdout == ('Job finished: 2 file(s) transferred, 1 source error(s), '
                           '0 target error(s)\n')
    assert tree(ws.dst) == {'a.txt': b'A', 'c.txt': b'C'}
    assert tree(server.path('src')) == {'b.txt': b'B'}
    assert 'source error: b.txt: 550 Permission denied.' in ws.log_text()


def test_a_refused_store_leaves_the_servers_file_of_that_name(ws, ftp_server):
    """The login may list, read and delete, not store: STOR is refused, nothing of
    the file was written, so the server's own a.txt is not removed (DELE would be
    allowed)."""
    server = ftp_server(perm='elrd')
    make_files(server.path('up'), {'a.txt': 'theirs'})
    make_files(ws.src, {'a.txt': 'ours'})
    write_hosts(ws, srv=ftp_host(server))
    ws.write_job(target={'host_id': 'srv', 'path': 'up'})
    done = ws.run('-v', 'job1')
    assert done.returncode == 1, done.stderr
    assert 'target error: a.txt: 550' in ws.log_text()
    assert tree(server.path('up')) == {'a.txt': b'theirs'}


def test_an_upload_stopped_before_its_store_leaves_the_servers_file(ws, ftp_server):
    """SIGTERM while the client waits for the server before it sends the STOR of a
    file the server has under that name (here the CWD that finds its folder):
    nothing of the file was written, so the server's file stays, and the run's
    record does not take it for a partial file of the job (the next run would
    remove it)."""
    server = ftp_server(mute=('CWD /up/sub',))
    make_files(server.path('up'), {'sub/a.txt': 'theirs'})
    make_files(ws.src, {'sub/a.txt': 'ours'})
    write_hosts(ws, srv=ftp_host(server))
    ws.write_job(source={'recursive': 'yes'}, target={'host_id': 'srv', 'path': 'up'})
    proc = ws.popen('-v', 'job1', stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: 'CWD /up/sub' in server.commands(), proc=proc)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 5, err
    assert tree(server.path('up')) == {'sub/a.txt': b'theirs'}
    assert [name for name in os.listdir(ws.locks_dir) if '.writing.' in name] == []
    assert not any(line.startswith('DELE') for line in server.commands())


def test_upload_cut_short_by_the_server_is_a_target_error(ws, ftp_server):
    server = ftp_server(lose_data=True)
    make_files(ws.src, {'a.txt': b'0123456789'})
    write_hosts(ws, srv=ftp_host(server))
    ws.write_job(target={'host_id': 'srv', 'path': 'up'})
    done = ws.run('-v', 'job1')
    assert done.returncode == 1, done.stderr
    assert 'target error: a.txt: the server stored 5 bytes of 10' in ws.log_text()
    assert tree(server.path('up')) == {}


def test_ftps_sends_data_encrypted_or_not(ws, ftp_server):
    server = ftp_server(tls=True)
    make_files(ws.src, {'a.txt': 'A'})
    for encrypt, folder in (('yes', 'p'), ('no', 'c')):
        write_hosts(ws, srv=ftp_host(server, encrypt_data=encrypt))
        ws.write_job(target={'host_id': 'srv', 'path': folder})
        done = ws.run('-v', 'job1')
        assert (done.returncode, done.stderr) == (0, '')
    assert tree(server.home) == {'p/a.txt': b'A', 'c/a.txt': b'A'}
    sessions = '\n'.join(server.commands()).split('AUTH TLS')[1:]
    assert ['PROT P' in session for session in sessions] == [True, False]


def test_listing_without_mlsd_falls_back_from_list_a_to_list(ws, ftp_server, tmp_path):
    server = ftp_server(mlsd=False, list_options=False, size_command=False)
    make_files(server.path('src'), FILES)
    write_hosts(ws, srv=ftp_host(server))
    ws.write_job(source={'host_id': 'srv', 'path': 'src', 'recursive': 'yes', 'delete': 'yes'},
                 target={'path': str(tmp_path / 'down')})
    done = ws.run('-v', 'job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert tree(tmp_path / 'down') == FILES
    assert tree(server.path('src')) == {}
    commands = server.commands()
    assert 'MLSD' not in commands and 'FEAT' in commands
    assert commands.count('LIST -a') == 1      # refused once, then plain LIST
    assert 'LIST' in after(commands, 'LIST -a')
    assert 'LIST -a refused' in ws.log_text()


def test_list_a_is_used_when_the_server_takes_it(ws, ftp_server, tmp_path):
    server = ftp_server(mlsd=False)
    make_files(server.path('src'), FILES)
    write_hosts(ws, srv=ftp_host(server))
    ws.write_job(source={'host_id': 'srv', 'path': 'src', 'recursive': 'yes'},
                 target={'path': str(tmp_path / 'down')})
    done = ws.run('-v', 'job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert tree(tmp_path / 'down') == FILES
    lists = [line for line in server.commands() if line.startswith('LIST')]
    assert lists == ['LIST -a'] * 3


@pytest.mark.parametrize('tls', [False, True])
def test_active_mode(ws, ftp_server, tls):
    server = ftp_server(tls=tls)
    make_files(ws.src, FILES)
    write_hosts(ws, srv=ftp_host(server, passive_mode='no'))
    ws.write_job(source={'recursive': 'yes'}, target={'host_id': 'srv', 'path': 'up'})
    done = ws.run('-v', 'job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert tree(server.path('up')) == FILES
    commands = server.commands()
    assert any(line.startswith(('PORT', 'EPRT')) for line in commands)
    assert not any(line.startswith(('PASV', 'EPSV')) for line in commands)


def test_per_file_target_error_is_counted_and_the_job_goes_on(ws, ftpd):
    folder = fresh_dir()
    os.makedirs(ftpd.path(folder, 'b.txt'))       # a directory where the file must go
    make_files(ws.src, {'a.txt': 'A', 'b.txt': 'B', 'c.txt': 'C'})
    write_hosts(ws, srv=ftp_host(ftpd))
    ws.write_job(target={'host_id': 'srv', 'path': folder})
    done = ws.run('-v', 'job1')
    assert done.returncode == 1, done.stderr
    assert done.stdout == ('Job finished: 2 file(s) transferred, 0 source error(s), '
                           '1 target error(s)\n')
    assert tree(ftpd.path(folder)) == {'a.txt': b'A', 'c.txt': b'C'}
    assert 'target error: b.txt: 550' in ws.log_text()


def test_ready_file_on_a_local_source_with_an_ftp_target(ws, ftpd):
    folder = fresh_dir()
    make_files(ws.src, {'a.txt': 'A', 'go': ''})
    write_hosts(ws, srv=ftp_host(ftpd))
    ws.write_job(job={'ready_file': 'go'}, target={'host_id': 'srv', 'path': folder})
    done = ws.run('-v', 'job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert tree(ftpd.path(folder)) == {'a.txt': b'A'}
    assert os.listdir(ws.src) == ['a.txt']


def test_from_ftp_to_sftp(ws, ftpd, live_sshd, tmp_path):
    """Both ends remote: each has its own connection."""
    folder = fresh_dir()
    make_files(ftpd.path(folder), FILES)
    write_hosts(ws, ftp=ftp_host(ftpd), sftp=sftp_host(live_sshd))
    ws.write_job(source={'host_id': 'ftp', 'path': folder, 'recursive': 'yes'},
                 target={'host_id': 'sftp', 'path': str(tmp_path / 'remote'), 'temp': 'dot'})
    done = ws.run('-v', 'job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert tree(tmp_path / 'remote') == FILES


# -- TLS ---------------------------------------------------------------------------

def test_certificate_of_another_ca_is_refused(ws, ftp_server, tls_files):
    server = ftp_server(tls=True)
    make_files(ws.src, {'a.txt': 'A'})
    write_hosts(ws, srv=ftp_host(server, ca_file=tls_files[2]))
    ws.write_job(target={'host_id': 'srv', 'path': 'up'})
    done = ws.run('-v', 'job1')
    assert_failed(done, f'FTPS 127.0.0.1:{server.port}', 'certificate verification failed')
    assert not os.path.exists(server.path('up'))


def test_system_store_does_not_trust_the_test_ca(ws, ftp_server):
    server = ftp_server(tls=True)
    make_files(ws.src, {'a.txt': 'A'})
    write_hosts(ws, srv=ftp_host(server, ca_file=None))
    ws.write_job(target={'host_id': 'srv', 'path': 'up'})
    done = ws.run('-v', 'job1')
    assert_failed(done, 'certificate verification failed')


def test_verify_cert_off_works_and_warns(ws, ftp_server, tls_files):
    server = ftp_server(tls=True)
    make_files(ws.src, {'a.txt': 'A'})
    write_hosts(ws, srv=ftp_host(server, ca_file=tls_files[2], verify_cert='no'))
    ws.write_job(target={'host_id': 'srv', 'path': 'up'})
    done = ws.run('-v', 'job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert tree(server.path('up')) == {'a.txt': b'A'}
    assert 'WARNING' in ws.log_text() and 'not verified (verify_cert = no)' in ws.log_text()


def test_ca_file_that_cannot_be_read(ws, ftp_server, tmp_path):
    server = ftp_server(tls=True)
    make_files(ws.src, {'a.txt': 'A'})
    write_hosts(ws, srv=ftp_host(server, ca_file=str(tmp_path / 'missing.pem')))
    ws.write_job(target={'host_id': 'srv', 'path': 'up'})
    done = ws.run('-v', 'job1')
    assert_failed(done, 'cannot use ca_file', 'missing.pem')


def test_plain_ftp_client_against_an_ftps_only_feature_is_refused(ws, ftp_server):
    """type = FTPS against a server without TLS: AUTH TLS fails, nothing is sent in clear."""
    server = ftp_server(tls=False)
    make_files(ws.src, {'a.txt': 'A'})
    write_hosts(ws, srv={**ftp_host(server), 'type': 'FTPS'})
    ws.write_job(target={'host_id': 'srv', 'path': 'up'})
    done = ws.run('-v', 'job1')
    assert_failed(done, 'explicit TLS (AUTH TLS) failed')
    assert not any(line.startswith(('USER', 'PASS')) for line in server.commands())


def test_empty_listing_over_tls13_with_an_abrupt_close(ws, ftp_server, tmp_path):
    """The server ends data connections without a TLS close_notify: plain ftplib fails on
    an empty listing under TLS 1.3; the endpoint must not."""
    server = ftp_server(tls=True, abrupt_tls_close=True)
    make_files(server.path('src'), {'a.txt': 'A', 'full/b.txt': 'B'})
    os.makedirs(server.path('src', 'empty'))
    os.makedirs(server.path('nothing'))

    client = ftplib.FTP_TLS(context=ssl.create_default_context(cafile=server.ca_file),
                            timeout=10)
    client.connect('127.0.0.1', server.port)
    client.login(server.user, server.password)
    client.prot_p()
    assert client.sock.version() == 'TLSv1.3'
    with pytest.raises((ssl.SSLError, OSError)):
        client.nlst('/nothing')                     # the trap, with the standard library
    client.close()

    write_hosts(ws, srv=ftp_host(server))
    ws.write_job(source={'host_id': 'srv', 'path': 'src', 'recursive': 'yes'},
                 target={'path': str(tmp_path / 'down')})
    ws.write_job('nothing', source={'host_id': 'srv', 'path': 'nothing'},
                 target={'path': str(tmp_path / 'none')})
    done = ws.run('-v', 'job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert tree(tmp_path / 'down') == {'a.txt': b'A', 'full/b.txt': b'B'}
    done = ws.run('-v', 'nothing')
    assert (done.returncode, done.stderr) == (0, '')
    assert '0 file(s) transferred' in ws.log_text('nothing')


# -- logins and failures -----------------------------------------------------------

def test_wrong_password_fails_without_showing_it(ws, ftpd):
    wrong = 'Wrong-' + uuid.uuid4().hex
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_app(logging={'log_dir': ws.log_dir, 'log_level': 'DEBUG'})
    write_hosts(ws, srv=ftp_host(ftpd, password=wrong))
    ws.write_job(target={'host_id': 'srv', 'path': fresh_dir()})
    done = ws.run('-vv', 'job1')
    assert done.returncode == 2, done.stderr
    assert f'{"FTPS" if ftpd.tls else "FTP"} 127.0.0.1:{ftpd.port}: login failed for user ' \
           f'{ftpd.user}: 530' in done.stderr
    assert wrong not in done.stdout + done.stderr + ws.log_text()


@pytest.mark.parametrize('reply', ['421 Too many users, try again later.',
                                   '450 Cannot check the password now.'])
def test_login_refused_for_now_is_tried_again(ws, ftp_server, reply):
    """A 4xx reply to the login may pass on the next try (a wrong password, 530, is
    not tried again: see test_server_matrix.py)."""
    server = ftp_server(login_replies=[reply])
    make_files(ws.src, {'a.txt': 'A'})
    write_hosts(ws, srv=ftp_host(server))
    ws.write_job(job={'retries': '1'}, target={'host_id': 'srv', 'path': 'up'})
    done = ws.run('-v', 'job1')
    assert (done.returncode, done.stderr) == (0, ''), ws.log_text()
    assert f'login failed for user {server.user}: {reply}; trying again' in ws.log_text()
    assert tree(server.path('up')) == {'a.txt': b'A'}


def test_server_down(ws, ftp_server):
    server = ftp_server()
    make_files(ws.src, {'a.txt': 'A'})
    write_hosts(ws, srv=ftp_host(server))
    ws.write_job(target={'host_id': 'srv', 'path': 'up'})
    server.stop()
    done = ws.run('-v', 'job1')
    assert_failed(done, f'FTP 127.0.0.1:{server.port}: cannot connect: Connection refused')


def test_silent_server_times_out_while_connecting(ws, ftpd):
    with socket.socket() as silent:      # accepts connections (backlog), never speaks
        silent.bind(('127.0.0.1', 0))
        silent.listen()
        port = silent.getsockname()[1]
        make_files(ws.src, {'a.txt': 'A'})
        write_hosts(ws, srv=ftp_host(ftpd, host=f'127.0.0.1:{port}', timeout='0.5'))
        ws.write_job(target={'host_id': 'srv', 'path': 'up'})
        done = ws.run('-v', 'job1')
    assert_failed(done, f'127.0.0.1:{port}: cannot connect: timed out')


@pytest.mark.parametrize('direction', ['up', 'down'])
def test_server_stopped_mid_transfer_then_retries_succeed(ws, ftp_server, tmp_path, direction):
    server = ftp_server(tls=True, throttle=16 * 1024 * 1024)
    big = 24 * 1024 * 1024
    write_hosts(ws, srv=ftp_host(server))
    if direction == 'up':
        make_sparse(os.path.join(ws.src, 'big.bin'), big)
        ws.write_job(job={'retries': '3'}, target={'host_id': 'srv', 'path': 'up',
                                                   'temp': 'dot'})
        partial, final = server.path('up', '.big.bin'), server.path('up', 'big.bin')
    else:
        make_sparse(server.path('down', 'big.bin'), big)
        ws.write_job(job={'retries': '3'}, source={'host_id': 'srv', 'path': 'down'},
                     target={'temp': 'dot'})
        partial, final = os.path.join(ws.dst, '.big.bin'), os.path.join(ws.dst, 'big.bin')
    proc = ws.popen('-v', 'job1', stderr=subprocess.PIPE, text=True)
    try:
        assert stop_while_writing(proc, partial, final), 'copied too fast to catch'
        server.stop()               # the host goes down in the middle of the file
        server.start()
        os.kill(proc.pid, signal.SIGCONT)
        stderr = proc.communicate(timeout=120)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert 'try 1 of 4 failed' in ws.log_text()
    source, target = (ws.src, server.path('up')) if direction == 'up' \
        else (server.path('down'), ws.dst)
    assert tree(target) == tree(source)


def stderr_with_the_server_frozen(proc, server, partial, final) -> str:
    """Stops the job while it writes ``partial``, freezes the server, lets the job
    go on; its stderr once it ended."""
    try:
        assert stop_while_writing(proc, partial, final)
        server.freeze()
        os.kill(proc.pid, signal.SIGCONT)
        return proc.communicate(timeout=60)[1]
    finally:
        server.thaw()
        if proc.poll() is None:
            proc.kill()


def test_operation_timeout_when_the_server_stops_answering(ws, ftp_server):
    server = ftp_server(throttle=4 * 1024 * 1024)
    make_sparse(os.path.join(ws.src, 'big.bin'), 32 * 1024 * 1024)
    write_hosts(ws, srv=ftp_host(server, timeout='1'))
    ws.write_job(target={'host_id': 'srv', 'path': 'up', 'temp': 'dot'})
    proc = ws.popen('-v', 'job1', stderr=subprocess.PIPE, text=True)
    stderr = stderr_with_the_server_frozen(proc, server, server.path('up', '.big.bin'),
                                           server.path('up', 'big.bin'))
    assert proc.returncode == 2, stderr
    assert f'FTP 127.0.0.1:{server.port}: no answer within the timeout (1.0 s)' in stderr


def test_download_timeout_fires_while_keep_alive_noops_go_out(ws, ftp_server):
    """A download waits for data between NOOPs (every 0.2 s here): the timeout
    still counts from the last data received, not from the last NOOP."""
    server = ftp_server(tls=True, throttle=4 * 1024 * 1024)
    make_sparse(server.path('down', 'big.bin'), 32 * 1024 * 1024)
    write_hosts(ws, srv=ftp_host(server, timeout='1', keep_alive='0.2'))
    ws.write_job(source={'host_id': 'srv', 'path': 'down'}, target={'temp': 'dot'})
    proc = ws.popen('-v', 'job1', stderr=subprocess.PIPE, text=True)
    stderr = stderr_with_the_server_frozen(proc, server, os.path.join(ws.dst, '.big.bin'),
                                           os.path.join(ws.dst, 'big.bin'))
    assert proc.returncode == 2, stderr
    assert f'FTPS 127.0.0.1:{server.port}: no answer within the timeout (1.0 s)' in stderr
    assert not os.path.exists(os.path.join(ws.dst, 'big.bin'))


@pytest.mark.parametrize('direction', ['up', 'down'])
def test_keep_alive_noop_during_long_transfers(ws, ftp_server, tmp_path, direction):
    server = ftp_server(tls=True, throttle=512 * 1024)
    data = os.urandom(3 * 512 * 1024)    # pyftpdlib: a first second's worth, 2 s pause, rest
    write_hosts(ws, srv=ftp_host(server, keep_alive='0.2'))
    if direction == 'up':
        make_files(ws.src, {'big.bin': data})
        ws.write_job(target={'host_id': 'srv', 'path': 'up', 'temp': 'dot'})
        transfer, received = 'STOR /up/.big.bin', server.path('up')
    else:
        make_files(server.path('down'), {'big.bin': data})
        ws.write_job(source={'host_id': 'srv', 'path': 'down'})
        transfer, received = 'RETR /down/big.bin', ws.dst
    done = ws.run('-v', 'job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert tree(received) == {'big.bin': data}
    during = after(server.commands(), transfer)
    noops = len([line for line in during[:during.index('QUIT')] if line == 'NOOP'])
    assert noops >= 3


def test_no_keep_alive_when_off(ws, ftp_server):
    server = ftp_server(throttle=1024 * 1024)
    make_files(ws.src, {'big.bin': os.urandom(800_000)})
    write_hosts(ws, srv=ftp_host(server, keep_alive='0'))
    ws.write_job(target={'host_id': 'srv', 'path': 'up'})
    done = ws.run('-v', 'job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert 'NOOP' not in server.commands()


def test_sigterm_mid_upload_removes_the_partial_file(ws, ftp_server):
    server = ftp_server(throttle=8 * 1024 * 1024)
    make_sparse(os.path.join(ws.src, 'big.bin'), 32 * 1024 * 1024)
    write_hosts(ws, srv=ftp_host(server))
    ws.write_job(target={'host_id': 'srv', 'path': 'up', 'temp': 'dot'})
    proc = ws.popen('job1')
    assert stop_while_writing(proc, server.path('up', '.big.bin'), server.path('up', 'big.bin'))
    os.kill(proc.pid, signal.SIGTERM)
    os.kill(proc.pid, signal.SIGCONT)
    assert proc.wait(timeout=60) == 5
    assert tree(server.path('up')) == {}


def test_big_file_streams_with_flat_memory(ws, ftp_server, tmp_path):
    server = ftp_server()
    size = 256 * 1024 * 1024
    make_sparse(os.path.join(ws.src, 'big.bin'), size)
    write_hosts(ws, srv=ftp_host(server))
    ws.write_job('up', target={'host_id': 'srv', 'path': 'up', 'temp': 'dot'})
    ws.write_job('down', source={'host_id': 'srv', 'path': 'up'},
                 target={'path': str(tmp_path / 'back')})
    for job in ('up', 'down'):
        done, rss = max_rss_kib(ws, job)
        assert done.returncode == 0, done.stderr
        assert rss < 100 * 1024, f'{job}: peak memory {rss} KiB for a {size >> 20} MiB file'
    assert subprocess.run(['cmp', os.path.join(ws.src, 'big.bin'),
                           str(tmp_path / 'back' / 'big.bin')]).returncode == 0


# -- servers that refuse what they announce (real ProFTPD, configured so) -------------

def put_on(login, folder, files) -> None:
    """Files in the login's directory, owned by its user as if the server wrote them."""
    make_files(login.path(folder), files)
    login.own(login.path(folder))


def test_refused_mlsd_falls_back_to_list(ws, proftpd_refusing_mlsd, tmp_path):
    """ProFTPD with <Limit MLSD> DenyAll announces MLST but refuses MLSD."""
    login, folder = proftpd_refusing_mlsd, fresh_dir()
    put_on(login, folder, FILES)
    write_hosts(ws, srv=login.host_section())
    ws.write_job(source={'host_id': 'srv', 'path': login.remote(folder), 'recursive': 'yes',
                         'delete': 'yes'}, target={'path': str(tmp_path / 'down')})
    done = ws.run('-v', 'job1')
    assert (done.returncode, done.stderr) == (0, ''), ws.log_text()
    assert tree(tmp_path / 'down') == FILES
    assert tree(login.path(folder)) == {}
    assert ws.log_text().count('MLSD refused (550 Unable to handle command); listing with '
                               'LIST from now on') == 1


@pytest.mark.parametrize('choice', ['list', 'LIST'])
def test_list_command_list_never_asks_for_mlsd(ws, proftpd_refusing_mlsd, tmp_path, choice):
    login, folder = proftpd_refusing_mlsd, fresh_dir()
    put_on(login, folder, FILES)
    write_hosts(ws, srv=login.host_section(list_command=choice))
    ws.write_job(source={'host_id': 'srv', 'path': login.remote(folder), 'recursive': 'yes'},
                 target={'path': str(tmp_path / 'down')})
    done = ws.run('-v', 'job1')
    assert (done.returncode, done.stderr) == (0, ''), ws.log_text()
    assert tree(tmp_path / 'down') == FILES
    assert 'MLSD' not in ws.log_text()


def test_list_command_mlsd_takes_a_refusal_as_it_is(ws, proftpd_refusing_mlsd):
    login, folder = proftpd_refusing_mlsd, fresh_dir()
    put_on(login, folder, {'a.txt': 'A'})
    write_hosts(ws, srv=login.host_section(list_command='mlsd'))
    ws.write_job(source={'host_id': 'srv', 'path': login.remote(folder)})
    assert_failed(ws.run('-v', 'job1'), f'cannot list source directory /{folder}: 550 Unable '
                                         'to handle command')
    assert tree(ws.dst) == {}


def test_list_command_of_another_value_is_a_config_error(ws, proftpd_refusing_mlsd):
    write_hosts(ws, srv=proftpd_refusing_mlsd.host_section(list_command='nlst'))
    ws.write_job(source={'host_id': 'srv', 'path': '/'})
    done = ws.run('job1')
    assert done.returncode == 3, done.stderr
    assert 'list_command' in done.stderr and 'expected one of auto, mlsd, list' in done.stderr


def test_unreadable_directories_are_not_taken_for_a_refused_mlsd(ws, proftpd_server):
    """MLSD in a directory the login may not read is refused as well (550), and LIST
    there shows nothing: that is the directory's error, not the command's."""
    login, folder = proftpd_server.login('FTP'), fresh_dir()
    put_on(login, folder, {'a.txt': 'A', 'closed/b.txt': 'B', 'open/c.txt': 'C'})
    os.chmod(login.path(folder, 'closed'), 0o311)
    write_hosts(ws, srv=login.host_section())
    ws.write_job('whole', source={'host_id': 'srv', 'path': login.remote(folder),
                                  'recursive': 'yes'})
    done = ws.run('-v', 'whole')
    assert (done.returncode, done.stderr) == (0, ''), ws.log_text('whole')
    assert tree(ws.dst) == {'a.txt': b'A', 'open/c.txt': b'C'}
    assert f'cannot list directory /{folder}/closed: 550' in ws.log_text('whole')
    ws.write_job('closed', source={'host_id': 'srv', 'path': login.remote(folder, 'closed')})
    assert_failed(ws.run('-v', 'closed'),
                  f'cannot list source directory /{folder}/closed: 550')
    assert 'MLSD refused' not in ws.log_text('whole') + ws.log_text('closed')


def test_hardened_server_ready_file_delete_and_resumed_download(ws, proftpd_hardened):
    """MLSD, MLST and REST before RETR refused: the listing falls back to LIST, stat
    (the ready file, the check before a delete) to SIZE, a resumed download to the
    whole file; each said once."""
    login, folder = proftpd_hardened, fresh_dir()
    files = {'a.bin': os.urandom(3 << 20), 'b.bin': os.urandom(3 << 20), 'READY': ''}
    put_on(login, folder, files)
    # more than CHECK_BYTES kept: the source is read from an offset
    make_files(ws.dst, {'.a.bin': files['a.bin'][:(2 << 20) + 5],
                        '.b.bin': files['b.bin'][:(2 << 20) + 7]})
    write_hosts(ws, srv=login.host_section())
    ws.write_job(job={'ready_file': 'READY'},
                 source={'host_id': 'srv', 'path': login.remote(folder), 'delete': 'yes'},
                 target={'temp': 'dot', 'resume': 'yes'})
    for name in ('.a.bin', '.b.bin'):
        ws.record_partial(name)
    done = ws.run('-v', 'job1')
    assert (done.returncode, done.stderr) == (0, ''), ws.log_text()
    assert tree(ws.dst) == {'a.bin': files['a.bin'], 'b.bin': files['b.bin']}
    assert tree(login.path(folder)) == {}
    log_text = ws.log_text()
    for said in ('MLSD refused (550 Unable to handle command); listing with LIST',
                 'MLST refused (550 Unable to handle command); files are looked at with SIZE',
                 'the server refuses to continue a file at an offset (REST, then RETR: 451 '):
        assert log_text.count(said) == 1, log_text
    assert 'resuming b.bin' not in log_text
