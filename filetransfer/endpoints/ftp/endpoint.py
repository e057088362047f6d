"""A directory on an FTP or FTPS server, through ftplib.

FTPS is explicit TLS (AUTH TLS on port 21): the control connection is encrypted
before the login, data connections too with `encrypt_data` (PROT P), and the
server certificate is verified against `ca_file` or the system's CAs unless
`verify_cert` is off. Data connections reuse the control connection's TLS
session, which many servers require.

Listings use MLSD when the server offers it (exact sizes and types), else
`LIST -a` (or `LIST` when the server rejects the option) in the Unix or DOS
format (see listing.py); `list_command` chooses otherwise. What a server announces
in FEAT and refuses all the same (MLSD, MLST, REST) is done without from then on.

While a data connection runs, and while the server finishes a transfer, a NOOP
goes over the idle control connection every `keep_alive` seconds so that
firewalls keep it open; their replies are read with the transfer's.

Per-file refusals of the server (4xx/5xx replies) are OSErrors; a lost or
silent connection is a TransferError.
"""

import contextlib
import dataclasses
import errno
import ftplib
import logging
import posixpath
import re
import select
import socket
import ssl
import struct
import time

from filetransfer.errors import ConnectError, TransferError, error_text
from filetransfer.endpoints.base import (CHUNK_SIZE, Capabilities, FileEntry, OffsetRefused,
                                         StreamEndpoint, open_refused, refuse_unsafe)
from filetransfer.endpoints.ftp.listing import mlsd_facts, parse_list_line, parse_mlsd_line
from filetransfer.endpoints.remote import (Listed, RemoteFile, make_remote_dirs, moved_path,
                                           open_root, record_made, relative_dir,
                                           remove_after_interrupt,
                                           replace_by_steps, walk_tree)

log = logging.getLogger(__name__)

CLOSE_TIMEOUT = 10.0
SEND_PIECE = 1 << 14    # one TLS record
# What one read or write of a file's data moves, between the socket and the file:
# small enough to stay in the CPU's cache from one to the other (a megabyte does
# not: it costs about twice the system time), large enough to keep calls few.
DATA_PIECE = 1 << 17


class ServerFileError(OSError):
    """The server refused an operation on one file (a 4xx/5xx reply)."""


def _refused(exc: BaseException) -> bool:
    """Whether an error is the server refusing one operation (not a lost connection)."""
    if isinstance(exc, ftplib.error_temp):
        return not str(exc).startswith('421')
    return isinstance(exc, (ServerFileError, ftplib.error_perm))


def _refusal(reply: str) -> ServerFileError:
    """A server's 4xx/5xx reply refusing one operation, saying what the code means
    when it says the server's disk is full."""
    code = reply[:3]
    if code == '452':
        return ServerFileError(errno.ENOSPC, f"the server's disk is full (it says: {reply})")
    if code == '552':
        return ServerFileError(errno.EDQUOT, 'the storage allocation on the server is '
                                             f'exceeded (it says: {reply})')
    return ServerFileError(errno.EAGAIN if code.startswith('4') else errno.EIO, reply)


class _FTP_TLS(ftplib.FTP_TLS):
    """FTP_TLS whose data connections resume the control connection's TLS session."""

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            try:
                conn = self.context.wrap_socket(conn, server_hostname=self.host,
                                                session=self.sock.session)
            except BaseException:
                conn.close()
                raise
        return conn, size


class _Replies:
    """Reads the control connection's lines in place of ftplib's file object, and
    can tell whether a reply is already buffered (which `select` cannot see)."""

    def __init__(self, sock, encoding: str):
        self.sock = sock
        self.encoding = encoding
        self.buffer = b''

    def buffered(self) -> bool:
        return bool(self.buffer) or (isinstance(self.sock, ssl.SSLSocket)
                                     and self.sock.pending() > 0)

    def readline(self, limit: int = -1) -> str:
        while b'\n' not in self.buffer and (limit < 0 or len(self.buffer) < limit):
            data = self.sock.recv(8192)
            if not data:
                break
            self.buffer += data
        end = self.buffer.find(b'\n') + 1 or len(self.buffer)
        if limit >= 0:
            end = min(end, limit)
        line, self.buffer = self.buffer[:end], self.buffer[end:]
        return line.decode(self.encoding, 'replace')

    def close(self) -> None:
        pass


