"""ascmd: file operations on an Aspera server, over SSH.

An Aspera server's transfer users usually log in to ``aspshell``, which runs ``ascp``,
``ascp4`` and ``ascmd`` and nothing else (no SFTP). ``Ascmd`` runs ``ascmd`` on an SSH
exec channel and speaks its protocol (see ``faspmanager.ascmdwire``): list a directory,
stat a path (an ``as_ls`` of a file answers that file's stat; a directory's own stat
comes from its parent's listing), remove, make directories, rename, disk usage, server
information. Paths are in the same space as ascp's remote paths: below the user's
docroot when the server has one (``/`` is the docroot).

    with Ascmd('aspera.example.com', 'xfer', identity='/keys/id_ed25519') as cmd:
        for rel, stat in cmd.walk('/outgoing'):
            print(rel, stat.size, stat.is_dir)
        cmd.mkdir('/incoming/2024/06', parents=True)
        cmd.mv('/incoming/a.part', '/incoming/a.csv')

``Ascmd.for_order(order)`` takes the credentials, port and expected host key of a
transfer order. The host key is accepted as ascp accepts it, or checked against
``fingerprint`` (SHA-1 or MD5 hex, or ``SHA256:...``) when given. An ascmd error
answer raises OSError with the server's errno and text (FileNotFoundError for errno 2,
...); a login that fails, a broken channel, a timeout or an answer that is not ascmd's
raise ``AscmdConnectionError``. No password or passphrase reaches a log, a command
line or an exception's text. paramiko is imported only when a connection is opened.
"""

from __future__ import annotations

import dataclasses
import errno as errno_module
import logging
import os
import posixpath
import socket
import time
from dataclasses import dataclass
from typing import Iterator

from . import ascmdwire as wire
from .hostkeys import matches
from .options import reveal

log = logging.getLogger('faspmanager.ascmd')

ASCMD = 'ascmd'


class AscmdConnectionError(Exception):
    """The ascmd session could not be opened or broke: the login was refused
    (``login_refused``: wrong credentials or host key, not worth retrying), the server
    did not run ascmd, the channel closed or timed out, or it answered garbage."""

    def __init__(self, message: str, login_refused: bool = False):
        super().__init__(message)
        self.login_refused = login_refused


@dataclass(frozen=True)
class Stat:
    """One entry as ascmd reports it. ``name`` is a base name in listings, the path
    asked for by ``stat()``. ``kind`` is 'file', 'directory', 'link' or 'other' (from
    the ``ls``-style mode text ascmd sends). Times are seconds since the epoch."""

    name: str
    size: int
    kind: str
    mode_text: str | None = None
    mode: int | None = None
    user: str | None = None
    group: str | None = None
    uid: int | None = None
    gid: int | None = None
    mtime: int | None = None
    atime: int | None = None
    ctime: int | None = None
    symlink: str | None = None

    @property
    def is_dir(self) -> bool:
        return self.kind == 'directory'

    @property
    def is_file(self) -> bool:
        return self.kind == 'file'

    @property
    def is_link(self) -> bool:
        return self.kind == 'link'

    @classmethod
    def from_record(cls, record: dict, name: str | None = None) -> 'Stat':
        mode_text = record.get('zmode')
        kind = {'d': 'directory', '-': 'file', 'l': 'link'}.get((mode_text or '?')[:1])
        if kind is None and record.get('mode') is not None:
            kind = {0o040000: 'directory', 0o100000: 'file',
                    0o120000: 'link'}.get(record['mode'] & 0o170000)
        return cls(name=name if name is not None else record.get('name', ''),
                   size=record.get('size', 0), kind=kind or 'other', mode_text=mode_text,
                   mode=record.get('mode'), user=record.get('zuid'), group=record.get('zgid'),
                   uid=record.get('uid'), gid=record.get('gid'), mtime=record.get('mtime'),
                   atime=record.get('atime'), ctime=record.get('ctime'),
                   symlink=record.get('symlink'))


