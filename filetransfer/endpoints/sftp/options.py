"""The host options of SFTP servers and their checks."""

from dataclasses import dataclass
from typing import Any

from filetransfer.config import types as t
from filetransfer.config.schema import KEY_TYPES, Host, option, secret_text


@dataclass(frozen=True, kw_only=True)
class SftpHost(Host):
    connections: int = option(t.connections, 1, doc='files at once, each over its own '
                                                    'connection (1-16)')
    key_type: str | None = option(t.choice(*KEY_TYPES),
                                  doc="take the key of this type from the application's [sftp]")
    key_file: str | None = option(t.path)
    key_pass: Any = option(secret_text, secret=True)
    known_hosts: str | None = option(t.path)
    transport: str = option(t.choice('auto', 'openssh', 'paramiko'), 'auto',
                            doc="OpenSSH's ssh or paramiko's SSH")


def check_host(place, values: dict, app) -> None:
    """Fills in the key and the known-hosts file from the application's [sftp]."""
    defaults = app.sftp if app else None
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
