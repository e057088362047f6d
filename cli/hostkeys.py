"""`filetransfer -k` and `filetransfer -d`: known-hosts maintenance for SFTP hosts.

    filetransfer -k [-H] [-p PORT] HOST FILE   fetch HOST's keys into FILE
    filetransfer -d [-p PORT] HOST FILE        delete HOST from FILE

Exit codes: 0 done, 2 the server cannot be reached, 3 FILE cannot be read or
written, 4 wrong arguments.
"""

import click

from filetransfer.errors import ExitCode

EXIT_CONNECT = ExitCode.FAILURE
EXIT_FILE = ExitCode.CONFIG

FORMS = ('filetransfer -k [-H] [-p PORT] HOST FILE',
         'filetransfer -d [-p PORT] HOST FILE')


def run(fetch_key: bool, delete_key: bool, hashed: bool, port: int | None, args) -> int:
    """Runs -k or -d; raises click.UsageError for wrong arguments."""
    if fetch_key == delete_key:
        raise click.UsageError('use either -k or -d' if fetch_key else
                               '-H and -p go with -k or -d')
    if hashed and delete_key:
        raise click.UsageError('-H goes with -k only')
    if len(args) != 2:
        raise click.UsageError(f'expected HOST FILE: {FORMS[0 if fetch_key else 1]}')
    host, path = args
    if not host or host.startswith('-') or any(char.isspace() for char in host):
        raise click.UsageError(f'invalid HOST {host!r}')
    from filetransfer import ConnectError
    from filetransfer.endpoints.sftp import hostkeys

    port = port or hostkeys.DEFAULT_PORT
    name = hostkeys.host_name(host, port)
    try:
        known = hostkeys.KnownHosts.read(path, missing_ok=fetch_key)
    except OSError as exc:
        return _file_error(path, 'cannot read', exc)
    if delete_key:
        removed = known.remove_host(name)
        if not removed:
            click.echo(f'{name} not found in {path}', err=True)
            return 0
        if _write(known) is not None:
            return EXIT_FILE
        click.echo(f'removed {name} from {path}')
        return 0
    try:
        keys = hostkeys.fetch(host, port)
    except ConnectError as error:
        click.echo(f'filetransfer: {error}', err=True)
        return EXIT_CONNECT
    replaced = known.remove_host(name)
    known.add(name, keys, hashed=hashed)
    if _write(known) is not None:
        return EXIT_FILE
    verb = 'replaced' if replaced else 'added'
    for key in keys:
        click.echo(f'{verb} {name} {key} in {path}')
    return 0


def _write(known) -> int | None:
    try:
        known.write()
    except OSError as exc:
        return _file_error(known.path, 'cannot write', exc)
    return None


def _file_error(path: str, what: str, exc: OSError) -> int:
    click.echo(f'filetransfer: {what} {path}: {exc.strerror or exc}', err=True)
    return EXIT_FILE
