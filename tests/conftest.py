import logging

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


@pytest.fixture(scope='session')
def smtp_cert(tmp_path_factory):
    """A throw-away CA and a server certificate for 127.0.0.1 (servers/selfsigned.py)."""
    from servers.selfsigned import make_server_cert
    return make_server_cert(str(tmp_path_factory.mktemp('smtp-cert')))


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
