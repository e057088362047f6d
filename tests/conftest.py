import logging
import os

import pytest
from hypothesis import settings

from helpers import QUICK_PROFILE, Workspace
from servers.login import LOGINS


settings.register_profile(QUICK_PROFILE)   # fewer examples: see helpers.examples()

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


@pytest.fixture(scope='session', autouse=True)
def _dense_files(tmp_path_factory):
    """Where procs.make_dense keeps its files for the run; removed at its end."""
    import shutil

    import procs

    procs.DENSE_DIR = str(tmp_path_factory.mktemp('dense'))
    yield
    shutil.rmtree(procs.DENSE_DIR, ignore_errors=True)
    procs.DENSE_DIR = None


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
def postgres_server():
    """A real PostgreSQL server on a Unix socket (servers/postgres.py), shared by the
    whole run."""
    from servers import postgres as postgres_module
    from servers.common import unavailable

    if not postgres_module.available():
        unavailable('PostgreSQL is not installed (make test installs it as root)')
    server = postgres_module.PostgresServer().setup()
    server.start()
    yield server
    server.stop()
    server.remove()


@pytest.fixture
def postgres(postgres_server):
    """A new database of the shared PostgreSQL server (restarted first if an earlier
    test stopped it): servers/postgres.py TestDatabase (url, sql(), server)."""
    if not postgres_server.running():
        postgres_server.start()
    return postgres_server.new_database()


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
    user, password, docroot = aspera_sshd.password_user
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


@pytest.fixture
def httpd():
    """A real HTTP server that keeps the requests it gets and answers as told
    (servers/httpd.py)."""
    from servers.httpd import HttpServer

    server = HttpServer().start()
    yield server
    server.stop()


@pytest.fixture
def httpsd(tls_files):
    """The same server speaking HTTPS, its certificate issued by the CA tls_files[0]."""
    from servers.httpd import HttpServer

    server = HttpServer(cert_file=tls_files[1]).start()
    yield server
    server.stop()


def _ftp_server(root, tls_files, **options):
    from servers import ftpd
    from servers.common import unavailable

    if not ftpd.available():
        unavailable('pyftpdlib and pyopenssl are not installed (make test installs them)')
    ca_file, cert_file, _ = tls_files
    server = ftpd.FtpServer(str(root), ca_file=ca_file, cert_file=cert_file, **options)
    return server.setup().start()


@pytest.fixture(scope='session')
def pyftpdlib_servers(tmp_path_factory, tls_files):
    """The pyftpdlib servers shared by the run, started when first asked for:
    protocol ('FTP' or 'FTPS') -> FtpServer."""
    servers = {}

    def get(protocol):
        if protocol not in servers:
            servers[protocol] = _ftp_server(tmp_path_factory.mktemp(protocol.lower()),
                                            tls_files, tls=protocol == 'FTPS')
        return servers[protocol]

    yield get
    for server in servers.values():
        server.stop()


@pytest.fixture(scope='session', params=['FTP', 'FTPS'])
def ftpd(request, pyftpdlib_servers):
    """A pyftpdlib server shared by the run, once plain FTP and once FTPS."""
    return pyftpdlib_servers(request.param)


@pytest.fixture
def ftp_server(tmp_path, tls_files):
    """Starts pyftpdlib servers with options (see servers/ftpd.py) for one test; their
    files are in the test's temp directory (kept only when the test fails)."""
    servers = []

    def start(**options):
        root = tmp_path / f'ftpd{len(servers)}'
        root.mkdir()
        server = _ftp_server(root, tls_files, **options)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


# -- real FTP servers: vsftpd, ProFTPD, Pure-FTPd (servers/login.py) -----------------

