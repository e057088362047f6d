"""The host options of SFTP servers and their checks."""

from dataclasses import dataclass
from typing import Any

from filetransfer.config import types as t
from filetransfer.config.schema import Host, option, secret_text

KEY_TYPES = ('RSA', 'DSA', 'ECDSA', 'Ed25519')


@dataclass(frozen=True, kw_only=True)
class SftpDefaults:
    """The application's [sftp]: keys by type and the known-hosts file of SFTP hosts
    that name none."""

    key_rsa_file: str | None = option(t.path, doc='private key of the SFTP hosts with '
                                                  'key_type = RSA and no key_file')
    key_rsa_pass: Any = option(secret_text, secret=True, doc='its passphrase')
    key_dsa_file: str | None = option(t.path, doc='private key of the SFTP hosts with '
                                                  'key_type = DSA and no key_file')
    key_dsa_pass: Any = option(secret_text, secret=True, doc='its passphrase')
    key_ecdsa_file: str | None = option(t.path, doc='private key of the SFTP hosts with '
                                                    'key_type = ECDSA and no key_file')
    key_ecdsa_pass: Any = option(secret_text, secret=True, doc='its passphrase')
    key_ed25519_file: str | None = option(t.path, doc='private key of the SFTP hosts with '
                                                      'key_type = Ed25519 and no key_file')
    key_ed25519_pass: Any = option(secret_text, secret=True, doc='its passphrase')
    known_hosts: str | None = option(t.path, doc='known-hosts file of the SFTP hosts that '
                                                 'name none')

    def key(self, key_type: str) -> tuple:
        """(file, passphrase) of the key of ``key_type`` (RSA, DSA, ECDSA, Ed25519)."""
        prefix = f'key_{key_type.lower()}_'
        return getattr(self, prefix + 'file'), getattr(self, prefix + 'pass')


@dataclass(frozen=True, kw_only=True)
class SftpHost(Host):
    connections: int | str = option(t.connections, t.AUTO, doc='files at once in one SFTP '
                                    'session: 1-16, or auto')
    key_type: str | None = option(t.choice(*KEY_TYPES),
                                  doc="take the key of this type from the application's [sftp]")
    key_file: str | None = option(t.path, doc='private key (OpenSSH or PEM)')
    key_pass: Any = option(secret_text, secret=True, doc='passphrase of key_file')
    known_hosts: str | None = option(t.path, doc='known-hosts file the host key must be in '
                                                 '(unset: [sftp] known_hosts)')
    transport: str = option(t.choice('auto', 'openssh', 'paramiko'), 'auto',
                            doc="OpenSSH's ssh or paramiko's SSH")


def check_host(place, values: dict, app) -> None:
    """Fills in the key and the known-hosts file from the application's [sftp]."""
    defaults = app.protocol_sections['sftp'] if app else None
    where_else = f' or in [sftp] of {app.path}' if app else ''
    key_type = values['key_type']
    if key_type and not values['key_file']:
        key_file, key_pass = defaults.key(key_type) if defaults else (None, None)
        values['key_file'], values['key_pass'] = key_file, values['key_pass'] or key_pass
        if not key_file:
            name = f'key_{key_type.lower()}_file'
            raise place.error('key_file', f'required for key_type {key_type} (here'
                                          + (f' or {name} in [sftp] of {app.path})' if app
                                             else ')'))
    if values['password'] is None and not values['key_file']:
        raise place.error('password', 'required when no key is configured (key_type/key_file)')
    if values['transport'] == 'openssh' and (values['key_pass'] or not values['key_file']):
        raise place.error('transport', 'openssh needs a key without a passphrase (key_file '
                                       'and no key_pass); use auto')
    values['known_hosts'] = values['known_hosts'] or (defaults.known_hosts if defaults else None)
    if not values['known_hosts']:
        raise place.error('known_hosts', f'required option is missing (here{where_else})')
