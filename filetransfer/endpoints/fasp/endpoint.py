"""A directory on a FASP host, reached through IBM Aspera's ascp (the faspmanager
package, imported only when a FASP job runs).

One ascp session moves many files between the local disk and the host, so this is a
`BatchEndpoint`: the runner hands it the job's whole pass (faspbatch.py runs it). The
other side of a FASP job is a local directory. ``open()`` finds ascp and logs in over
SSH with the host's credentials (faspssh.py); that SSH login also serves what ascp
cannot do (over SFTP): the ready file of a FASP source, the listing of a dry run or a
daemon scan, and removing what an interrupted upload left on the host.

The FASP options of a host and the rules of a FASP job are in options.py, checked
when the configuration is loaded, without importing faspmanager.
"""

import logging

from filetransfer.endpoints.base import BatchEndpoint
from filetransfer.errors import ConnectError

log = logging.getLogger(__name__)


class FaspEndpoint(BatchEndpoint):
    def __init__(self, spec):
        super().__init__(spec)
        self.root = spec.path
        self.ascp_path = None
        self.ssh = None

    def open(self) -> None:
        """Finds ascp and logs in over SSH. Raises ConnectError."""
        import faspmanager

        from filetransfer.endpoints.fasp.ssh import SshSide

        try:
            self.ascp_path = faspmanager.find_ascp(self.spec.host.ascp_path)
        except FileNotFoundError as exc:
            raise ConnectError(f"{exc.strerror or exc}; install ascp or set the FASP host's "
                               "ascp_path", retryable=False) from None
        self.ssh = SshSide(self.spec)
        self.ssh.login()
        log.debug('FASP %s %s: ascp %s, SSH login as %s', self.role, self.root,
                  self.ascp_path, self.ssh.label)

    def close(self) -> None:
        if self.ssh is not None:
            self.ssh.close()

    def transfer_batch(self, local, batch):
        from filetransfer.endpoints.fasp.batch import FaspBatch

        self.ssh.close()     # idle while ascp works; it logs in again for a clean-up
        yield from FaspBatch(self.spec, local.spec.path, batch, self.ascp_path, self.ssh).run()

    # -- over SFTP ------------------------------------------------------------
    def walk(self, descend):
        yield from self.ssh.walk(descend)

    def stat(self, relpath: str):
        return self.ssh.stat(relpath)

    def rename(self, relpath: str, new_relpath: str) -> None:
        self.ssh.rename(relpath, new_relpath)

    def remove(self, relpath: str) -> None:
        self.ssh.remove(relpath)


def create(spec) -> FaspEndpoint:
    return FaspEndpoint(spec)