def _login_server(tmp_path_factory, tls_files, module, cls, **options):
    """Starts a server of servers/<module>.py with a system user of its own; yields it."""
    from servers.common import unavailable
    from servers.users import make_user, remove_user

    name = module.__name__.rsplit('.', 1)[1]
    if not module.available():
        unavailable(f'{name} is not unpacked (make test unpacks it: '
                    'tests/install-system-deps.sh)')
    if os.getuid() != 0:
        unavailable(f'{name} needs root (it logs in a system user of its own)')
    ca_file, cert_file, _ = tls_files
    user = make_user('ftwftp', logs_in_home=True)
    try:
        server = cls(str(tmp_path_factory.mktemp(name)), user, cert_file, ca_file, **options)
        server.start()
    except BaseException:
        remove_user(user)
        raise
    yield server
    server.stop()
    remove_user(user)


@pytest.fixture(scope='session')
def vsftpd_server(tmp_path_factory, tls_files):
    """vsftpd: FTP and FTPS on one port (servers/vsftpd.py)."""
    from servers import vsftpd
    yield from _login_server(tmp_path_factory, tls_files, vsftpd, vsftpd.Vsftpd)


@pytest.fixture(scope='session')
def proftpd_server(tmp_path_factory, tls_files):
    """ProFTPD: FTP and FTPS (mod_tls) on one port (servers/proftpd.py)."""
    from servers import proftpd
    yield from _login_server(tmp_path_factory, tls_files, proftpd, proftpd.Proftpd)


@pytest.fixture(scope='session')
def proftpd_sftp_server(tmp_path_factory, tls_files):
    """ProFTPD's mod_sftp: SFTP with password logins (servers/proftpd.py)."""
    from servers import proftpd
    yield from _login_server(tmp_path_factory, tls_files, proftpd, proftpd.Proftpd, sftp=True)


@pytest.fixture(scope='session')
def pureftpd_server(tmp_path_factory, tls_files):
    """Pure-FTPd: FTP and FTPS on one port (servers/pureftpd.py)."""
    from servers import pureftpd
    yield from _login_server(tmp_path_factory, tls_files, pureftpd, pureftpd.PureFtpd)


@pytest.fixture(scope='session')
def proftpd_refusing_mlsd(tmp_path_factory, tls_files):
    """An FTP login on a ProFTPD that announces MLST in FEAT but refuses every MLSD
    (550), as some servers are configured."""
    from servers import proftpd
    for server in _login_server(tmp_path_factory, tls_files, proftpd, proftpd.Proftpd,
                                refuse=('MLSD',)):
        yield server.login('FTP')


@pytest.fixture(scope='session')
def proftpd_hardened(tmp_path_factory, tls_files):
    """An FTP login on a ProFTPD that announces MLST and REST STREAM in FEAT but
    refuses every MLSD and MLST, and REST before RETR as well as before STOR."""
    from servers import proftpd
    for server in _login_server(tmp_path_factory, tls_files, proftpd, proftpd.Proftpd,
                                refuse=('MLSD', 'MLST'), restart_downloads=False):
        yield server.login('FTP')


@pytest.fixture(params=LOGINS)
def login(request):
    """One login on a real server, for each server program and protocol (ids such
    as 'vsftpd-FTPS', see servers/login.py); a test narrows them with
    ``@pytest.mark.parametrize('login', logins(...), indirect=True)``."""
    return login_for(request, request.param)


def login_for(request, kind: str):
    """The login ``kind`` (an id of servers/login.py LOGINS), its server started."""
    from servers.login import Login

    name, protocol = kind.split('-')
    if name == 'pyftpdlib':
        server = request.getfixturevalue('pyftpdlib_servers')(protocol)
        return Login(name, protocol, server.port, server.user, server.password, server.home,
                     '/', ca_file=server.ca_file if server.tls else None, server=server)
    if name == 'openssh':
        sshd, (user, password, home) = (request.getfixturevalue('live_sshd'),
                                        request.getfixturevalue('password_user'))
        return Login(name, protocol, sshd.port, user, password, home, home,
                     known_hosts=sshd.known_hosts, owner=sshd.account, server=sshd)
    fixture = 'proftpd_sftp_server' if (name, protocol) == ('proftpd', 'SFTP') \
        else f'{name}_server'
    return request.getfixturevalue(fixture).login(protocol)
