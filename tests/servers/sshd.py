"""The real OpenSSH sshd on 127.0.0.1, with its own host keys, client keys and
config in a temp dir. It runs as the current user; as root it also creates a
password-only user for password logins (root's own password is never touched)."""

import os
import pwd
import shutil
import signal
import subprocess
from dataclasses import dataclass, field

from .common import free_port, wait_listening
from .process import descendants, signal_tree
from .users import User, make_user, remove_user

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
            self.account = make_user(PASSWORD_USER)
        self._write_config()

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
        lines = [
            f'Port {self.port}', f'ListenAddress {self.host}',
            *(f'HostKey {path}' for path in self.host_keys.values()),
            f'PidFile {self.root}/sshd.pid',
            f'AuthorizedKeysFile {self.root}/authorized_keys',
            'PubkeyAuthentication yes', 'PasswordAuthentication yes',
            'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no',
            'PermitRootLogin yes', 'MaxStartups 100:30:200', 'MaxSessions 50',
            'LogLevel VERBOSE', f'Subsystem sftp {SFTP_SERVER}',
        ]
        with open(os.path.join(self.root, 'sshd_config'), 'w') as fh:
            fh.write('\n'.join(lines) + '\n')

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
