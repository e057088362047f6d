"""Pure-FTPd on 127.0.0.1, from the unpacked Debian package: FTP and explicit FTPS
(AUTH TLS optional) on one port, system users (shadow passwords) chrooted to their
homes. Pure-FTPd takes its options on the command line; it logs to syslog only."""

import os

from .login import LoginServer
from .unpacked import program

PURE_FTPD = 'usr/sbin/pure-ftpd'


def available() -> bool:
    return program(PURE_FTPD) is not None


class PureFtpd(LoginServer):
    name = 'pureftpd'

    def argv(self) -> list[str]:
        argv = [program(PURE_FTPD), '--bind', f'127.0.0.1,{self.port}', '--ipv4only',
                '--login', 'unix', '--noanonymous', '--chrooteveryone', '--dontresolve',
                '--minuid', str(self.user.uid), '--maxclientsnumber', '100', '--maxclientsperip', '100',
                '--pidfile', os.path.join(self.root, 'pure-ftpd.pid'),
                '--syslogfacility', 'none']
        if self.cert_file:
            argv += ['--tls', '1', '--certfile', f'{self.cert_file},{self.cert_file}']
        return argv