class FtpEndpoint(StreamEndpoint):
    def __init__(self, spec):
        super().__init__(spec)
        self.server = server = spec.host       # an options.FtpHost or FtpsHost
        self.tls = server.type == 'FTPS'
        self.host, self.port = server.host, server.port
        self.timeout = server.timeout or None
        self.keep_alive = server.keep_alive or 0
        name = f'[{self.host}]' if ':' in self.host else self.host
        self.where = f'{server.type} {name}:{self.port}'
        self.root = None
        self._ftp = None
        self._mlsd = False         # listings by MLSD (else LIST)
        self._mlsd_worked = False  # an MLSD has worked in this session
        self._mlst = False         # stat by MLST (else SIZE)
        self._list_a = server.dir_a_option
        self._size_command = True
        self._dirs = set()
        self._in_step = True    # False once an interrupt may have left a reply unread
        self._hash_command = None   # HASH or XSHA256 when the server computes SHA-256

    # -- life cycle -----------------------------------------------------------
    def open(self) -> None:
        ftp = _FTP_TLS(context=self._tls_context(), timeout=self.timeout) if self.tls \
            else ftplib.FTP(timeout=self.timeout)
        self._ftp = ftp
        try:
            self._step('cannot connect', lambda: ftp.connect(self.host, self.port))
            if self.tls:
                self._step('explicit TLS (AUTH TLS) failed', ftp.auth)
            ftp.file = _Replies(ftp.sock, ftp.encoding)   # nothing is buffered at this point
            self._login()
            if self.tls and self.server.encrypt_data:
                self._step('the server refused encrypted data connections (PROT P); '
                           'set encrypt_data = no to send data unencrypted', ftp.prot_p)
            self._step('TYPE I failed', lambda: ftp.voidcmd('TYPE I'))
            self._features()
            ftp.set_pasv(self.server.passive_mode)
            self._open_root()
        except BaseException:
            self.close()
            raise

    def _login(self) -> None:
        """USER and PASS. A refusal (530, or another 5xx) is not tried again: the
        same password gets the same answer, and repeated wrong passwords can lock
        the account; a 421 or another 4xx reply may pass on the next try."""
        user, password = self.server.user, self.server.password
        try:
            self._ftp.login(user, password.reveal() if password else '')
        except (ftplib.Error, OSError, EOFError) as exc:
            raise ConnectError(f'{self.where}: login failed for user {user}: '
                               f'{error_text(exc)}',
                               retryable=not isinstance(exc, ftplib.error_perm)) from None

    def _tls_context(self) -> ssl.SSLContext:
        ca_file = self.server.ca_file
        try:
            context = ssl.create_default_context(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConnectError(f'{self.where}: cannot use ca_file {ca_file}: '
                               f'{error_text(exc)}') from None
        if not self.server.verify_cert:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            log.warning('%s: the server certificate is not verified (verify_cert = no): '
                        'anyone between here and the server can read and change the data',
                        self.where)
        return context

    def _step(self, what: str, action):
        """Runs one step of the connection set-up; any failure is a ConnectError."""
        try:
            return action()
        except (ftplib.Error, OSError, EOFError) as exc:
            raise ConnectError(f'{self.where}: {what}: {error_text(exc)}') from None

    def _features(self) -> None:
        try:
            reply = self._ftp.sendcmd('FEAT')
        except ftplib.error_perm:
            reply = ''
        except (ftplib.Error, OSError, EOFError) as exc:
            raise ConnectError(f'{self.where}: FEAT failed: {error_text(exc)}') from None
        lines = [line.strip().upper() for line in reply.splitlines()[1:-1]]
        features = {line.split(' ')[0] for line in lines}
        choice = self.server.list_command
        self._mlsd = self._mlst = (choice == 'mlsd'
                                   or (choice == 'auto' and 'MLST' in features))
        self._hash_command = _hash_command(lines)
        if self._hash_command == 'HASH':
            try:
                self._ftp.sendcmd('OPTS HASH SHA-256')
            except (ftplib.error_perm, ftplib.error_temp) as exc:
                log.info('%s: OPTS HASH SHA-256 refused (%s): files are read back to be '
                         'checked', self.where, error_text(exc))
                self._hash_command = None
        self.capabilities = Capabilities(
            resume='REST STREAM' in lines,          # RFC 3659: REST before RETR and STOR
            mtimes=self._mlsd,                      # LIST gives no usable times
            set_mtime='MFMT' in features,
            checksum=self._hash_command is not None)
        if 'UTF8' in features:
            with contextlib.suppress(ftplib.error_perm, ftplib.error_temp):
                self._ftp.sendcmd('OPTS UTF8 ON')

    def _open_root(self) -> None:
        # Absolute from here on: the walk and mkdir -p change directories.
        login_dir = self._step('cannot tell the login directory (PWD)', self._ftp.pwd)
        path = posixpath.normpath(posixpath.join(login_dir, self.spec.path))
        self.root = open_root(self, path, self._makedirs, self._enter)

    def _enter(self, path: str) -> str:
        self._ftp.cwd(path)
        root = self._ftp.pwd()
        self._dirs.add(root)
        return root

    def close(self) -> None:
        ftp, self._ftp = self._ftp, None
        if ftp is None:
            return
        try:
            if ftp.sock is not None and self._in_step:
                ftp.sock.settimeout(min(self.timeout or CLOSE_TIMEOUT, CLOSE_TIMEOUT))
                ftp.quit()
        except (ftplib.Error, OSError, EOFError, ValueError) as exc:
            log.debug('%s: closing: %s', self.where, error_text(exc))
        finally:
            ftp.close()

    # -- helpers --------------------------------------------------------------
    @contextlib.contextmanager
    def _guard(self):
        """Replies refusing one operation become ServerFileError (per file); a lost,
        closed or silent connection becomes TransferError."""
        try:
            yield
        except (ServerFileError, FileExistsError, OffsetRefused):
            raise
        except ftplib.error_perm as exc:
            raise _refusal(error_text(exc)) from None
        except ftplib.error_temp as exc:
            if str(exc).startswith('421'):
                raise TransferError(f'{self.where}: the server closed the connection: '
                                    f'{error_text(exc)}') from None
            raise _refusal(error_text(exc)) from None
        except socket.timeout:
            raise TransferError(f'{self.where}: no answer within the timeout '
                                f'({self.timeout} s)') from None
        except (ftplib.Error, OSError, EOFError) as exc:
            raise TransferError(f'{self.where}: connection lost: {error_text(exc)}') from None

    def _remote(self, relpath: str) -> str:
        if relpath and self.in_temp_dir(relpath):
            return posixpath.normpath(posixpath.join(self.root, relpath))
        if relpath:
            refuse_unsafe(relpath, ServerFileError)
        path = posixpath.join(self.root, relpath) if relpath else self.root
        if '\r' in path or '\n' in path:
            raise ServerFileError(errno.EINVAL, 'FTP cannot carry a line break in a name')
        return path

    def _makedirs(self, path: str, absent: bool = False) -> None:
        """mkdir -p (inside _guard)."""
        make_remote_dirs(path, self._dirs, self._is_dir, self._ftp.mkd, ftplib.error_perm,
                         record_made(self), absent)

    def _is_dir(self, path: str) -> bool:
        try:
            self._ftp.cwd(path)
            return True
        except ftplib.error_perm:
            return False

    # -- data connections -----------------------------------------------------
    def _transfer(self, command: str, offset: int = 0):
        """Starts a data transfer (from byte ``offset``: REST); returns the
        connection and a keep-alive. OffsetRefused when the server refuses the
        command after a REST: the endpoint no longer claims to resume."""
        try:
            conn = self._ftp.transfercmd(command, rest=offset or None)
        except (ftplib.error_perm, ftplib.error_temp) as exc:
            if not offset or not _refused(exc):
                raise
            # Some servers announce REST STREAM and refuse it for uploads
            # (ProFTPD's AllowStoreRestart off): 451 Append/Restart not permitted.
            self.capabilities = dataclasses.replace(self.capabilities, resume=False)
            log.info('%s: the server refuses to continue a file at an offset (REST, then '
                     '%s: %s): files are transferred whole from now on', self.where,
                     command.split(' ', 1)[0], error_text(exc))
            raise OffsetRefused(errno.EOPNOTSUPP, error_text(exc)) from None
        conn.settimeout(self.timeout)
        return conn, _KeepAlive(self._ftp, self.keep_alive, self.timeout)

    def _end_transfer(self, conn, keep_alive) -> None:
        """Ends a data connection and reads the transfer's reply (and those of the
        NOOPs sent meanwhile). A refused transfer raises ServerFileError."""
        if isinstance(conn, ssl.SSLSocket):
            self._send_close_notify(conn, keep_alive)
        self._linger(conn, keep_alive)
        conn.close()
        self._raise_failed_reply(keep_alive.replies(self._ftp))

    def _send_close_notify(self, conn, keep_alive) -> None:
        """Sends TLS close_notify, which servers take as the sign that an upload is
        complete, without waiting for the server's (`_linger` takes care of it).

        With TLS 1.3 the shutdown fails when the server closed a connection that
        carried no data before the client saw its session ticket: ftplib's trap on
        an empty listing. Nothing is lost then: the reply tells success or failure."""
        conn.setblocking(False)
        while True:
            try:
                conn.unwrap()
                return
            except ssl.SSLWantReadError:
                return          # ours is sent; the server's comes with its close
            except ssl.SSLWantWriteError:
                keep_alive.wait(conn, write=True)
            except (OSError, ValueError) as exc:
                log.debug('%s: TLS shutdown of a data connection: %s', self.where, exc)
                return

    def _linger(self, conn, keep_alive) -> None:
        """Half-closes the connection and reads (and drops) what the server still
        sends until it closes: closing a socket with unread bytes (TLS 1.3 session
        tickets the server sent during an upload) resets the connection, and the
        server loses the data still in flight."""
        conn.settimeout(self.timeout)
        try:
            conn.shutdown(socket.SHUT_WR)     # an SSLSocket reads raw bytes from here on
            unacknowledged = _unacknowledged(conn)
            while True:
                try:
                    keep_alive.wait(conn)
                    if not conn.recv(CHUNK_SIZE):
                        return
                except socket.timeout:
                    # silent, but still reading what we sent (a slow link or disk)?
                    now = _unacknowledged(conn)
                    if now is None or unacknowledged is None or now >= unacknowledged:
                        raise
                    unacknowledged = now
        except socket.timeout:
            raise
        except OSError as exc:   # the server closed first, or reset the connection
            log.debug('%s: end of a data connection: %s', self.where, error_text(exc))

    def _raise_failed_reply(self, replies: list[str]) -> None:
        failed = [reply for reply in replies if reply[:1] in ('4', '5')]
        if failed:
            if failed[0].startswith('421'):
                raise TransferError(f'{self.where}: the server closed the connection: '
                                    f'{failed[0]}')
            raise _refusal(failed[0])

    def _retrieve_text(self, command: str) -> list[str]:
        conn, keep_alive = self._transfer(command)
        chunks = []
        try:
            while True:
                data = conn.recv(CHUNK_SIZE)
                if not data:
                    break
                chunks.append(data)
        except BaseException as exc:
            self._abandon(conn, keep_alive, exc)
            raise
        self._end_transfer(conn, keep_alive)
        # Lines end with CRLF; splitlines() would also cut a name at a line or
        # paragraph separator, a form feed, ... which a file name may hold.
        text = b''.join(chunks).decode('utf-8', 'replace')
        return [line.removesuffix('\r') for line in text.split('\n') if line]

    def _abandon(self, conn, keep_alive, error: BaseException) -> None:
        """After ``error`` in the middle of a transfer: closes the data connection
        and reads the pending replies, so the control connection stays usable.

        When the data connection itself failed and the server's reply says why,
        that reply is raised as ServerFileError: one file's problem (disk full,
        aborted by the server), not a lost connection."""
        conn.close()
        if isinstance(error, socket.timeout):
            return      # the server hangs: its replies would not come either
        try:
            replies = keep_alive.replies(self._ftp)
        except (ftplib.Error, OSError, EOFError) as exc:
            log.debug('%s: after an aborted transfer: %s', self.where, error_text(exc))
            return
        if isinstance(error, OSError) and not isinstance(error, ServerFileError):
            self._raise_failed_reply(replies)

    # -- source side ----------------------------------------------------------
    def walk(self, descend):
        with self._guard():
            yield from walk_tree(self.where, self._root_entry(), descend, self._list_dir,
                                 _same_directory, self._settle)

    def _root_entry(self) -> Listed:
        """The root as the server's MLST shows it (its 'unique' fact tells a loop back
        to it), or as a directory the server tells nothing about."""
        if self._mlst:
            try:
                entry = parse_mlsd_line(self._mlst_line(self.root))
            except (ftplib.error_perm, ftplib.error_temp) as exc:
                if not _refused(exc):
                    raise
            else:
                if entry is not None:
                    return entry
        return Listed(self.root, 'dir')

    def _mlst_line(self, path: str) -> str:
        """The facts line of MLST ``path`` ('' when the reply has none)."""
        # split at '\n' only: a name may hold other line separators
        lines = self._ftp.sendcmd('MLST ' + path).split('\n')
        return lines[1].strip(' \r') if len(lines) > 2 else ''

    def _list_dir(self, reldir: str) -> list[Listed] | None:
        path = self._remote(reldir)
        try:
            return self._list(path)
        except (ServerFileError, ftplib.error_perm, ftplib.error_temp) as exc:
            if not _refused(exc):
                raise
            if not reldir:
                raise TransferError(f'{self.where}: cannot list source directory '
                                    f'{path}: {error_text(exc)}') from None
            log.warning('%s: cannot list directory %s: %s', self.where, path, error_text(exc))
            return None

    def _settle(self, relpath: str, entry: Listed) -> Listed | None:
        """A file listed without its size gets it from the server, or is skipped."""
        if entry.kind != 'file' or entry.size is not None:
            return entry
        size = self._size(self._remote(relpath))
        if size is None:
            log.warning('%s: skipping %s: its size is unknown', self.where, relpath)
            return None
        return entry._replace(size=size)

    def _list(self, path: str) -> list[Listed]:
        """The entries of a directory."""
        try:
            self._ftp.cwd(path)
        except ftplib.error_perm as exc:
            raise ServerFileError(errno.ENOENT, error_text(exc)) from None
        if self._mlsd:
            try:
                lines = self._retrieve_text('MLSD')
            except ftplib.error_perm as exc:
                if not self._refuses_mlsd(path, exc):
                    raise
                self._mlsd = False
                self.capabilities = dataclasses.replace(self.capabilities, mtimes=False)
                log.info('%s: MLSD refused (%s); listing with LIST from now on', self.where,
                         error_text(exc))
            else:
                self._mlsd_worked = True
                return [entry for entry in map(parse_mlsd_line, lines) if entry]
        if self._list_a:
            try:
                lines = self._retrieve_text('LIST -a')
            except (ServerFileError, ftplib.error_perm) as exc:
                log.info('%s: LIST -a refused (%s); using LIST', self.where, error_text(exc))
                self._list_a = False
        if not self._list_a:
            lines = self._retrieve_text('LIST')
        entries = []
        for line in lines:
            entry = parse_list_line(line)
            if entry:
                entries.append(entry)
            elif line.strip() and not line.lower().startswith('total'):
                log.warning('%s: cannot read this listing line: %r', self.where, line)
        return entries

    def _refuses_mlsd(self, path: str, refusal: ftplib.error_perm) -> bool:
        """Whether the ``refusal`` of MLSD in the directory ``path`` is the server
        refusing the command (some announce MLST in FEAT and deny MLSD) rather than
        this directory: with list_command = auto, where no MLSD has worked in this
        session and the directory's MLST does not say that it cannot be listed
        (its 'perm' fact without 'l', RFC 3659)."""
        if self.server.list_command != 'auto' or self._mlsd_worked:
            return False
        if str(refusal).startswith(('500', '502')) or not self._mlst:
            return True
        try:
            parsed = mlsd_facts(self._mlst_line(path))
        except (ftplib.error_perm, ftplib.error_temp) as exc:
            if not _refused(exc):
                raise
            return True
        if parsed is None or 'perm' not in parsed[0]:
            return True         # nothing says that the directory is the problem
        return 'l' in parsed[0]['perm'].lower()

    def open_read(self, relpath: str, offset: int = 0, expected=None):
        with self._guard():
            conn, keep_alive = self._transfer('RETR ' + self._remote(relpath), offset)
        return _Download(self, conn, keep_alive)

    # -- target side ----------------------------------------------------------
    def write(self, relpath: str, reader, progress=None, *, offset=0,
              keep_partial=False, exclusive=False, durable=False, opening=None) -> int:
        # durable: FTP has no way to ask for it
        path = self._remote(relpath)
        touched = False       # the STOR may have gone out: the file may be ours
        started = False
        try:
            with self._guard():
                self._makedirs(posixpath.dirname(path))
                if exclusive and self._size(path) is not None:   # FTP has no exclusive STOR
                    raise FileExistsError(errno.EEXIST, 'a file exists under this name')
                if opening:
                    opening()
                touched = True
                conn, keep_alive = self._transfer('STOR ' + path, offset)
                started = True
                try:
                    total = self._send(conn, keep_alive, reader, progress)
                except Exception as exc:
                    self._abandon(conn, keep_alive, exc)
                    raise
                self._end_transfer(conn, keep_alive)
                self._check_stored(path, offset + total)
            return total
        except TransferError:
            raise
        except Exception as exc:
            if started and (isinstance(exc, OSError) or not keep_partial):
                self._remove_partial(path)
            if not started and type(exc) is ServerFileError:    # STOR (or MKD) refused
                raise open_refused(exc) from None
            raise
        except BaseException:
            # Interrupted (SIGTERM, Ctrl-C), maybe between a command and its reply:
            # this connection may be out of step, so a new one removes the file.
            self._in_step = False
            if touched and not keep_partial:
                self._remove_after_interrupt(relpath)
            raise

    def _check_stored(self, path: str, sent: int) -> None:
        """Compares the server's size of an uploaded file with what was sent, where
        the server has SIZE: a server can report success for a cut-off upload."""
        if not self._size_command:
            return
        stored = self._size(path)
        if stored is not None and stored != sent:
            raise ServerFileError(errno.EIO, f'the server stored {stored} bytes of {sent}')

    @staticmethod
    def _send(conn, keep_alive, reader, progress) -> int:
        total = 0
        buffer = bytearray(DATA_PIECE)
        view = memoryview(buffer)
        while True:
            count = reader.readinto(buffer)
            if not count:
                return total
            _send_all(conn, view[:count], keep_alive)
            total += count
            if progress:
                progress(count)

    def _remove_partial(self, path: str) -> None:
        try:
            with self._guard():
                self._ftp.delete(path)
        except (OSError, TransferError) as exc:
            log.warning('%s: could not remove partial file %s: %s', self.where, path,
                        error_text(exc))

    def _remove_after_interrupt(self, relpath: str) -> None:
        remove_after_interrupt(self, relpath, CLOSE_TIMEOUT)

    def rename(self, relpath: str, new_relpath: str) -> None:
        source, target = self._remote(relpath), self._remote(new_relpath)
        with self._guard():
            self._makedirs(posixpath.dirname(target))
            try:
                self._ftp.rename(source, target)
            except ftplib.error_perm:
                if self._size(target) is None:
                    raise
                replace_by_steps(self._ftp.rename, self._ftp.delete, source, target)

    def stat(self, relpath: str) -> FileEntry | None:
        """By MLST where the server has it (size and mtime, as MLSD lists them),
        else by SIZE alone. A refused MLST is asked again by SIZE: when that finds
        the file, the server refuses MLST itself, and SIZE is used from then on."""
        path = self._remote(relpath)
        refusal = None
        with self._guard():
            if self._mlst:
                try:
                    found = parse_mlsd_line(self._mlst_line(path))
                except (ftplib.error_perm, ftplib.error_temp) as exc:
                    if not _refused(exc):
                        raise
                    refusal = error_text(exc)
                else:
                    if found is None or found.kind != 'file' or found.size is None:
                        return None
                    return FileEntry(relpath, found.size, found.mtime)
            size = self._size(path)
        if refusal and (size is not None or refusal.startswith(('500', '501', '502'))):
            self._mlst = False
            log.info('%s: MLST refused (%s); files are looked at with SIZE from now on',
                     self.where, refusal)
        return None if size is None else FileEntry(relpath, size)

    def _size(self, path: str) -> int | None:
        """The size of a file (inside _guard); None when there is no such file."""
        if self._size_command:
            try:
                reply = self._ftp.sendcmd('SIZE ' + path)
                if reply.startswith('213'):
                    return int(reply[3:].strip())
            except ftplib.error_perm as exc:
                if not str(exc).startswith(('500', '502')):
                    return None
            except ValueError:
                pass
            self._size_command = False
            log.info('%s: no usable SIZE command; sizes come from listings', self.where)
        folder, name = posixpath.split(path)
        try:
            entries = self._list(folder)
        except (ServerFileError, ftplib.error_perm, ftplib.error_temp) as exc:
            if not _refused(exc):
                raise
            return None
        return next((entry.size for entry in entries
                     if entry.name == name and entry.kind == 'file'), None)

    def remove_dir(self, relpath: str) -> None:
        path = self._remote(relpath)
        with self._guard():
            self._ftp.rmd(path)
        self._dirs.discard(path)

    # -- both sides -----------------------------------------------------------
    def remove(self, relpath: str) -> None:
        with self._guard():
            self._ftp.delete(self._remote(relpath))

    def set_mtime(self, relpath: str, mtime: float) -> None:
        """MFMT (where FEAT offers it): whole seconds, UTC."""
        stamp = time.strftime('%Y%m%d%H%M%S', time.gmtime(mtime))
        with self._guard():
            self._ftp.sendcmd(f'MFMT {stamp} {self._remote(relpath)}')

    def checksum(self, relpath: str) -> str | None:
        """HASH (SHA-256 chosen by OPTS HASH at the login) or XSHA256."""
        if self._hash_command is None:
            return None
        with self._guard():
            reply = self._ftp.sendcmd(f'{self._hash_command} {self._remote(relpath)}')
        match = _SHA256_REPLY.search(reply[4:])
        if not match:
            raise ServerFileError(errno.EIO, f'unexpected {self._hash_command} reply: '
                                             f'{reply[:120]}')
        return match[1].lower()

    def relative_dir(self, folder: str) -> str | None:
        return relative_dir(self.root, folder)

    def move_into(self, relpath: str, folder: str, new_relpath: str) -> None:
        source = self._remote(relpath)
        target = moved_path(self.root, folder, new_relpath, ServerFileError)
        self._remote(new_relpath)     # no line break in the name
        with self._guard():
            self._makedirs(posixpath.dirname(target))
            if self._size(target) is not None:
                raise FileExistsError(errno.EEXIST, 'a file exists under this name', target)
            self._ftp.rename(source, target)


_SHA256_REPLY = re.compile(r'(?<![0-9A-Fa-f])([0-9A-Fa-f]{64})(?![0-9A-Fa-f])')


def _hash_command(features: list[str]) -> str | None:
    """The command that gives a file's SHA-256 on this server (FEAT lines in upper
    case): HASH when its algorithms include SHA-256 (draft-bryan-ftpext-hash), else
    XSHA256; None when there is none."""
    for line in features:
        name, _, algorithms = line.partition(' ')
        if name == 'HASH' and 'SHA-256' in algorithms.replace('*', '').split(';'):
            return 'HASH'
    return 'XSHA256' if 'XSHA256' in {line.split(' ')[0] for line in features} else None


def _same_directory(one, other) -> bool:
    """Whether two directories have the same MLSD 'unique' fact: the same object."""
    return one[1].stamp is not None and one[1].stamp == other[1].stamp


def _unacknowledged(conn) -> int | None:
    """How many bytes sent on ``conn`` the other side has not acknowledged yet
    (Linux: TIOCOUTQ); None where that cannot be asked."""
    try:
        import fcntl
        import termios
        raw = fcntl.ioctl(conn.fileno(), termios.TIOCOUTQ, b'\0' * 4)
    except (ImportError, AttributeError, OSError, ValueError):
        return None
    return struct.unpack('i', raw)[0]


def _send_all(conn, data, keep_alive) -> None:
    """Sends ``data`` a call at a time. The socket's timeout bounds one call, and a
    whole megabyte may take longer than that on a slow link that never stalls
    (sendall() would give up): a plain socket's send() returns once some bytes are
    sent; a TLS socket's write sends all it is given, so it gets one record per
    call. Either way the timeout means "no progress for that long". NOOPs for the
    keep-alive go out between calls."""
    piece = SEND_PIECE if isinstance(conn, ssl.SSLSocket) else len(data)
    sent = 0
    while sent < len(data):
        sent += conn.send(data[sent:sent + piece])
        keep_alive.tick()


class _KeepAlive:
    """Sends NOOP on the control connection every ``interval`` seconds of a data
    transfer, also while waiting for the transfer's final reply (the server may
    still be busy with data we sent); `replies` reads that reply and the NOOPs'."""

    def __init__(self, ftp, interval: float, timeout: float | None):
        self.ftp = ftp
        self.interval = interval
        self.timeout = timeout
        self.sent = 0
        self.last = self.moved = time.monotonic()   # the last NOOP; the last data

    def tick(self) -> None:
        now = self.moved = time.monotonic()
        if self.interval and now - self.last >= self.interval:
            self._noop()

    def receive(self, conn, view) -> int:
        """``conn.recv_into(view)``, sending NOOPs every ``interval`` seconds while
        no data comes; socket.timeout after ``timeout`` seconds without any. The
        socket itself waits no longer than the next NOOP or the timeout (`pace`),
        so data that flows costs no select() per read."""
        stalled = False
        while True:
            try:
                count = conn.recv_into(view)
            except socket.timeout:
                now = time.monotonic()
                if self.timeout and now - self.moved >= self.timeout:
                    raise
                if self.interval and now - self.last >= self.interval:
                    self._noop()
                conn.settimeout(self.pace(now))
                stalled = True
                continue
            self.tick()
            if stalled:
                conn.settimeout(self.pace())
            return count

    def pace(self, now: float | None = None) -> float | None:
        """How long a socket may wait now: until the next NOOP is due or the
        timeout expires, whichever comes first (None: no limit)."""
        now = time.monotonic() if now is None else now
        limits = [limit - now for limit in
                  (self.last + self.interval if self.interval else None,
                   self.moved + self.timeout if self.timeout else None)
                  if limit is not None]
        return max(0.001, min(limits)) if limits else None

    def _noop(self) -> None:
        self.ftp.putcmd('NOOP')
        self.sent += 1
        self.last = time.monotonic()

    def wait(self, sock, write: bool = False, buffered=lambda: False) -> None:
        """Waits until ``sock`` can be read (or written), sending NOOPs meanwhile;
        socket.timeout after ``timeout`` seconds of silence. Without keep-alive a
        wait to read returns at once (the blocking read that follows waits)."""
        if not write and not self.interval:
            return
        deadline = time.monotonic() + self.timeout if self.timeout else None
        while True:
            if not write and (buffered() or (isinstance(sock, ssl.SSLSocket)
                                             and sock.pending())):
                return
            now = time.monotonic()
            # until the next NOOP is due or the timeout expires, whichever comes first
            waits = [max(0.0, limit - now) for limit in
                     (self.last + self.interval if self.interval else None, deadline)
                     if limit is not None]
            if any(select.select([] if write else [sock], [sock] if write else [], [],
                                 min(waits, default=None))):
                return
            if deadline is not None and time.monotonic() >= deadline:
                raise socket.timeout('timed out')
            self.tick()

    def replies(self, ftp) -> list[str]:
        """All pending replies, the transfer's first: NOOP replies (200) may come
        before or after it."""
        replies = []
        while len(replies) < self.sent + 1:
            self.wait(ftp.sock, buffered=ftp.file.buffered)
            replies.append(ftp.getmultiline())
        self.sent = 0
        transfer = [reply for reply in replies if not reply.startswith('200')]
        noops = [reply for reply in replies if reply.startswith('200')]
        return transfer + noops


class _Download(RemoteFile):
    """A file being retrieved (the copier reads it like a local file)."""

    def __init__(self, endpoint: FtpEndpoint, conn, keep_alive: _KeepAlive):
        self.endpoint = endpoint
        self.conn = conn
        self.keep_alive = keep_alive
        self.done = False
        conn.settimeout(keep_alive.pace())

    def readinto(self, buffer) -> int:
        """Fills ``buffer`` up to DATA_PIECE bytes (fewer only at the end of the
        file): a TLS socket gives one record (16 KiB) per read, and a piece per
        call keeps the calls (and the writes of the target) few."""
        if self.done:
            return 0
        view = memoryview(buffer).cast('B')[:DATA_PIECE]
        filled = 0
        with self.endpoint._guard():
            try:
                while filled < len(view):
                    count = self.keep_alive.receive(self.conn, view[filled:])
                    if not count:
                        self.done = True
                        break
                    filled += count
            except BaseException as exc:
                self.done = True
                self.endpoint._abandon(self.conn, self.keep_alive, exc)
                raise
            if self.done:
                self.endpoint._end_transfer(self.conn, self.keep_alive)
        return filled

    def close(self) -> None:
        if not self.done:
            self.done = True
            self.endpoint._abandon(self.conn, self.keep_alive, None)


def create(spec) -> StreamEndpoint:
    return FtpEndpoint(spec)
