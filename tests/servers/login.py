"""What a scenario needs of a test server, whichever program it is: where it
listens, who logs in with which password, the directory on disk that login sees
and how the server names it, what the client must trust, and its host section."""

import os
import posixpath
from dataclasses import dataclass

from .process import ServerProcess
from .users import User, give


@dataclass
class Login:
    name: str               # the server program: pyftpdlib, vsftpd, proftpd, pureftpd, openssh
    protocol: str           # FTP, FTPS or SFTP
    port: int
    user: str
    password: str
    home: str               # the login's directory on disk
    remote_home: str        # how the server names it: '/' when the login is chrooted
    ca_file: str | None = None        # FTPS: the CA of the server certificate
    known_hosts: str | None = None    # SFTP: the server's host key
    owner: User | None = None         # whose are the files the server writes (None: ours)
    server: object = None             # the running program (stop, start, logs)
    host: str = '127.0.0.1'

    @property
    def tls(self) -> bool:
        return self.protocol == 'FTPS'

    def path(self, *parts: str) -> str:
        """The local path of a path below the login's directory."""
        return os.path.join(self.home, *parts)

    def remote(self, *parts: str) -> str:
        """The same path as the server names it (for a job's ``path``)."""
        return posixpath.join(self.remote_home, *parts)

    def own(self, path: str) -> str:
        """Gives what the test made at ``path`` to the login, so that the server may
        replace or delete it; returns ``path``."""
        if self.owner:
            give(self.owner, path)
        return path

    def host_section(self, **options) -> dict:
        """A hosts-file section for this login; options add to it, None removes."""
        section = {'type': self.protocol, 'host': f'{self.host}:{self.port}',
                   'user': self.user, 'password': self.password, 'timeout': '30',
                   'ca_file': self.ca_file, 'known_hosts': self.known_hosts, **options}
        return {name: value for name, value in section.items() if value is not None}


class LoginServer(ServerProcess):
    """A server that runs as root and logs in the system user ``user`` (the
    server's sessions run as that user), FTP and FTPS on one port unless the
    subclass says otherwise; paths are those of a chroot to its home."""

    remote_is_chroot = True

    def __init__(self, root: str, user: User, cert_file: str | None = None,
                 ca_file: str | None = None):
        super().__init__(root)
        self.user, self.cert_file, self.ca_file = user, cert_file, ca_file

    def login(self, protocol: str, **fields) -> Login:
        return Login(self.name, protocol, self.port, self.user.name, self.user.password,
                     self.user.home, '/' if self.remote_is_chroot else self.user.home,
                     ca_file=self.ca_file if protocol == 'FTPS' else None, owner=self.user,
                     server=self, **fields)


# Every server program and protocol a scenario can run against, as ``login`` ids.
LOGINS = ('pyftpdlib-FTP', 'pyftpdlib-FTPS', 'vsftpd-FTP', 'vsftpd-FTPS', 'proftpd-FTP',
          'proftpd-FTPS', 'pureftpd-FTP', 'pureftpd-FTPS', 'openssh-SFTP', 'proftpd-SFTP')


def logins(*protocols: str, but: tuple = ()) -> list[str]:
    """The ``login`` ids of these protocols (all when none), less those in ``but``."""
    return [each for each in LOGINS
            if (not protocols or each.split('-')[1] in protocols) and each not in but]
