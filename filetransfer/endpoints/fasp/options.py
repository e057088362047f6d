"""The host options of FASP hosts (IBM Aspera servers reached through ascp) and the
rules of a job with a FASP side; checked when the configuration is loaded, without
importing faspmanager."""

import os
import shutil
from dataclasses import dataclass
from typing import Any

from filetransfer.config import types as t
from filetransfer.config.schema import Host, option, secret_text
from filetransfer.errors import ConfigError


@dataclass(frozen=True, kw_only=True)
class FaspHost(Host):
    key_file: str | None = option(t.path, doc='private SSH key (ascp -i)')
    key_pass: Any = option(secret_text, secret=True, doc='passphrase of key_file (ascp takes '
                                                         'one secret: this or password)')
    ascp_path: str | None = option(t.path, doc='the ascp program (unset: the usual places)')
    target_rate_kbps: int | None = option(t.positive_int, doc='target rate in kilobits per '
                                                              'second (ascp -l; unset: 10000)')
    min_rate_kbps: int | None = option(t.non_negative_int,
                                       doc="minimum rate in kilobits per second (ascp -m; "
                                           "unset: the server's minimum applies)")
    policy: str | None = option(t.choice('fixed', 'high', 'fair', 'low'),
                                doc="ascp's bandwidth policy (--policy)")
    cipher: str | None = option(t.choice('none', 'aes128', 'aes192', 'aes256'),
                                doc='encryption of the data (ascp -c; none: not encrypted)')
    udp_port: int | None = option(t.port, doc='UDP port of the data (ascp -O)')
    tcp_port: int | None = option(t.port, doc='SSH port (ascp -P; the port of host)')
    resume_check: str | None = option(t.choice('off', 'attributes', 'sparse', 'full'),
                                      aliases=('resume',),
                                      doc="how ascp checks a partial file it continues (-k)")
    overwrite: str | None = option(t.choice('never', 'always', 'diff', 'older', 'diff+older'),
                                   doc='when ascp replaces a file the target has '
                                       '(--overwrite); a job whose [target] overwrite is '
                                       'not always judges itself and ascp replaces')
    ssh_fingerprint: str | None = option(doc="the server's SSH host key fingerprint "
                                             '(unset: any key is accepted, as by ascp)')
    remote_commands: str = option(t.choice('ascmd', 'sftp'), 'ascmd',
                                  doc="how the job lists, checks and removes files on the "
                                      "host: ascmd (in ascp's docroot space) or sftp (for a "
                                      "server that offers SFTP; paths are the SFTP server's)")


def label(server: FaspHost) -> str:
    """``user@host:port`` of a FASP host, as messages name it."""
    host = server.host
    return f"{server.user}@{f'[{host}]' if ':' in host else host}:{server.port}"


def credentials(server: FaspHost) -> tuple:
    """(secret, identity) for ascp and ascmd: ascp takes one secret, the SSH password
    or the passphrase of the key file."""
    key_file = server.key_file
    secret = (server.key_pass if key_file else None) or server.password
    return secret or None, key_file or None


def check_host(place, values: dict, app) -> None:
    """The FASP options that depend on each other or on this machine."""
    if values['password'] is None and not values['key_file']:
        raise place.error('password', 'required when no key_file is given')
    tcp_port = values['tcp_port']
    if tcp_port:
        if values['port'] and values['port'] != tcp_port:
            raise place.error('tcp_port', f'{tcp_port} differs from the port given in host '
                                          f"({values['port']})")
        values['port'] = tcp_port
    ascp_path = values['ascp_path']
    if ascp_path:
        found = ascp_path if os.sep in ascp_path else shutil.which(ascp_path)
        if not (found and os.path.isfile(found) and os.access(found, os.X_OK)):
            raise place.error('ascp_path', f"expected an executable ascp (a path, or a "
                                           f"command in PATH), got '{ascp_path}'")
    target, minimum = values['target_rate_kbps'], values['min_rate_kbps']
    if minimum is not None and minimum > (target or 10000):
        raise place.error('min_rate_kbps', f'{minimum} is above target_rate_kbps '
                                           f'({target or "10000, the default"})')
    key_pass, password = values['key_pass'], values['password']
    if values['key_file'] and key_pass and password and key_pass != password:
        raise place.error('key_pass', 'ascp takes one secret, the password or the passphrase '
                                      'of key_file; give only one of password and key_pass')


def check_job(where: str, source, target) -> None:
    """What a job with a FASP side may do: the other side is local, ``temp`` is
    ``ext:.EXT`` (a partial-file suffix: ascp's on a download, the server's on an
    upload), and a FASP source's patterns can be said as ascp rules."""
    fasp_role, other_role = ('source', 'target') if source.type == 'FASP' \
        else ('target', 'source')
    other = target if fasp_role == 'source' else source
    if other.type != 'LOCAL':
        name = 'host_id' if other.options.host_id else 'type'
        raise ConfigError(f'{where}: [{other_role}] {name}: a FASP {fasp_role} needs a '
                          f'local {other_role} directory (ascp moves files between this '
                          f'machine and the FASP host), not a {other.type} host')
    temp = target.options.temp
    if temp is not None and temp.mode != 'ext':
        writer = "ascp's" if fasp_role == 'source' else "the FASP server's"
        raise ConfigError(f"{where}: [target] temp: a FASP transfer writes a file under "
                          f"{writer} partial-file suffix: expected ext:.EXT, got '{temp}'")
    if fasp_role == 'source':
        from filetransfer.endpoints.fasp import filters

        options = source.options
        try:
            filters.build(options.files, options.ignore, options.recursive)
        except filters.Unsupported as exc:
            raise ConfigError(f'{where}: [source] {exc.option}: ascp cannot choose files '
                              f'by this pattern of a FASP source: {exc}') from None