@dataclass(frozen=True)
class DiskUsage:
    """``du()``: bytes and counts of a tree, and what could not be read."""
    size: int
    files: int
    dirs: int
    failed_files: int
    failed_dirs: int


class Ascmd:
    """An ascmd session on ``host`` as ``user`` (password, or identity file with its
    passphrase; a secret may be a str or an object with ``reveal()``). ``timeout``
    bounds the login and each answer. Use it as a context manager, or call close()."""

    def __init__(self, host: str, user: str, port: int = 22, password=None, identity=None,
                 passphrase=None, fingerprint: str | None = None, timeout: float = 30.0):
        if not host or not user:
            raise ValueError('ascmd needs a host and a user')
        if password is None and identity is None:
            raise ValueError(f'ascmd: neither a password nor an identity file for '
                             f'{user}@{host}')
        self.host, self.user, self.port = host, user, int(port)
        self.timeout = timeout
        self.server_info: dict | None = None
        self._client = None
        self._channel = None
        self._buffer = bytearray()
        self._connect(password, identity, passphrase, fingerprint)

    @classmethod
    def for_order(cls, order, timeout: float = 30.0) -> 'Ascmd':
        """An ascmd session with the remote endpoint of a transfer order: its user,
        host, password or identity (the password doubles as the key's passphrase, as
        for ascp), its ``tcp_port`` and ``check_ssh_fingerprint``."""
        user, host, password, identity = order._remote()
        opts = order.options.opts
        return cls(host, user, port=opts['tcp_port'], password=password,
                   identity=os.fspath(identity) if identity is not None else None,
                   passphrase=password if identity is not None else None,
                   fingerprint=opts['check_ssh_fingerprint'], timeout=timeout)

    def __repr__(self):
        return f'Ascmd({self.user}@{self.host}:{self.port})'

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # --- operations ------------------------------------------------------------------

    def ls(self, path: str) -> list[Stat]:
        """The entries of a directory (base names), or of a file its own stat."""
        result, payload = self._call('ls', path)
        if result is wire.Result.DIR:
            return [Stat.from_record(record) for record in payload]
        if result is wire.Result.FILE:
            return [Stat.from_record(payload)]
        raise self._unexpected(result, 'ls')

    def stat(self, path: str, follow_links: bool = False) -> Stat:
        """The stat of ``path`` (its ``name`` is ``path``). Raises FileNotFoundError...

        With ``follow_links``, a symbolic link is followed as ascp follows it: one to a
        directory is a directory, one to a file a file of the size ``as_du`` gives."""
        result, payload = self._call('ls', path)
        if result is wire.Result.FILE:
            stat = Stat.from_record(payload, name=path)
            if follow_links and stat.is_link:
                stat = dataclasses.replace(stat, kind='file', size=self.du(path).size)
            return stat
        if result is not wire.Result.DIR:
            raise self._unexpected(result, 'ls')
        if follow_links:
            return Stat(name=path, size=0, kind='directory')
        parent, base = posixpath.split(path.rstrip('/'))
        if not base:                       # the root of the docroot (or of the system)
            return Stat(name=path, size=0, kind='directory')
        for record in self._call_expect('ls', parent or '.', wire.Result.DIR):
            if record.get('name') == base:
                return Stat.from_record(record, name=path)
        return Stat(name=path, size=0, kind='directory')    # listable, not in its parent

    def exists(self, path: str) -> bool:
        try:
            self._call('ls', path)
        except FileNotFoundError:
            return False
        return True

    def size(self, path: str) -> int:
        return self.stat(path).size

    def walk(self, path: str) -> Iterator[tuple[str, Stat]]:
        """Every entry below directory ``path``, depth first, as (relative path with
        ``/`` separators, Stat); directories before their contents, links not
        followed."""
        pending = ['']
        while pending:
            rel = pending.pop()
            entries = sorted((entry for entry in self.ls(posixpath.join(path, rel) if rel
                                                          else path)
                              if entry.name not in ('', '.', '..')),
                             key=lambda entry: entry.name)
            for entry in entries:
                yield (f'{rel}/{entry.name}' if rel else entry.name), entry
            pending.extend(f'{rel}/{entry.name}' if rel else entry.name
                           for entry in reversed(entries) if entry.is_dir)

    def rm(self, path: str) -> None:
        """Removes a file, or a directory with what it holds (as ascmd's as_rm does)."""
        self._call_expect('rm', path, wire.Result.SUCCESS)

    def mkdir(self, path: str, parents: bool = False) -> None:
        """Creates a directory; with ``parents``, the missing ones above it too and no
        error if it exists already (step by step: as_mkdir makes one level)."""
        try:
            self._call_expect('mkdir', path, wire.Result.SUCCESS)
        except FileNotFoundError:
            parent = posixpath.dirname(path.rstrip('/'))
            if not parents or parent in ('', '/', path):
                raise
            self.mkdir(parent, parents=True)
            self._call_expect('mkdir', path, wire.Result.SUCCESS)
        except FileExistsError:
            if not parents or not self.stat(path).is_dir:
                raise

    def mv(self, source: str, destination: str) -> None:
        """Renames ``source`` to ``destination``."""
        self._call_expect('mv', source, wire.Result.SUCCESS, destination)

    def du(self, path: str) -> DiskUsage:
        record = self._call_expect('du', path, wire.Result.SIZE)
        return DiskUsage(record.get('size', 0), record.get('fcount', 0),
                         record.get('dcount', 0), record.get('failed_fcount', 0),
                         record.get('failed_dcount', 0))

    def md5sum(self, path: str) -> str:
        return self._call_expect('md5sum', path, wire.Result.MD5SUM).get('md5sum', '')

    def info(self) -> dict:
        """The server's information (platform, version, lang, dev...)."""
        self._send(wire.request('info'))
        while True:
            result, payload = self._read_result()
            if result is wire.Result.INFO:
                self.server_info = payload
                return dict(payload)
            if result is wire.Result.ERROR:
                raise self._os_error(payload, None)

    def close(self) -> None:
        """Ends the session with as_exit (bounded) and closes the connection. Safe to
        call again."""
        channel, client = self._channel, self._client
        self._channel = self._client = None
        if channel is not None:
            try:
                channel.settimeout(min(self.timeout, 5.0))
                channel.sendall(wire.request('exit'))
                channel.shutdown_write()
                deadline = time.monotonic() + min(self.timeout, 5.0)
                while time.monotonic() < deadline and channel.recv(65536):
                    pass
            except (OSError, EOFError, socket.timeout):
                pass
            channel.close()
        if client is not None:
            client.close()

    # --- the channel -----------------------------------------------------------------

    def _connect(self, password, identity, passphrase, fingerprint) -> None:
        import paramiko

        where = f'{self.user}@{self.host}:{self.port}'

        class HostKeyPolicy(paramiko.MissingHostKeyPolicy):
            def missing_host_key(self, client, hostname, key):
                if fingerprint is not None and not matches(fingerprint, key.asbytes()):
                    raise AscmdConnectionError(
                        f'ascmd: the host key of {hostname} does not match the expected '
                        f'fingerprint', login_refused=True)

        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(HostKeyPolicy())
        secret = reveal(password) if password is not None else None
        try:
            client.connect(self.host, self.port, username=self.user,
                           password=secret if identity is None else None,
                           key_filename=os.fspath(identity) if identity is not None else None,
                           passphrase=reveal(passphrase) if passphrase is not None else None,
                           look_for_keys=False, allow_agent=False, timeout=self.timeout,
                           banner_timeout=self.timeout, auth_timeout=self.timeout)
            channel = client.get_transport().open_session(timeout=self.timeout)
            channel.settimeout(self.timeout)
            channel.exec_command(ASCMD)
        except AscmdConnectionError:
            client.close()
            raise
        except paramiko.AuthenticationException:
            client.close()
            raise AscmdConnectionError(f'ascmd: login refused for {where}',
                                       login_refused=True) from None
        except (OSError, EOFError, paramiko.SSHException) as exc:
            client.close()
            reason = getattr(exc, 'strerror', None) or str(exc) or type(exc).__name__
            raise AscmdConnectionError(f'ascmd: cannot reach {where}: {reason}') from None
        self._client, self._channel = client, channel
        log.debug('ascmd session with %s', where)

    def _send(self, data: bytes) -> None:
        if self._channel is None:
            raise AscmdConnectionError('ascmd: the session is closed')
        try:
            self._channel.sendall(data)
        except (OSError, EOFError, socket.timeout) as exc:
            raise self._broken(f'cannot send ({exc or type(exc).__name__})') from None

    def _read_exact(self, count: int) -> bytes:
        channel = self._channel
        while len(self._buffer) < count:
            try:
                data = channel.recv(max(65536, count - len(self._buffer)))
            except socket.timeout:
                raise self._broken(f'no answer within {self.timeout:g} s') from None
            except (OSError, EOFError) as exc:
                raise self._broken(str(exc) or type(exc).__name__) from None
            if not data:
                raise self._broken('the channel closed' + self._stderr())
            self._buffer += data
        out = bytes(self._buffer[:count])
        del self._buffer[:count]
        return out

    def _read_result(self):
        kind, length = wire.HEADER.unpack(self._read_exact(wire.HEADER.size))
        if length > wire.MAX_VALUE:
            raise self._broken(f'an answer of {length} bytes is not ascmd\'s')
        try:
            return wire.decode_result(kind, self._read_exact(length))
        except wire.WireError as exc:
            raise self._broken(f'an answer that is not ascmd\'s ({exc})') from None

    def _call(self, op: str, path: str, *more: str):
        """Sends one request and returns its (Result, payload); an ERROR raises
        OSError, INFO results (sent unasked) are kept in ``server_info``."""
        self._send(wire.request(op, path, *more))
        while True:
            result, payload = self._read_result()
            if result is wire.Result.INFO:
                self.server_info = payload
                continue
            if result is wire.Result.ERROR:
                raise self._os_error(payload, path)
            return result, payload

    def _call_expect(self, op: str, path: str, expected: wire.Result, *more: str):
        result, payload = self._call(op, path, *more)
        if result is not expected:
            raise self._unexpected(result, op)
        return payload

    def _os_error(self, record: dict, path: str | None) -> OSError:
        code = record.get('errno') or errno_module.EIO
        text = record.get('errstr') or os.strerror(code)
        return OSError(code, f'ascmd on {self.host}: {text}', path)

    def _unexpected(self, result, op: str) -> AscmdConnectionError:
        return self._broken(f'answer {result.name} to as_{op}')

    def _broken(self, why: str) -> AscmdConnectionError:
        channel, self._channel = self._channel, None
        if channel is not None:
            channel.close()
        return AscmdConnectionError(f'ascmd session with {self.user}@{self.host}:{self.port} '
                                    f'broke: {why}')

    def _stderr(self) -> str:
        """What the server said on stderr (aspshell's refusal...), for the error text."""
        channel = self._channel
        try:
            deadline = time.monotonic() + 2.0
            while channel is not None and not channel.exit_status_ready() and \
                    time.monotonic() < deadline:
                time.sleep(0.02)
            if channel is not None and channel.recv_stderr_ready():
                text = channel.recv_stderr(2000).decode('utf-8', 'replace').strip()
                if text:
                    return f' ({text})'
        except (OSError, EOFError):
            pass
        return ''
