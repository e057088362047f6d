"""A directory on a FASP host, reached through IBM Aspera's ascp (the faspmanager
package, imported only when a FASP job runs).

One ascp session moves many files between the local disk and the host, so this is a
`BatchEndpoint`: the runner hands it the job's whole pass (faspbatch.py runs it). The
other side of a FASP job is a local directory. ``open()`` finds ascp and logs in over
SSH with the host's credentials (faspssh.py); that SSH login also serves what ascp
cannot do (over SFTP): the ready file of a FASP source, the listing of a dry run or a
daemon scan, and removing what an interrupted upload left on the host.

The job rules of FASP (`check_host`, `check_job`) are checked when the configuration
is loaded, without importing faspmanager.
"""

import errno
import logging
import os
import shutil

from filetransfer.errors import ConfigError, ConnectError
from filetransfer.endpoints.fasp import filters as faspfilters
from filetransfer.endpoints.base import BatchEndpoint

log = logging.getLogger(__name__)


def check_host(path, section: str, host: dict) -> None:
    """The FASP options of a host that depend on each other or on this machine.
    Raises ConfigError naming the file, the host's section and the option."""
    where = f'{path}: [{section}]'
    ascp_path = host.get('ascp_path')
    if ascp_path:
        found = ascp_path if os.sep in ascp_path else shutil.which(ascp_path)
        if not (found and os.path.isfile(found) and os.access(found, os.X_OK)):
            raise ConfigError(f"{where} ascp_path: expected an executable ascp (a path, or a "
                              f"command in PATH), got '{ascp_path}'")
    target, minimum = host.get('target_rate_kbps'), host.get('min_rate_kbps')
    if minimum is not None and minimum > (target or 10000):
        raise ConfigError(f'{where} min_rate_kbps: {minimum} is above target_rate_kbps '
                          f'({target or "10000, the default"})')
    key_pass, password = host.get('key_pass'), host.get('password')
    if host.get('key_file') and key_pass and password and key_pass != password:
        raise ConfigError(f'{where} key_pass: ascp takes one secret, the password or the '
                          'passphrase of key_file; give only one of password and key_pass')


def check_job(where, source: dict, target: dict) -> None:
    """What a job with a FASP side may do: the other side is local, ``temp`` is
    ``ext:.EXT`` (ascp's partial-file suffix), and a FASP source's patterns can be
    said as ascp rules. Raises ConfigError naming the option."""
    fasp_role, other_role = ('source', 'target') if source['type'] == 'FASP' \
        else ('target', 'source')
    other = target if fasp_role == 'source' else source
    if other['type'] != 'LOCAL':
        option = 'host_id' if other.get('host_id') else 'type'
        raise ConfigError(f'{where}: [{other_role}] {option}: a FASP {fasp_role} needs a '
                          f'local {other_role} directory (ascp moves files between this '
                          f'machine and the FASP host), not a {other["type"]} host')
    temp = target.get('temp')
    if temp is not None and temp.mode != 'ext':
        raise ConfigError(f"{where}: [target] temp: a FASP transfer writes a file under "
                          f"ascp's partial-file suffix: expected ext:.EXT, got '{temp}'")
    if fasp_role == 'source':
        try:
            faspfilters.build(source['files'], source['ignore'], source['recursive'])
        except faspfilters.Unsupported as exc:
            raise ConfigError(f'{where}: [source] {exc.option}: ascp cannot choose files '
                              f'by this pattern of a FASP source: {exc}') from None


def _unsupported(what: str) -> OSError:
    return OSError(errno.ENOTSUP, f'a FASP host is reached through ascp sessions, not by '
                                  f'{what}')


class FaspEndpoint(BatchEndpoint):
    def __init__(self, config: dict, role: str):
        super().__init__(config, role)
        self.root = config['path']
        self.ascp_path = None
        self.ssh = None

    def open(self) -> None:
        """Finds ascp and logs in over SSH. Raises ConnectError."""
        import faspmanager

        from filetransfer.endpoints.fasp.ssh import SshSide

        try:
            self.ascp_path = faspmanager.find_ascp(self.config.get('ascp_path'))
        except FileNotFoundError as exc:
            raise ConnectError(f"{exc.strerror or exc}; install ascp or set "
                                             "the FASP host's ascp_path", retryable=False) from None
        self.ssh = SshSide(self.config, self.role)
        self.ssh.login()
        log.debug('FASP %s %s: ascp %s, SSH login as %s', self.role, self.root,
                  self.ascp_path, self.ssh.label)

    def close(self) -> None:
        if self.ssh is not None:
            self.ssh.close()

    def transfer_batch(self, local, batch):
        from filetransfer.endpoints.fasp.batch import FaspBatch

        self.ssh.close()     # idle while ascp works; it logs in again for a clean-up
        yield from FaspBatch(self.config, local.config['path'], batch, self.ascp_path,
                             self.ssh).run()

    # -- over SFTP ------------------------------------------------------------
    def walk(self, descend):
        yield from self.ssh.walk(descend)

    def exists(self, relpath: str) -> bool:
        return self.ssh.size(relpath) is not None

    def size(self, relpath: str) -> int | None:
        return self.ssh.size(relpath)

    def stat(self, relpath: str):
        return self.ssh.stat(relpath)

    def remove(self, relpath: str) -> None:
        self.ssh.remove(relpath)

    # -- not through ascp -------------------------------------------------------
    def open_read(self, relpath: str, offset: int = 0, expected=None):
        raise _unsupported('reading single files')

    def write(self, relpath: str, reader, progress=None, *, offset=0,
              keep_partial=False, exclusive=False) -> int:
        raise _unsupported('writing single files')

    def rename(self, relpath: str, new_relpath: str) -> None:
        raise _unsupported('renaming files')


def create(config: dict, role: str) -> FaspEndpoint:
    return FaspEndpoint(config, role)
