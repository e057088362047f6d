import logging
import os

import pytest

from helpers import Workspace


@pytest.fixture
def ws(tmp_path):
    """A workspace with an application config, src/ and dst/."""
    return Workspace(tmp_path)


@pytest.fixture(autouse=True)
def _reset_filetransfer_logging():
    """configure() installs handlers on the 'filetransfer' logger; each test starts clean."""
    yield
    from filetransfer import logs
    logs.shutdown()
    for name in logs.LOGGER_NAMES:
        logging.getLogger(name).setLevel(logging.NOTSET)
        logging.getLogger(name).propagate = True


@pytest.fixture(scope='session')
def sshd(tmp_path_factory):
    """The real OpenSSH sshd (see servers/sshd.py); shared by the whole run."""
    from servers import sshd as sshd_module
    from servers.common import unavailable

    if not sshd_module.available():
        unavailable('OpenSSH sshd is not installed (make test installs it as root)')
    server = sshd_module.SshServer(str(tmp_path_factory.mktemp('sshd')))
    server.setup()
    server.start()
    yield server
    server.stop()
    sshd_module.remove_password_user(server)


@pytest.fixture
def live_sshd(sshd):
    """The shared sshd, restarted first if an earlier test stopped it."""
    if sshd.proc is None or sshd.proc.poll() is not None:
        sshd.start()
    return sshd


@pytest.fixture
def password_user(live_sshd):
    """(name, password, writable directory) of the sshd's password-only user."""
    if live_sshd.password_user is None:
        from servers.common import unavailable
        unavailable('password logins need root (to create the password-only user)')
    return live_sshd.password_user


@pytest.fixture(scope='session')
def aspera_sshd(tmp_path_factory):
    """A second real sshd standing for an Aspera server: its account logs in to the
    emulator's aspshell (only ascp and ascmd; no shell, no SFTP), with a docroot
    (servers/sshd.py AsperaSshServer). Needs root, to create the account."""
    from servers import sshd as sshd_module
    from servers.common import unavailable

    if os.getuid() != 0:
        unavailable('the Aspera account needs root (to create a system user)')
    python = sshd_module.python_for_others()
    if python is None:
        unavailable('no Python 3.10+ that the Aspera account may run (install python3)')
    server = sshd_module.AsperaSshServer(str(tmp_path_factory.mktemp('aspera-sshd')),
                                         python=python)
    server.setup()
    server.start()
    yield server
    server.stop()
    server.remove()


@pytest.fixture
def aspera_account(aspera_sshd):
    """The Aspera server's account (servers/sshd.py AsperaAccount: host, port, user,
    password, key_file, docroot, known_hosts; configure(), put(), mkdir()), its docroot
    empty and its settings the defaults."""
    from servers.sshd import AsperaAccount

    if aspera_sshd.proc is None or aspera_sshd.proc.poll() is not None:
        aspera_sshd.start()
    user, password, docroot = aspera_sshd.account
    account = AsperaAccount(aspera_sshd, aspera_sshd.host, aspera_sshd.port, user, password,
                            aspera_sshd.client_keys['ed25519'], docroot,
                            aspera_sshd.known_hosts)
    account.reset()
    return account


@pytest.fixture(scope='session')
def smtp_cert(tmp_path_factory):
    """A throw-away CA and a server certificate for 127.0.0.1 (servers/tlscerts.py)."""
    from servers.tlscerts import make_pki
    return make_pki(str(tmp_path_factory.mktemp('smtp-cert')))


def _mail_server(kind, cert=None):
    from servers import smtpd as smtpd_module
    from servers.common import unavailable

    if not smtpd_module.available():
        unavailable('aiosmtpd is not installed (make test installs it)')
    server = smtpd_module.MailServer(kind, cert)
    server.start()
    return server


@pytest.fixture(scope='session')
def _smtpd_plain():
    server = _mail_server('plain')
    yield server
    server.stop()


@pytest.fixture(scope='session')
def _smtpd_starttls(smtp_cert):
    server = _mail_server('starttls', smtp_cert)
    yield server
    server.stop()


@pytest.fixture(scope='session')
def _smtpd_tls(smtp_cert):
    server = _mail_server('tls', smtp_cert)
    yield server
    server.stop()


@pytest.fixture
def smtpd(_smtpd_plain):
    """A real plain SMTP server (aiosmtpd), its mailbox empty (servers/smtpd.py)."""
    _smtpd_plain.clear()
    return _smtpd_plain


@pytest.fixture
def smtpd_starttls(_smtpd_starttls):
    """A real SMTP server requiring STARTTLS, with login, certificate of smtp_cert."""
    _smtpd_starttls.clear()
    return _smtpd_starttls


@pytest.fixture
def smtpd_tls(_smtpd_tls):
    """A real SMTP server speaking implicit TLS, with login, certificate of smtp_cert."""
    _smtpd_tls.clear()
    return _smtpd_tls


@pytest.fixture(scope='session')
def tls_files(tmp_path_factory):
    """(ca_file, server cert+key file, ca_file of another CA) for FTPS servers."""
    from servers.tlscerts import make_ca, make_server_cert

    folder = str(tmp_path_factory.mktemp('tls'))
    ca_file, ca_cert, ca_key = make_ca(folder)
    other_ca, _, _ = make_ca(folder, 'another test CA')
    return ca_file, make_server_cert(folder, ca_cert, ca_key), other_ca


def _ftp_server(root, tls_files, **options):
    from servers import ftpd
    from servers.common import unavailable

    if not ftpd.available():
        unavailable('pyftpdlib and pyopenssl are not installed (make test installs them)')
    ca_file, cert_file, _ = tls_files
    server = ftpd.FtpServer(str(root), ca_file=ca_file, cert_file=cert_file, **options)
    return server.setup().start()


@pytest.fixture(scope='session', params=['FTP', 'FTPS'])
def ftpd(request, tmp_path_factory, tls_files):
    """A pyftpdlib server shared by the run, once plain FTP and once FTPS."""
    server = _ftp_server(tmp_path_factory.mktemp(request.param.lower()), tls_files,
                         tls=request.param == 'FTPS')
    yield server
    server.stop()


@pytest.fixture
def ftp_server(tmp_path_factory, tls_files):
    """Starts pyftpdlib servers with options (see servers/ftpd.py) for one test."""
    servers = []

    def start(**options):
        server = _ftp_server(tmp_path_factory.mktemp('ftpd'), tls_files, **options)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
