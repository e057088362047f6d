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
