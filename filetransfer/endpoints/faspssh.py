"""The SSH side of a FASP host.

ascp logs in over SSH before it moves any data. The FASP endpoint uses the same login
(same user, password or key, port and ``ssh_fingerprint``; paramiko, imported here
only) for what ascp cannot do: checking the login when the endpoint opens, and, over
SFTP, the ready file of a FASP source, the listing of a dry run or of a daemon scan,
and removing what an interrupted or failed upload left behind. Without
``ssh_fingerprint`` the host key is accepted as ascp accepts it.

The login alone needs no shell and no SFTP, so it works with an Aspera server whose
users are restricted to ``aspshell``; the SFTP uses need a server that offers SFTP to
the user and say so when it does not.
"""

import base64
import errno
import hashlib
import logging
import posixpath
import socket
import stat

from ..errors import ConnectError, TransferError
from ..secret import reveal
from .base import FileEntry

log = logging.getLogger(__name__)

BANNER_TIMEOUT = 30.0     # seconds for the server's greeting and for the login


def label(config: dict) -> str:
    """``user@host:port`` of a FASP host, as messages name it."""
    host = config['host']
    return f"{config['user']}@{f'[{host}]' if ':' in host else host}:{config['port']}"


def not_retryable(error):
    """Marks a ConnectError/TransferError as one another try cannot fix."""
    error.retryable = False
    return error


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


class SshSide:
    """The SSH connection to a FASP host; ``login()`` first, ``close()`` at the end."""

    def __init__(self, config: dict):
        self.config = config
        self.label = label(config)
        self._client = None
        self._sftp = None

    # -- the login ------------------------------------------------------------
    def login(self) -> None:
        """Logs in (checking the host key against ``ssh_fingerprint`` when set).
        Raises ConnectError; only a network problem is worth another try."""
        import paramiko

        self.close()
        config = self.config
        expected = config.get('ssh_fingerprint')
        problem = []

        class CheckFingerprint(paramiko.MissingHostKeyPolicy):
            def missing_host_key(self, client, hostname, key):
                seen = fingerprint(key.asbytes())
                log.debug('host key of %s: %s %s', hostname, key.get_name(), seen)
                if expected and not fingerprint_matches(expected, key.asbytes()):
                    problem.append(seen)
                    raise paramiko.SSHException('host key mismatch')

        key_file = config.get('key_file')
        if key_file:
            try:
                with open(key_file, 'rb'):
                    pass
            except OSError as exc:
                raise not_retryable(ConnectError(
                    f'{self.label}: cannot read key_file {key_file}: {exc.strerror}')) from None
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(CheckFingerprint())
        timeout = config.get('timeout') or None
        passphrase = reveal(config.get('key_pass')) or reveal(config.get('password'))
        try:
            client.connect(config['host'], config['port'], username=config['user'],
                           password=reveal(config.get('password')),
                           key_filename=key_file or None,
                           passphrase=passphrase if key_file else None,
                           look_for_keys=False, allow_agent=False, timeout=timeout,
                           banner_timeout=timeout or BANNER_TIMEOUT,
                           auth_timeout=timeout or BANNER_TIMEOUT)
        except paramiko.AuthenticationException as exc:
            client.close()
            raise not_retryable(ConnectError(
                f'{self.label}: authentication failed ({exc})')) from None
        except (socket.timeout, TimeoutError):
            client.close()
            raise ConnectError(f'{self.label}: timeout connecting') from None
        except (OSError, EOFError, paramiko.SSHException) as exc:
            client.close()
            if problem:
                raise not_retryable(ConnectError(
                    f'{self.label}: the host key ({problem[0]}) does not match '
                    f'ssh_fingerprint {expected}')) from None
            reason = getattr(exc, 'strerror', None) or str(exc) or type(exc).__name__
            raise ConnectError(f'cannot connect to {self.label}: {reason}') from None
        self._client = client

    def close(self) -> None:
        """Closes the connection; never raises."""
        client, self._client, self._sftp = self._client, None, None
        if client is not None:
            try:
                client.close()
            except Exception as exc:     # a dead connection; nothing left to release
                log.debug('closing the SSH connection to %s: %s', self.label, exc)

    def sftp(self):
        """The SFTP session (logging in again when the connection was closed or lost).
        Raises ConnectError when the server does not offer SFTP."""
        if self._sftp is not None and self._client.get_transport().is_active():
            return self._sftp
        if self._client is None or not self._client.get_transport().is_active():
            self.login()
        try:
            self._sftp = self._client.open_sftp()
        except Exception as exc:
            reason = str(exc) or type(exc).__name__
            raise not_retryable(ConnectError(
                f'{self.label}: the server offers no SFTP to this user ({reason}); a FASP '
                'host needs it for a ready file, a dry run, a daemon scan and the clean-up '
                'after a failed upload')) from None
        return self._sftp

    # -- files over SFTP ---------------------------------------------------------
    def _lost(self, exc) -> TransferError:
        return TransferError(f'connection to {self.label} lost: {exc or type(exc).__name__}')

    def walk(self, root: str, descend):
        """Yields the regular files below ``root`` (symbolic links followed), entering
        a sub-directory only when ``descend(relative_dir)``."""
        sftp = self.sftp()
        try:
            entries = sftp.listdir_attr(root)
        except OSError as exc:
            what = 'does not exist' if exc.errno == errno.ENOENT else \
                f'cannot be listed ({exc.strerror or exc})'
            raise ConnectError(f'source directory {root} {what} on {self.label}') from None
        except Exception as exc:
            raise self._lost(exc) from None
        yield from self._walk(sftp, root, '', entries, descend)

    def _walk(self, sftp, root, reldir, entries, descend):
        for attr in sorted(entries, key=lambda item: item.filename):
            relpath = f'{reldir}/{attr.filename}' if reldir else attr.filename
            path = posixpath.join(root, relpath)
            try:
                if stat.S_ISLNK(attr.st_mode or 0):
                    attr = sftp.stat(path)
                if stat.S_ISDIR(attr.st_mode or 0):
                    if descend(relpath):
                        yield from self._walk(sftp, root, relpath, sftp.listdir_attr(path),
                                              descend)
                elif stat.S_ISREG(attr.st_mode or 0):
                    yield FileEntry(relpath, attr.st_size, attr.st_mtime)
            except OSError as exc:
                log.warning('cannot read %s on %s: %s', path, self.label,
                            exc.strerror or exc)
            except Exception as exc:
                raise self._lost(exc) from None

    def size(self, path: str) -> int | None:
        """The size of a regular file, None when there is none."""
        try:
            attr = self.sftp().stat(path)
        except FileNotFoundError:
            return None
        except (OSError, ConnectError):
            raise
        except Exception as exc:
            raise self._lost(exc) from None
        return attr.st_size if stat.S_ISREG(attr.st_mode or 0) else None

    def remove(self, path: str) -> None:
        """Deletes a file. Raises OSError for the file, TransferError for the link."""
        try:
            self.sftp().remove(path)
        except (OSError, ConnectError):
            raise
        except Exception as exc:
            raise self._lost(exc) from None
