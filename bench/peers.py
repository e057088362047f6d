"""The command lines of the tools filetransfer is compared with over SSH: OpenSSH's
`sftp -b` and `scp`, `rsync -e ssh`, `rclone` (its sftp backend) and `lftp` (sftp://,
which runs `ssh`), for one transfer: a file or a folder of files, up or down.

Every OpenSSH-based tool runs on the cipher filetransfer's ssh child prefers
(aes128-gcm) and, where asked, also on OpenSSH's default (chacha20-poly1305 here);
rclone (Go's SSH) prefers aes128-gcm by itself and has no cipher option in the
versions Debian ships, so it runs once.
"""

import itertools
import os
from dataclasses import dataclass

from timing import Contender, installed

GCM = 'aes128-gcm@openssh.com'
CIPHERS = {GCM: 'aes128-gcm', None: 'default cipher, chacha20-poly1305'}


@dataclass
class SshLogin:
    """Where and how the client tools log in to the test sshd (a key, a known-hosts
    file); ``scratch`` is a folder for their batch and config files."""

    host: str
    port: int
    user: str
    key: str
    known_hosts: str
    scratch: str

    def options(self, cipher: str | None) -> list:
        found = ['-o', f'Port={self.port}', '-o', f'UserKnownHostsFile={self.known_hosts}',
                 '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-i', self.key]
        return found + (['-o', f'Ciphers={cipher}'] if cipher else [])

    def remote(self, path: str) -> str:
        return f'{self.user}@{self.host}:{path}'

    def rclone(self, path: str) -> str:
        return (f':sftp,host={self.host},port={self.port},user={self.user},'
                f'key_file={self.key},known_hosts_file={self.known_hosts}:{path}')

    def rclone_env(self) -> dict:
        return {**os.environ, 'RCLONE_CONFIG': os.path.join(self.scratch, 'rclone.conf')}

    def lftp_open(self, cipher: str | None) -> str:
        """lftp's commands that log in (the key through its ssh; no password)."""
        ssh = ' '.join(['ssh', '-a', '-x', *self.options(cipher)[2:]])
        return (f'set sftp:connect-program "{ssh}"; set net:max-retries 1; '
                f'set cmd:fail-exit yes; open -u {self.user}, -p {self.port} '
                f'sftp://{self.host}')


@dataclass
class Transfer:
    """One transfer between the local folder ``local`` and the server's folder
    ``remote``: the file ``name`` (the folder holds no other) or every file of the
    folder (``name`` None), ``up`` to the server or down. ``prepare`` and ``check``
    are the case's."""

    local: str
    remote: str
    up: bool
    name: str | None = None
    prepare: object = None
    check: object = None


_batches = itertools.count()


def _batch(login: SshLogin, line: str) -> str:
    path = os.path.join(login.scratch, f'sftp-{next(_batches)}.batch')
    with open(path, 'w') as fh:
        fh.write(line + '\n')
    return path


TOOLS = ('sftp', 'scp', 'rsync', 'lftp', 'rclone')


def peers(login: SshLogin, transfer: Transfer, ciphers=(GCM,), parallel: int = 0,
          tools=TOOLS, hashchecks=(False, True)) -> list:
    """The contenders of ``tools`` (those installed) for ``transfer``; ``parallel`` > 0
    gives rclone that many transfers and lftp's mirror that many files at once (else
    their defaults); rclone runs without and/or with its hash check (``hashchecks``)."""
    found = []
    wanted = {tool for tool in tools if installed(tool)}

    def add(tool, name, argv, env=None):
        if tool in wanted:
            found.append(Contender(name, argv, prepare=transfer.prepare,
                                   check=transfer.check, env=env))

    source_dir, target_dir = (transfer.local, transfer.remote) if transfer.up else \
        (transfer.remote, transfer.local)
    if transfer.name:
        source = os.path.join(source_dir, transfer.name)
        target = os.path.join(target_dir, transfer.name)
        recursive, slash = [], ''
    else:
        source, target, recursive, slash = source_dir, target_dir, ['-r'], '/'
    remote_source = source if transfer.up else login.remote(source)
    remote_target = login.remote(target) if transfer.up else target
    at_once = f' --parallel={parallel}' if parallel else ''
    verb = ('put' if transfer.up else 'get') + ('' if transfer.name else ' -r')
    batch = _batch(login, f'{verb} {source} {target}') if 'sftp' in wanted else None
    for cipher in ciphers:
        shown = f' ({CIPHERS[cipher]})'
        options = login.options(cipher)
        add('sftp', 'sftp -b' + shown, ['sftp', '-q', '-b', batch, *options,
                                        f'{login.user}@{login.host}'])
        add('scp', 'scp' + shown, ['scp', '-q', *recursive, *options, remote_source,
                                   remote_target])
        add('rsync', 'rsync -e ssh' + shown, ['rsync', *recursive, '-e',
                                              ' '.join(['ssh', *options]),
                                              remote_source + slash, remote_target + slash])
        mirror = 'mirror' + (' -R' if transfer.up else '') + at_once
        add('lftp', 'lftp mirror' + at_once + shown,
            ['lftp', '-c', f'{login.lftp_open(cipher)}; {mirror} {source_dir} {target_dir}'])
    rclone_source = source if transfer.up else login.rclone(source)
    rclone_target = login.rclone(target_dir) if transfer.up else target_dir
    transfers = ['--transfers', str(parallel)] if parallel else []
    for hashcheck in hashchecks:
        add('rclone', 'rclone' + (f' --transfers {parallel}' if parallel else '') +
            (' (hash check)' if hashcheck else ' (no hash check)'),
            ['rclone', 'copy', *transfers, *([] if hashcheck else ['--sftp-disable-hashcheck']),
             rclone_source, rclone_target], env=login.rclone_env())
    return found
