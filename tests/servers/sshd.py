"""The real OpenSSH sshd on 127.0.0.1, with its own host keys, client keys and
config in a temp dir. It runs as the current user; as root it also creates a
password-only user for password logins (root's own password is never touched)."""

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

from .common import free_port, wait_listening
from .process import descendants, signal_tree
from .users import User, give, make_user, remove_user

SSHD = shutil.which('sshd') or '/usr/sbin/sshd'
SFTP_SERVER = next((path for path in ('/usr/lib/openssh/sftp-server',
                                      '/usr/libexec/openssh/sftp-server',
                                      '/usr/libexec/sftp-server') if os.path.exists(path)),
                   'internal-sftp')
PASSWORD_USER = 'ftpwtest'
KEY_TYPES = ('ed25519', 'ecdsa', 'rsa')


def available() -> bool:
    return os.path.exists(SSHD) and shutil.which('ssh-keygen') is not None


def _keygen(path, kind, passphrase=''):
    subprocess.run(['ssh-keygen', '-q', '-t', kind, '-N', passphrase, '-f', path, '-C', 'test'],
                   check=True)


@dataclass
class SshServer:
    """A running sshd. ``client_keys`` maps ed25519/ecdsa/rsa to private key paths
    (no passphrase); ``known_hosts`` lists its host keys for 127.0.0.1:port."""

    root: str
    port: int = 0
    host: str = '127.0.0.1'
    user: str = field(default_factory=lambda: pwd.getpwuid(os.getuid()).pw_name)
    client_keys: dict = field(default_factory=dict)
    host_keys: dict = field(default_factory=dict)
    account: User | None = None     # the password-only user (root only)
    proc: subprocess.Popen | None = None
    sftp_command: str = SFTP_SERVER  # run by the user's shell for each SFTP session

    @property
    def known_hosts(self) -> str:
        return os.path.join(self.root, 'known_hosts')

    @property
    def log_path(self) -> str:
        return os.path.join(self.root, 'sshd.log')

    def setup(self) -> None:
        os.makedirs(self.root, exist_ok=True)
        for kind in KEY_TYPES:
            self.host_keys[kind] = os.path.join(self.root, f'ssh_host_{kind}_key')
            _keygen(self.host_keys[kind], kind)
            self.client_keys[kind] = os.path.join(self.root, f'id_{kind}')
            _keygen(self.client_keys[kind], kind)
        with open(os.path.join(self.root, 'authorized_keys'), 'w') as fh:
            for kind in KEY_TYPES:
                fh.write(open(self.client_keys[kind] + '.pub').read())
        self.port = self.port or free_port()
        self.write_known_hosts()
        if os.getuid() == 0:
            os.makedirs('/run/sshd', mode=0o755, exist_ok=True)
            self._make_users()
        self._write_config()

    def _make_users(self) -> None:
        self.account = make_user(PASSWORD_USER)

    @property
    def password_user(self) -> tuple | None:
        """(name, password, writable directory) of the password-only user, or None."""
        return (self.account.name, self.account.password, self.account.home) \
            if self.account else None

    def write_known_hosts(self, path=None, kinds=KEY_TYPES) -> str:
        path = path or self.known_hosts
        with open(path, 'w') as fh:
            for kind in kinds:
                key = open(self.host_keys[kind] + '.pub').read().split()[:2]
                fh.write(f'[{self.host}]:{self.port} {" ".join(key)}\n')
        return path

    def _write_config(self) -> None:
        with open(os.path.join(self.root, 'sshd_config'), 'w') as fh:
            fh.write('\n'.join(self._config_lines()) + '\n')

    def _config_lines(self) -> list[str]:
        return [
            f'Port {self.port}', f'ListenAddress {self.host}',
            *(f'HostKey {path}' for path in self.host_keys.values()),
            f'PidFile {self.root}/sshd.pid',
            f'AuthorizedKeysFile {self.root}/authorized_keys',
            'PubkeyAuthentication yes', 'PasswordAuthentication yes',
            'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no',
            'PermitRootLogin yes', 'MaxStartups 100:30:200', 'MaxSessions 50',
            'LogLevel VERBOSE', f'Subsystem sftp {self.sftp_command}',
        ]

    def start(self) -> None:
        log = open(self.log_path, 'ab')
        self.proc = subprocess.Popen([SSHD, '-D', '-e', '-f', os.path.join(self.root, 'sshd_config')],
                                     stdout=log, stderr=log, start_new_session=True)
        log.close()
        wait_listening(self.port, proc=self.proc)

    def stop(self) -> None:
        """Stops the server and every session it forked (like a host going down)."""
        if not self.proc or self.proc.poll() is not None:
            return
        signal_tree(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def sessions(self) -> list[int]:
        """The processes sshd forked for the current sessions (sshd, sftp-server)."""
        return descendants(self.proc.pid) if self.proc else []

    def ssh_config_options(self) -> list[str]:
        """Options for the OpenSSH client tools (sftp, scp, ssh) to reach this server."""
        return ['-o', f'Port={self.port}',
                '-o', f'UserKnownHostsFile={self.known_hosts}',
                '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes',
                '-i', self.client_keys['ed25519']]


def remove_password_user(server: 'SshServer') -> None:
    if server.account:
        remove_user(server.account)


# --- an Aspera server: every login is aspshell, the emulator's -----------------------------

ASPERA_USER = 'aspwtest'


def python_for_others() -> str | None:
    """A Python 3.10+ that another user can run (this one may sit in root's home)."""
    for candidate in (os.path.realpath(sys.executable), shutil.which('python3') or '',
                      '/usr/bin/python3'):
        if candidate and _reachable_by_others(candidate) and subprocess.run(
                [candidate, '-c', 'import sys; sys.exit(sys.version_info < (3, 10))'],
                capture_output=True).returncode == 0:
            return candidate
    return None


def _reachable_by_others(path: str) -> bool:
    if not os.path.isfile(path):
        return False
    while path != '/':
        if not os.stat(path).st_mode & 0o001:
            return False
        path = os.path.dirname(path)
    return True


@dataclass
class AsperaSshServer(SshServer):
    """A second sshd whose logins all run the emulator's aspshell (ForceCommand): only
    ascp (the emulator's server side) and ascmd, no shell, no SFTP. Its one account
    (``account``, its home the docroot) logs in with that password or the client
    keys; ``area`` holds what the account's programs read (a copy of faspmanager, the
    server configuration, the forced command), world-readable."""

    python: str = ''
    area: str = ''

    @property
    def config_path(self) -> str:
        return os.path.join(self.area, 'aspera.conf')

    def _make_users(self) -> None:
        import faspmanager
        from faspmanager.testing.hsts import ServerConfig

        self.area = tempfile.mkdtemp(prefix='filetransfer-aspera-')
        os.chmod(self.area, 0o755)
        shutil.copytree(os.path.dirname(faspmanager.__file__),
                        os.path.join(self.area, 'lib', 'faspmanager'),
                        ignore=shutil.ignore_patterns('__pycache__'))
        self.account = make_user(ASPERA_USER, logs_in_home=True)
        self.write_server_config(ServerConfig())
        with open(os.path.join(self.area, 'authorized_keys'), 'w') as fh:
            fh.write(open(os.path.join(self.root, 'authorized_keys')).read())
        script = os.path.join(self.area, 'aspshell')
        with open(script, 'w') as fh:
            fh.write(f'#!/bin/sh\nPYTHONPATH={self.area}/lib exec {self.python} -s -B -m '
                     f'faspmanager.testing.aspshell --config {self.config_path}\n')
        for root, dirs, files in os.walk(self.area):
            for name in dirs + files:
                os.chmod(os.path.join(root, name), 0o755 if name in dirs else 0o644)
        os.chmod(script, 0o755)

    def write_server_config(self, config) -> None:
        """The emulated server's configuration (hsts.ServerConfig) for the account,
        its docroot filled in."""
        config.docroots = {self.account.name: self.account.home}
        config.write(self.config_path)
        os.chmod(self.config_path, 0o644)

    def _config_lines(self) -> list[str]:
        lines = [line for line in super()._config_lines()
                 if not line.startswith('AuthorizedKeysFile')]
        return [*lines, f'AuthorizedKeysFile {self.area}/authorized_keys',
                f'ForceCommand {self.area}/aspshell']

    def remove(self) -> None:
        remove_password_user(self)
        shutil.rmtree(self.area, ignore_errors=True)


@dataclass
class AsperaAccount:
    """What a test needs of the restricted account (the ``aspera_account`` fixture):
    where to log in, with what, and the docroot on this machine. ``configure()``
    changes the server's settings for this test (partial_file_suffix, min_rate_kbps);
    ``put()``/``mkdir()`` make files in the docroot owned by the account."""

    server: AsperaSshServer
    host: str
    port: int
    user: str
    password: str
    key_file: str            # a client key without passphrase, authorized for the account
    docroot: str
    known_hosts: str

    def path(self, rel: str = '') -> str:
        return os.path.join(self.docroot, rel.lstrip('/'))

    def configure(self, **settings) -> None:
        from faspmanager.testing.hsts import ServerConfig
        self.server.write_server_config(ServerConfig(**settings))

    def own(self, path: str) -> None:
        give(self.server.account, path)

    def mkdir(self, rel: str) -> str:
        path = self.path(rel)
        os.makedirs(path, exist_ok=True)
        self.own(self.docroot)
        return path

    def put(self, rel: str, data: bytes | str = b'') -> str:
        path = self.path(rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
        self.own(self.docroot)
        return path

    def reset(self) -> None:
        """An empty docroot and the default settings (no partial suffix, no minimum)."""
        for name in os.listdir(self.docroot):
            path = os.path.join(self.docroot, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
        self.configure()
