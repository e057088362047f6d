"""A directory on a FASP host, reached through IBM Aspera's ascp (the faspmanager
package, imported only when a FASP job runs).

One ascp session moves many files between the local disk and the host, so this is a
`BatchEndpoint`: the runner hands it the job's whole pass (batch.py runs it). The
other side of a FASP job is a local directory. What ascp cannot do (the ready file of
a FASP source, the listing of a dry run, a daemon scan or a download the job chooses
itself, a look at a target's files, the moves into a source's archive, removing what
a failed upload left on the host) runs over the host's ``remote_commands``: ascmd
(ascmd.py), in ascp's own path space (below the user's docroot), or, for a server
that offers it, SFTP (ssh.py), in the SFTP server's. ``open()`` finds ascp and logs
in that way.

The FASP options of a host and the rules of a FASP job are in options.py, checked
when the configuration is loaded, without importing faspmanager.
"""

import logging

from filetransfer.endpoints.base import BatchEndpoint, Capabilities
from filetransfer.errors import ConnectError

log = logging.getLogger(__name__)


class FaspEndpoint(BatchEndpoint):
    # the remote commands list modification times; ascp keeps them on what it writes
    # when asked (--preserve-modification-time: Batch.keep_mtimes)
    capabilities = Capabilities(batch=True, mtimes=True, set_mtime=True)

    def __init__(self, spec):
        super().__init__(spec)
        self.root = spec.path
        self.ascp_path = None
        self.remote = None          # ascmd.AscmdSide or ssh.SshSide

    def open(self) -> None:
        """Finds ascp and logs in for the remote commands. Raises ConnectError."""
        import faspmanager

        try:
            self.ascp_path = faspmanager.find_ascp(self.spec.host.ascp_path)
        except FileNotFoundError as exc:
            raise ConnectError(f"{exc.strerror or exc}; install ascp or set the FASP host's "
                               "ascp_path", retryable=False) from None
        self.remote = _remote_side(self.spec)
        self.remote.connect()
        log.debug('FASP %s %s: ascp %s, %s as %s', self.role, self.root, self.ascp_path,
                  self.spec.host.remote_commands, self.remote.label)

    def close(self) -> None:
        if self.remote is not None:
            self.remote.close()

    def transfer_batch(self, local, batch):
        from filetransfer.endpoints.fasp.batch import FaspBatch

        self.remote.close()     # idle while ascp works; it logs in again when needed
        yield from FaspBatch(self.spec, local.spec.path, batch, self.ascp_path,
                             self.remote).run()

    # -- through the remote commands ---------------------------------------------
    def walk(self, descend):
        yield from self.remote.walk(descend)

    def stat(self, relpath: str):
        return self.remote.stat(relpath)

    def rename(self, relpath: str, new_relpath: str) -> None:
        self.remote.rename(relpath, new_relpath)

    def remove(self, relpath: str) -> None:
        self.remote.remove(relpath)

    def relative_dir(self, folder: str) -> str | None:
        return self.remote.relative_dir(folder)

    def move_into(self, relpath: str, folder: str, new_relpath: str) -> None:
        self.remote.move_into(relpath, folder, new_relpath)


def _remote_side(spec):
    if spec.host.remote_commands == 'sftp':
        from filetransfer.endpoints.fasp.ssh import SshSide
        return SshSide(spec)
    from filetransfer.endpoints.fasp.ascmd import AscmdSide
    return AscmdSide(spec)


def create(spec) -> FaspEndpoint:
    return FaspEndpoint(spec)
