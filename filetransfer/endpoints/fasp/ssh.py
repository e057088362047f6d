"""The files of a FASP host over SFTP, for a host with ``remote_commands = sftp``.

ascp logs in over SSH before it moves any data. A server that offers SFTP to the user
can serve, over the same login (same user, password or key, port), what ascp cannot
do: the ready file of a FASP source, the listing of a dry run, of a daemon scan or of a
later try of a download, and removing what a failed upload left behind. This is the
SFTP endpoint with ascp's host-key policy: the key is accepted, or checked against
``ssh_fingerprint`` when that is set (there is no known-hosts file).

Paths here are the SFTP server's, ascp's are below the user's docroot when the server
has one: the job's ``path`` must name the same directory for both. Users restricted to
``aspshell`` have no SFTP; ascmd (ascmd.py, the default) serves them.
"""

import base64
import dataclasses
import hashlib
import logging

from filetransfer.errors import ConnectError
from filetransfer.endpoints.sftp.endpoint import SftpEndpoint
from filetransfer.endpoints.fasp.options import label
from filetransfer.endpoints.sftp.options import SftpHost

log = logging.getLogger(__name__)


def fingerprint(key_blob: bytes) -> str:
    """OpenSSH's spelling of a host key's fingerprint: ``SHA256:base64``."""
    digest = base64.b64encode(hashlib.sha256(key_blob).digest()).decode().rstrip('=')
    return f'SHA256:{digest}'


def fingerprint_matches(expected: str, key_blob: bytes) -> bool:
    """Whether ``expected`` (``SHA256:base64`` or SHA-1/MD5 hex, colons and case
    free, as ascp's ``--check-sshfp`` takes it) is the fingerprint of the key."""
    text = expected.strip()
    if text.upper().startswith('SHA256:'):
        return text[7:].rstrip('=') == fingerprint(key_blob)[7:]
    if text.upper().startswith(('SHA1:', 'MD5:')):
        text = text.split(':', 1)[1]
    text = text.replace(':', '').lower()
    return text in (hashlib.sha1(key_blob).hexdigest(), hashlib.md5(key_blob).hexdigest())


class SshSide(SftpEndpoint):
    """The FASP host's directory over SSH/SFTP; ``connect()`` checks the login and
    SFTP, the file methods open the directory (logging in again if needed)."""

    def __init__(self, spec):
        fasp = spec.host
        # like ascp: the password (ASPERA_SCP_PASS) also unlocks an encrypted key
        login = SftpHost(type='SFTP', host=fasp.host, port=fasp.port, user=fasp.user,
                         password=fasp.password, timeout=fasp.timeout, key_file=fasp.key_file,
                         key_pass=fasp.key_pass or fasp.password, transport='paramiko')
        super().__init__(dataclasses.replace(spec, host=login))
        self.fingerprint = fasp.ssh_fingerprint
        self.where = self.label = label(fasp)

    def _read_host_keys(self) -> None:
        pass

    def _preferred_key_types(self, offered: list) -> list:
        return offered

    def _host_key_problem(self, server_key) -> str | None:
        seen = fingerprint(server_key.asbytes())
        log.debug('host key of %s: %s %s', self.where, server_key.get_name(), seen)
        expected = self.fingerprint
        if expected and not fingerprint_matches(expected, server_key.asbytes()):
            return f'the host key ({seen}) does not match ssh_fingerprint {expected}'
        return None

    def _no_sftp(self, exc) -> ConnectError:
        return ConnectError(
            f'{self.where}: the server offers no SFTP to this user ({exc or type(exc).__name__}); '
            'set remote_commands = ascmd for an Aspera server', retryable=False)

    def connect(self) -> None:
        """Logs in and opens SFTP (the directory is ascp's to check). Raises
        ConnectError."""
        try:
            self._open_paramiko()
        except BaseException:
            self.close()
            raise

    def _with_sftp(self) -> None:
        if self._sftp is None or self._transport is None or not self._transport.is_active():
            self.close()
            self.open()
        elif self.root is None:
            self._open_root()

    def walk(self, descend):
        self._with_sftp()
        yield from super().walk(descend)

    def stat(self, relpath: str):
        self._with_sftp()
        return super().stat(relpath)

    def rename(self, relpath: str, new_relpath: str) -> None:
        self._with_sftp()
        super().rename(relpath, new_relpath)

    def remove(self, relpath: str) -> None:
        self._with_sftp()
        super().remove(relpath)

    def relative_dir(self, folder: str) -> str | None:
        self._with_sftp()
        return super().relative_dir(folder)

    def move_into(self, relpath: str, folder: str, new_relpath: str) -> None:
        self._with_sftp()
        super().move_into(relpath, folder, new_relpath)
