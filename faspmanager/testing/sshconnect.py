"""The emulator's SSH login (paramiko, imported here only), with ascp's error codes, and
the remote side it reaches: the account's SFTP server (a plain SSH server, which has no
configuration of its own), or, where the account allows no SFTP (aspshell), the
emulated Aspera server's ascp (fileservice)."""

from __future__ import annotations

import socket

from ..errors import ErrorCode
from ..hostkeys import matches
from .fileservice import ExecFS
from .fs import SftpFS

CONNECT_TIMEOUT = 20


def connect(host: str, port: int, user: str, password: str | None, keys: list[str],
            fingerprint: str | None) -> 'ExecFS | SftpFS':
    """The remote side, or SessionFailure with ascp's code: 12 (cannot connect),
    13 (timeout), 19 (authentication), 51 (host key does not match --check-sshfp), 2
    (the account offers neither the emulator's ascp nor SFTP)."""
    import paramiko

    from .emulator import SessionFailure

    class HostKeyCheck(paramiko.MissingHostKeyPolicy):
        def missing_host_key(self, client, hostname, key):
            if fingerprint is not None and not matches(fingerprint, key.asbytes()):
                raise SessionFailure(ErrorCode.INSECURE_CONNECTION,
                                     f'Host key of {hostname} does not match '
                                     f'the fingerprint given with --check-sshfp')

    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(HostKeyCheck())
    try:
        client.connect(host, port, username=user, password=password,
                       key_filename=list(keys) or None, passphrase=password if keys else None,
                       look_for_keys=False, allow_agent=False, timeout=CONNECT_TIMEOUT,
                       banner_timeout=CONNECT_TIMEOUT, auth_timeout=CONNECT_TIMEOUT)
        try:
            sftp = client.open_sftp()
        except (OSError, EOFError, paramiko.SSHException) as exc:
            served = ExecFS.open(client, CONNECT_TIMEOUT)     # an aspshell account
            if served is not None:
                return served
            client.close()
            raise SessionFailure(ErrorCode.ASCP, f'{user}@{host} runs neither ascp nor an SFTP '
                                                 f'server: {exc or type(exc).__name__}') from None
    except SessionFailure:
        client.close()
        raise
    except paramiko.AuthenticationException as exc:
        client.close()
        raise SessionFailure(ErrorCode.AUTH, f'Authentication failed for {user}@{host}: '
                                             f'{exc}') from None
    except (socket.timeout, TimeoutError):
        client.close()
        raise SessionFailure(ErrorCode.TRANSFER_TIMEOUT,
                             f'Timeout establishing SSH connection to {host}:{port}') from None
    except (OSError, EOFError, paramiko.SSHException) as exc:
        transport = client.get_transport()
        unauthenticated = transport is not None and transport.is_active() and \
            not transport.is_authenticated()
        client.close()
        if unauthenticated:         # e.g. a key file that cannot be read or decrypted
            raise SessionFailure(ErrorCode.AUTH, f'Authentication failed for {user}@{host}: '
                                                 f'{exc}') from None
        reason = getattr(exc, 'strerror', None) or str(exc) or type(exc).__name__
        raise SessionFailure(ErrorCode.TRANSFER_ERROR,
                             f'Failed to open SSH connection to {host}:{port}: '
                             f'{reason}') from None
    return SftpFS(client, sftp)
