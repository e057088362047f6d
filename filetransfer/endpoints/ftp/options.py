"""The host options of FTP and FTPS servers and their checks."""

from dataclasses import dataclass

from filetransfer.config import types as t
from filetransfer.config.schema import Host, option


@dataclass(frozen=True, kw_only=True)
class FtpHost(Host):
    connections: int | str = option(t.connections, t.AUTO, doc='files at once, each over its '
                                    'own connection: 1-16, or auto')
    passive_mode: bool = option(t.boolean, True, doc='the client opens the data connections '
                                                     '(PASV); no: the server connects back '
                                                     '(PORT)')
    list_command: str = option(t.choice('auto', 'mlsd', 'list'), 'auto',
                               doc='how directories are listed: auto (MLSD where FEAT '
                                   'announces MLST, LIST once MLSD is refused), mlsd or list')
    dir_a_option: bool = option(t.boolean, True, doc='list with LIST -a when MLSD is missing')
    keep_alive: float = option(t.lenient_seconds, 60.0,
                               doc='seconds between NOOPs during a transfer (0: none)')


@dataclass(frozen=True, kw_only=True)
class FtpsHost(FtpHost):
    encrypt_data: bool = option(t.boolean, True, doc='encrypt data connections (PROT P)')
    verify_cert: bool = option(t.boolean, True, doc="verify the server's certificate and "
                                                    'name (no: a warning at each connection)')
    ca_file: str | None = option(t.path, doc='CA certificates to verify the server with')


def check_host(place, values: dict, app) -> None:
    if values['password'] is None:
        raise place.error('password', 'required option is missing')
