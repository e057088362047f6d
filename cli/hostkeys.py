"""`filetransfer -k` and `filetransfer -d`: known-hosts maintenance for SFTP hosts, as
FileTransfer 0.11 does it.

    filetransfer -k [-H] [-p PORT] HOST FILE   fetch HOST's key into FILE, after asking
    filetransfer -d [-p PORT] HOST FILE        delete HOST from FILE

`-k` shows the fingerprints (MD5 and SHA256) of the key the SSH handshake chooses and
asks on stdout whether to save it, reading the answer from stdin (a terminal or not).

Exit codes: 0 done (also: answered no, nothing to delete), 2 the server cannot be
reached, an invalid PORT, or no answer (end of input), 3 FILE cannot be read or
written, 4 wrong arguments.
"""

import os
import sys

import click

from filetransfer.errors import ExitCode

EXIT_CONNECT = ExitCode.FAILURE
EXIT_FILE = ExitCode.CONFIG

FORMS = ('filetransfer -k [-H] [-p PORT] HOST FILE',
         'filetransfer -d [-p PORT] HOST FILE')


def run(fetch_key: bool, delete_key: bool, hashed: bool, port: str | None, args) -> int:
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

    given, port = port, hostkeys.DEFAULT_PORT if port is None else _port(port)
    if port is None:       # as FileTransfer 0.11: the connection cannot be made (exit 2)
        click.echo(f'filetransfer: not a valid port number: {given!r}', err=True)
        return EXIT_CONNECT
    name = hostkeys.host_name(host, port)
    try:
        known = hostkeys.KnownHosts.read(path, missing_ok=fetch_key)
    except OSError as exc:
        return _file_error(path, 'cannot read', exc)
    if delete_key:
        if not known.remove_host(name):
            click.echo(f'Key for "{name}" not found in file "{path}"')
            return 0
        if _write(known) is not None:
            return EXIT_FILE
        click.echo(f'Key for "{name}" deleted in file "{path}"')
        return 0
    try:
        key = hostkeys.fetch_chosen(host, port)
    except ConnectError as error:
        click.echo(f'filetransfer: {error}', err=True)
        return EXIT_CONNECT
    _show(key)
    answer = _ask(f'Save this key to file "{path}" (yes/no)? ')
    if answer is None:
        click.echo('\nfiletransfer: no answer (end of input): nothing written', err=True)
        return EXIT_CONNECT
    if answer == 'no':
        return 0
    if key in known.keys_for(name):
        click.echo(f'Key for "{name}" exists in file "{path}"')
        return 0
    new_file = not known.lines and not os.path.exists(path)
    replaced = known.remove_host(name)
    known.add(name, [key], hashed=hashed)
    if _write(known) is not None:
        return EXIT_FILE
    verb = 'added in new file' if new_file else 'replaced in file' if replaced \
        else 'added in file'
    click.echo(f'Key for "{name}" {verb} "{path}"')
    return 0


def _port(text: str) -> int | None:
    try:
        port = int(text)
    except ValueError:
        return None
    return port if 0 <= port <= 65535 else None


def _show(key) -> None:
    kind = key.keytype.split('-', 1)[-1].upper()
    click.echo(f'{kind} ({key.bits}) Fingerprints:')
    click.echo(f' MD5: {key.md5_fingerprint}')
    click.echo(f' SHA256: {key.fingerprint.removeprefix("SHA256:")}')


def _ask(question: str) -> str | None:
    """'yes' or 'no' (any case) from stdin, asking again after anything else; None
    at the end of the input."""
    while True:
        click.echo(question, nl=False)
        sys.stdout.flush()
        line = sys.stdin.readline()
        if not line:
            return None
        answer = line.strip().lower()
        if answer in ('yes', 'no'):
            return answer
        click.echo('Type "yes" or "no"!')


def _write(known) -> int | None:
    try:
        known.write()
    except OSError as exc:
        return _file_error(known.path, 'cannot write', exc)
    return None


def _file_error(path: str, what: str, exc: OSError) -> int:
    click.echo(f'filetransfer: {what} {path}: {exc.strerror or exc}', err=True)
    return EXIT_FILE
