"""What the bench's cases run against: the test data, the servers of the tests
(tests/servers/: OpenSSH sshd, pyftpdlib FTP and FTPS) on 127.0.0.1, the delay proxies
in front of sshd, and the filetransfer workspace (application config, hosts, jobs).
Also the steps that reset a target before a run and check it after."""

import itertools
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests'))

from helpers import Workspace  # noqa: E402
from remote import ftp_host, sftp_host, write_hosts  # noqa: E402

from delayproxy import DelayProxy  # noqa: E402
from peers import SshLogin  # noqa: E402
from timing import BenchError, Contender  # noqa: E402

SMALL_SIZE = 4096


# -- data -------------------------------------------------------------------------

def make_random(path: str, size: int) -> None:
    """A file of ``size`` random bytes (its folder is created)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as fh:
        left = size
        while left:
            chunk = os.urandom(min(left, 16 << 20))
            fh.write(chunk)
            left -= len(chunk)


def make_small_files(folder: str, count: int, size: int = SMALL_SIZE) -> None:
    """``count`` files of ``size`` random bytes, f00000.dat on, unless already there."""
    os.makedirs(folder, exist_ok=True)
    for number in range(count):
        path = os.path.join(folder, f'f{number:05d}.dat')
        if not os.path.exists(path):
            with open(path, 'wb') as fh:
                fh.write(os.urandom(size))


# -- before and after a run ---------------------------------------------------------

# A directory of many files is moved aside, not deleted, until the bench ends. This
# machine's ext4 has no journal, and without one ext4 passes over the inodes deleted
# in the last minutes when it allocates new ones, reading each: a run that creates
# thousands of files right after thousands were deleted spends seconds in the kernel,
# whichever tool it is (rsync -r of 5,000 files of 4 KiB over ssh: 0.8 s, 0.4 s of it
# system time, after another directory was deleted; 2.4-3.7 s, 2-3.5 s system time,
# right after its own target was).
SET_ASIDE_FROM = 100     # entries in the directory
SET_ASIDE = '.set-aside'


def clear(path: str):
    """A step that removes ``path`` (a run creates it again)."""
    def prepare():
        _remove(path)
    return prepare


def clear_and_create(path: str):
    """A step that leaves ``path`` an empty directory."""
    def prepare():
        _remove(path)
        os.makedirs(path)
    return prepare


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path) and _holds_many(path):
        aside = os.path.join(os.path.dirname(path), SET_ASIDE)
        os.makedirs(aside, exist_ok=True)
        os.rename(path, tempfile.mkdtemp(dir=aside))
    shutil.rmtree(path, ignore_errors=True)
    if os.path.lexists(path) and not os.path.isdir(path):
        os.unlink(path)


def _holds_many(path: str) -> bool:
    with os.scandir(path) as entries:
        return sum(1 for _ in itertools.islice(entries, SET_ASIDE_FROM)) >= SET_ASIDE_FROM


def has_file(path: str, size: int):
    def check():
        found = os.path.getsize(path) if os.path.exists(path) else None
        if found != size:
            raise BenchError(f'{path}: expected {size} bytes, found {found}')
    return check


def count_files(folder: str) -> int:
    return sum(len(names) for _, _, names in os.walk(folder))


def has_files(folder: str, count: int):
    def check():
        found = count_files(folder)
        if found != count:
            raise BenchError(f'{folder}: expected {count} files, found {found}')
    return check


def kept(folder: str, names: list, total: int):
    """A check: ``folder`` holds ``total`` files, and ``names`` are the very files
    they were (same inode and modification time: not written again)."""
    before = {name: _identity(os.path.join(folder, name)) for name in names}

    def check():
        found = count_files(folder)
        if found != total:
            raise BenchError(f'{folder}: expected {total} files, found {found}')
        rewritten = [name for name, was in before.items()
                     if _identity(os.path.join(folder, name)) != was]
        if rewritten:
            raise BenchError(f'{len(rewritten)} files that were there were written again')
    return check


def _identity(path: str) -> tuple:
    info = os.stat(path)
    return info.st_ino, info.st_mtime_ns


# -- the servers and the workspace --------------------------------------------------

class Lab:
    """The bench's temp directory ``root``, its servers and its workspace. ``skipped``
    collects what could not be measured, and why. ``python``: the Python of the
    installation whose `filetransfer` command is timed."""

    def __init__(self, root: str, python: str = sys.executable):
        self.root = root
        self.python = python
        self.ws = Workspace(os.path.join(root, 'ws'))
        self.sshd = None
        self.ftpd = {}
        self.proftpd = None          # (server, its system user)
        self.proxies = {}            # round-trip ms -> DelayProxy in front of sshd
        self.hosts = {}              # the sections of the workspace's hosts file
        self.skipped = []

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    def command(self, *args: str) -> list[str]:
        """argv of the timed installation's `filetransfer` command."""
        return [os.path.join(os.path.dirname(self.python), 'filetransfer'), *args]

    def ours(self, name: str, job: str, *args: str, **kwargs) -> Contender:
        """The filetransfer command running ``job`` of the workspace."""
        return Contender(name, self.command('-v', '-c', self.ws.app_cfg, *args, job),
                         ours=True, **kwargs)

    def job(self, job_id: str, source: dict, target: dict) -> str:
        """Writes a job of the workspace; returns its id."""
        self.ws.write_job(job_id, source=source, target=target)
        return job_id

    def add_host(self, host_id: str, section: dict) -> str:
        self.hosts[host_id] = section
        write_hosts(self.ws, **self.hosts)
        return host_id

    # servers
    def start_sshd(self) -> bool:
        from servers.sshd import SshServer, available
        if not available():
            self.skipped.append('SFTP cases: sshd is not installed')
            return False
        self.sshd = SshServer(self.path('sshd'))
        self.sshd.setup()
        self.sshd.start()
        self.add_host('srv', sftp_host(self.sshd, timeout='60'))
        return True

    def login(self, rtt_ms: float | None = None) -> SshLogin:
        """How the client tools reach sshd: directly, or through the delay proxy
        of ``rtt_ms`` (started on first use, with a known-hosts file for its port)."""
        if rtt_ms is None:
            port, known_hosts = self.sshd.port, self.sshd.known_hosts
        else:
            if rtt_ms not in self.proxies:
                self.proxies[rtt_ms] = DelayProxy(self.sshd.host, self.sshd.port,
                                                  rtt_ms / 1000).start()
            port = self.proxies[rtt_ms].port
            known_hosts = self.path(f'known_hosts_{port}')
            with open(self.sshd.known_hosts) as fh:
                text = fh.read()
            with open(known_hosts, 'w') as fh:
                fh.write(text.replace(f']:{self.sshd.port} ', f']:{port} '))
        return SshLogin(self.sshd.host, port, self.sshd.user, self.sshd.client_keys['ed25519'],
                        known_hosts, self.root)

    def sftp_host_id(self, login: SshLogin) -> str:
        """The hosts-file entry of filetransfer for ``login``."""
        host_id = f'sftp{login.port}'
        if host_id not in self.hosts:
            self.add_host(host_id, sftp_host(self.sshd, host=f'{login.host}:{login.port}',
                                             known_hosts=login.known_hosts, timeout='60'))
        return host_id

    def start_ftpd(self, tls: bool):
        from servers import ftpd
        from servers.tlscerts import make_ca, make_server_cert
        if not ftpd.available():
            self.skipped.append('FTP cases: pyftpdlib/pyopenssl are not installed')
            return None
        if not hasattr(self, 'tls_files'):
            folder = self.path('tls')
            os.makedirs(folder, exist_ok=True)
            ca_file, ca_cert, ca_key = make_ca(folder)
            self.tls_files = ca_file, make_server_cert(folder, ca_cert, ca_key)
        ca_file, cert_file = self.tls_files
        kind = 'FTPS' if tls else 'FTP'
        server = ftpd.FtpServer(self.path(kind.lower()), tls=tls, ca_file=ca_file,
                                cert_file=cert_file)
        server.setup().start()
        self.ftpd[kind] = server
        self.add_host(kind.lower(), ftp_host(server, timeout='60'))
        return server

    def start_proftpd_sftp(self):
        """ProFTPD's mod_sftp (tests/servers/proftpd.py), password logins of a system
        user of its own, as host ``proftpd-sftp``; its Login, or None when it cannot
        run here."""
        from servers import proftpd
        from servers.users import make_user, remove_user
        if not proftpd.available() or os.getuid() != 0:
            self.skipped.append('ProFTPD cases: ProFTPD is not unpacked '
                                '(tests/install-system-deps.sh), or not root')
            return None
        user = make_user('ftwbench', logs_in_home=True)
        try:
            folder = self.path('proftpd')
            os.makedirs(folder, exist_ok=True)
            server = proftpd.Proftpd(folder, user, sftp=True)
            server.start()
        except BaseException:
            remove_user(user)
            raise
        self.proftpd = server, user
        login = server.login('SFTP')
        self.add_host('proftpd-sftp', login.host_section(timeout='60'))
        return login

    def stop(self) -> None:
        if self.proftpd:
            from servers.users import remove_user
            server, user = self.proftpd
            server.stop()
            remove_user(user)
        for proxy in self.proxies.values():
            proxy.stop()
        if self.sshd:
            from servers.sshd import remove_password_user
            self.sshd.stop()
            remove_password_user(self.sshd)
        for server in self.ftpd.values():
            server.stop()
