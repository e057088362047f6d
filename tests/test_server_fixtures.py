"""The real servers the scenarios run against (servers/login.py): each logs its
user in with a password, serves passive data connections on 127.0.0.1, writes as
that user, and shows the certificate of the tests' CA or its known host key."""

import ftplib
import io
import os
import ssl

import paramiko
import pytest

from servers.login import logins


def ftp_session(login, ca_file=None):
    """A logged-in ftplib session; with FTPS the control connection is encrypted, the
    data connections are not (encrypted ones are the command's, tested through it)."""
    if login.tls:
        client = ftplib.FTP_TLS(context=ssl.create_default_context(
            cafile=ca_file or login.ca_file), timeout=10)
    else:
        client = ftplib.FTP(timeout=10)
    client.connect(login.host, login.port)
    if login.tls:
        client.auth()
    client.login(login.user, login.password)
    return client


@pytest.mark.parametrize('login', logins('FTP', 'FTPS'), indirect=True)
def test_ftp_login_passive_data_and_ownership(login):
    client = ftp_session(login)
    try:
        assert client.makepasv()[0] == '127.0.0.1'
        client.storbinary('STOR fixture-check.txt', io.BytesIO(b'written'))
        assert 'fixture-check.txt' in client.nlst()
    finally:
        client.quit()
    written = login.path('fixture-check.txt')
    with open(written, 'rb') as fh:
        assert fh.read() == b'written'
    assert os.stat(written).st_uid == (login.owner.uid if login.owner else os.getuid())
    os.remove(written)


@pytest.mark.parametrize('login', logins('FTPS'), indirect=True)
def test_ftps_certificate_is_of_the_tests_ca(login, tls_files):
    ftp_session(login).quit()
    with pytest.raises(ssl.SSLCertVerificationError):
        ftp_session(login, ca_file=tls_files[2])


@pytest.mark.parametrize('login', logins('SFTP'), indirect=True)
def test_sftp_password_login_with_a_known_host_key(login):
    client = paramiko.SSHClient()
    client.load_host_keys(login.known_hosts)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(login.host, login.port, login.user, login.password, look_for_keys=False,
                   allow_agent=False, timeout=10)
    try:
        sftp = client.open_sftp()
        with sftp.open(login.remote('fixture-check.txt'), 'wb') as fh:
            fh.write(b'written')
        assert 'fixture-check.txt' in sftp.listdir(login.remote())
        sftp.remove(login.remote('fixture-check.txt'))
    finally:
        client.close()


def test_proftpd_variant_announces_mlst_but_refuses_mlsd(proftpd_refusing_mlsd):
    client = ftp_session(proftpd_refusing_mlsd)
    try:
        assert 'MLST' in client.sendcmd('FEAT')
        with pytest.raises(ftplib.error_perm, match='^550'):
            list(client.mlsd())
    finally:
        client.quit()


def test_proftpd_refuses_rest_before_stor(proftpd_server):
    """AllowStoreRestart is off by default, though FEAT announces REST STREAM."""
    client = ftp_session(proftpd_server.login('FTP'))
    try:
        assert 'REST STREAM' in client.sendcmd('FEAT')
        client.storbinary('STOR fixture-rest.bin', io.BytesIO(b'0123456789'))
        with pytest.raises(ftplib.error_temp, match='^451 .*Append/Restart not permitted'):
            client.storbinary('STOR fixture-rest.bin', io.BytesIO(b'56789'), rest=5)
        client.delete('fixture-rest.bin')
    finally:
        client.quit()


def test_hardened_proftpd_refuses_mlsd_mlst_and_rest_before_retr(proftpd_hardened):
    client = ftp_session(proftpd_hardened)
    try:
        features = client.sendcmd('FEAT')
        assert 'MLST' in features and 'REST STREAM' in features
        client.storbinary('STOR fixture-rest.bin', io.BytesIO(b'0123456789'))
        with pytest.raises(ftplib.error_perm, match='^550'):
            client.sendcmd('MLST fixture-rest.bin')
        with pytest.raises(ftplib.error_perm, match='^550'):
            list(client.mlsd())
        with pytest.raises(ftplib.error_temp, match='^451'):
            client.retrbinary('RETR fixture-rest.bin', lambda data: None, rest=5)
        client.delete('fixture-rest.bin')
    finally:
        client.quit()


def test_a_server_that_does_not_start_says_why(tmp_path):
    from servers.process import ServerProcess

    class Broken(ServerProcess):
        name = 'broken'

        def argv(self):
            return ['sh', '-c', 'echo "no config here" >&2; exit 3']

    with pytest.raises(RuntimeError, match='(?s)broken did not start.*no config here'):
        Broken(str(tmp_path)).start()
