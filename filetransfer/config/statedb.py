"""The value of ``[global] state_db``: where a PostgreSQL state database is.

Unset, the state lives in an SQLite file in ``locks_dir`` (see filetransfer/state/).
Set, it is ``postgresql://USER@HOST[:PORT]/DB``; HOST may be a directory (a Unix
socket's), percent-encoded (``%2Frun%2Fpostgresql``). The password never goes in
the URL: ``[global] state_db_password``, ``PGPASSWORD`` or ``~/.pgpass`` give it.
"""

from filetransfer.config.record import Record, record

DEFAULT_PORT = 5432
EXPECTED = 'expected postgresql://USER@HOST[:PORT]/DB'


@record
class PostgresLocation(Record):
    user: str
    host: str          # a host name, an address, or a Unix socket's directory
    port: int
    dbname: str

    def __str__(self) -> str:
        """The URL as messages show it (it never holds a password)."""
        from urllib.parse import quote

        host = quote(self.host, safe='') if self.host.startswith('/') else \
            f'[{self.host}]' if ':' in self.host else self.host
        return f'postgresql://{quote(self.user, safe="")}@{host}:{self.port}/{self.dbname}'


def location(raw: str) -> PostgresLocation:
    """Parses ``postgresql://USER@HOST[:PORT]/DB``; raises ValueError saying what is
    expected (never repeating the value: it may hold a password put there by mistake)."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(raw)
    if parts.scheme not in ('postgresql', 'postgres'):
        raise ValueError(f'{EXPECTED} (only PostgreSQL is supported; unset: an SQLite '
                         'file in locks_dir)')
    userinfo, _, hostport = parts.netloc.rpartition('@')
    if ':' in userinfo:
        raise ValueError(f'{EXPECTED}, without a password (use state_db_password, '
                         'PGPASSWORD or ~/.pgpass)')
    if parts.query or parts.fragment:
        raise ValueError(f'{EXPECTED}, without ?parameters')
    if hostport.startswith('['):
        host, _, port = hostport[1:].partition(']')
        port = port[1:] if port.startswith(':') else port
    else:
        host, _, port = hostport.partition(':')
    if port and not (port.isdigit() and 1 <= int(port) <= 65535):
        raise ValueError(f'{EXPECTED} (PORT: a number from 1 to 65535)')
    user, host, dbname = unquote(userinfo), unquote(host), unquote(parts.path[1:])
    if not user or not host or not dbname or '/' in dbname:
        raise ValueError(EXPECTED)
    return PostgresLocation(user, host, int(port) if port else DEFAULT_PORT, dbname)
