"""ProFTPD on 127.0.0.1, from the unpacked Debian packages: FTP and explicit FTPS
(mod_tls, AUTH TLS optional) on one port with the login chrooted to its home, or
SFTP (mod_sftp, password logins, no chroot: paths are the disk's).

As some servers are configured: ``refuse``, FTP commands refused whatever their
argument (550), though FEAT may announce them (MLSD, MLST); ``restart_downloads=False``
refuses REST before RETR (uploads refuse it by default: AllowStoreRestart off)."""

import os
import subprocess

from .login import LoginServer
from .unpacked import ROOT, program

PROFTPD = 'usr/sbin/proftpd'
MODULES = 'usr/lib/proftpd'


def available() -> bool:
    return all(program(path) for path in (PROFTPD, f'{MODULES}/mod_tls.so',
                                          f'{MODULES}/mod_sftp.so'))


class Proftpd(LoginServer):
    def __init__(self, *args, sftp: bool = False, refuse: tuple = (),
                 restart_downloads: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.remote_is_chroot = not sftp
        self.name = 'proftpd'
        files = {kind: os.path.join(self.root, f'proftpd.{kind}')
                 for kind in ('log', 'pid', 'scoreboard', 'delay', 'commands', 'tls', 'sftp')}
        self.log_files += [files['log'], files['commands'], files['tls' if not sftp else 'sftp']]
        lines = [
            'ServerType standalone', 'ServerName "filetransfer test"', 'DefaultServer on',
            f'Port {self.port}', 'DefaultAddress 127.0.0.1', 'SocketBindTight on',
            'UseIPv6 off', 'User nobody', 'Group nogroup', 'MaxInstances 100',
            f'ModulePath {os.path.join(ROOT, MODULES)}',
            f'PidFile {files["pid"]}', f'ScoreboardFile {files["scoreboard"]}',
            f'DelayTable {files["delay"]}', 'ControlsEngine off', 'WtmpLog off',
            'UseReverseDNS off', f'SystemLog {files["log"]}',
            'LogFormat commands "%m %J -> %s %S"',
            f'ExtendedLog {files["commands"]} ALL commands',
            'AuthOrder mod_auth_unix.c', 'AuthPAM off', 'Umask 022', 'AllowOverwrite on',
        ]
        if sftp:
            host_key = os.path.join(self.root, 'ssh_host_ecdsa_key')
            subprocess.run(['ssh-keygen', '-q', '-t', 'ecdsa', '-b', '256', '-m', 'PEM', '-N', '',
                            '-f', host_key, '-C', 'test'], check=True)
            self.known_hosts = os.path.join(self.root, 'known_hosts')
            with open(host_key + '.pub') as fh, open(self.known_hosts, 'w') as out:
                out.write(f'[127.0.0.1]:{self.port} {" ".join(fh.read().split()[:2])}\n')
            lines += ['LoadModule mod_sftp.c', 'SFTPEngine on', f'SFTPHostKey {host_key}',
                      'SFTPAuthMethods password', f'SFTPLog {files["sftp"]}']
        else:
            # mod_digest: HASH and XSHA256, so that a checksum is computed by the server
            lines += ['DefaultRoot ~', 'LoadModule mod_digest.c',
                      'DigestCache off']   # a file changed since is hashed again
            if self.cert_file:
                lines += ['LoadModule mod_tls.c', 'TLSEngine on', f'TLSLog {files["tls"]}',
                          'TLSProtocol TLSv1.2 TLSv1.3', 'TLSRequired off',
                          f'TLSECCertificateFile {self.cert_file}',
                          f'TLSECCertificateKeyFile {self.cert_file}', 'TLSVerifyClient off']
        if refuse:
            lines += [f'<Limit {" ".join(refuse)}>', '  DenyAll', '</Limit>']
        if not restart_downloads:
            lines.append('AllowRetrieveRestart off')
        self.config = os.path.join(self.root, 'proftpd.conf')
        with open(self.config, 'w') as fh:
            fh.write('\n'.join(lines) + '\n')

    def login(self, protocol: str, **fields):
        if protocol == 'SFTP':
            fields['known_hosts'] = self.known_hosts
        return super().login(protocol, **fields)

    def argv(self) -> list[str]:
        return [program(PROFTPD), '--nodaemon', '--config', self.config]
