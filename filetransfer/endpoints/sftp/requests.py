"""paramiko's request layer: the only user of its private API.

paramiko's SFTPClient offers no public way to send a request without waiting for
its answer, nor to send an extended request; its own SFTPFile does both through
``SFTPClient._async_request``, ``_read_response`` and ``_convert_status``, which
call back an object's ``_async_response`` with each answer. This module uses them
(and the SFTP message numbers), so that a paramiko release that changes them
breaks one module, checked by tests/test_paramiko_pins.py:

- ``server_limits``, ``LimitsRequest``: the server's limits@openssh.com answer;
- ``open_file``, ``OpenFile``: a remote file opened, as the two classes below use it;
- ``PipelinedWriter``: the writes, size and close of one open remote file, sent
  without waiting for each answer (``in_flight``: a share of IN_FLIGHT when
  several files share the session);
- ``PipelinedReader``: a remote file read with many read requests in flight;
- ``DirectoryListing``: a directory listed with several READDIR requests in
  flight, started before it is needed;
- ``LaterAnswer`` (``stat_request``, ``realpath_request``, ``mkdir_request``): a
  request whose answer is taken when it comes; ``PipelinedStats``: files looked at
  with their STAT requests in flight;
- ``SharedClient``: an SFTP session that several threads use at once; it reads
  each answer as an ``Answer`` (what paramiko's Message reads, in place; the data
  of a file without a copy).

``batched`` groups requests sent together, so that they leave together.
"""

import contextlib
import errno
import logging
import struct
import threading
import weakref
from typing import NamedTuple

import paramiko
from paramiko.message import Message

from paramiko.sftp import (CMD_ATTRS, CMD_CLOSE, CMD_DATA, CMD_EXTENDED, CMD_EXTENDED_REPLY,
                           CMD_FSTAT, CMD_HANDLE, CMD_MKDIR, CMD_NAME, CMD_OPEN, CMD_OPENDIR,
                           CMD_READ, CMD_READDIR, CMD_REALPATH, CMD_STAT, CMD_STATUS,
                           CMD_WRITE, SFTP_FAILURE, SFTP_FLAG_CREATE, SFTP_FLAG_EXCL,
                           SFTP_FLAG_READ, SFTP_FLAG_TRUNC, SFTP_FLAG_WRITE, SFTP_NO_SUCH_FILE,
                           SFTP_OK, SFTP_PERMISSION_DENIED, int64)
from paramiko.sftp_attr import SFTPAttributes
from paramiko.util import asbytes, u

from filetransfer.endpoints.remote import Listed, RemoteFile, kind_of
from filetransfer.errors import TransferError, error_text

log = logging.getLogger(__name__)

REQUEST_SIZE = 32768          # the read/write size every SFTP server must serve
IN_FLIGHT = 4 << 20           # bytes of read or write requests awaiting an answer
READDIR_IN_FLIGHT = 64        # READDIR requests on one directory awaiting an answer
READDIR_START = 8             # ... at first: a READDIR past the end costs a short answer
STATS_IN_FLIGHT = 64          # STAT requests of PipelinedStats awaiting an answer
# status codes of later SFTP versions that some servers send to version 3 clients too
NO_SPACE_ON_FILESYSTEM = 14
QUOTA_EXCEEDED = 15


class Limits(NamedTuple):
    """What a server says of itself in its limits@openssh.com answer (0: no limit;
    ``handles``: the files one session may hold open at once, 0 too where the
    answer leaves it out)."""
    packet: int
    read: int
    write: int
    handles: int = 0


def batched(sftp):
    """A context in which the requests sent leave together (in one SSH packet over
    an `ssh` child, which batches what it is given; paramiko's transport sends
    each at once, on a socket without Nagle's delay)."""
    batch = getattr(sftp.get_channel(), 'batched', None)
    return batch() if batch else contextlib.nullcontext()


def server_limits(sftp) -> Limits | None:
    """The server's limits@openssh.com answer; None when it does not give one."""
    return LimitsRequest(sftp).result()


class LimitsRequest:
    """The limits@openssh.com request, sent at once and answered whenever an answer
    is read (so that other requests can go meanwhile); `result` waits for it."""

    def __init__(self, sftp):
        self.sftp = sftp
        self.answered = False
        self.limits = None
        sftp._async_request(self, CMD_EXTENDED, 'limits@openssh.com')

    def result(self) -> Limits | None:
        """The server's limits; None when it does not give them (a status answer)."""
        while not self.answered:
            self.sftp._read_response()
        return self.limits

    def _async_response(self, kind, msg, number) -> None:
        """Called by paramiko with the answer."""
        self.answered = True
        if kind == CMD_EXTENDED_REPLY:
            sizes = msg.get_int64(), msg.get_int64(), msg.get_int64()
            rest = msg.get_remainder()
            handles = _UINT64.unpack_from(rest)[0] if len(rest) >= 8 else 0
            self.limits = Limits(*sizes, handles)


READING = SFTP_FLAG_READ
WRITING = SFTP_FLAG_WRITE | SFTP_FLAG_CREATE | SFTP_FLAG_TRUNC
WRITING_NEW = WRITING | SFTP_FLAG_EXCL


def open_file(sftp, path: str, flags: int) -> 'OpenFile':
    """The remote file ``path`` opened with the SFTP open ``flags`` (READING,
    WRITING, WRITING_NEW); raises the server's refusal (OSError). What paramiko's
    SFTPClient.open does, without its file object around the handle and its log
    lines formatted whether logged or not (5,000 files of 4 KiB: some 7 % of the
    time)."""
    kind, msg = sftp._request(CMD_OPEN, path, flags, 0)     # 0: no attributes
    if kind != CMD_HANDLE:
        raise OSError(errno.EIO, 'unexpected answer to an open')
    return OpenFile(sftp, msg.get_binary())


class OpenFile:
    """The handle of a remote file that open_file opened. PipelinedWriter and
    PipelinedReader close it with their last requests (and set ``_closed``);
    `close` closes it and waits; one dropped unclosed (a read stopped early) is
    closed without waiting, as paramiko's own file objects are."""

    __slots__ = ('sftp', 'handle', '_closed', '__weakref__')

    def __init__(self, sftp, handle: bytes):
        self.sftp = sftp
        self.handle = handle
        self._closed = False

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.sftp._request(CMD_CLOSE, self.handle)

    def __del__(self):
        if not self._closed:
            self._closed = True
            try:
                self.sftp._async_request(type(None), CMD_CLOSE, self.handle)
            except Exception:       # the session is gone (or going): so is the handle
                pass


class PipelinedWriter:
    """The requests that write one open remote file: writes sent without waiting
    for their answers while less than IN_FLIGHT bytes await one, then its size
    (FSTAT) and its close, sent together. The data of a write (bytes or a view)
    must stay as it is until the next `send` or `finish`, which send it. A
    refused request is raised (as the OSError the server's status maps to) by the
    next call after its answer.
    A small file thus costs two round trips: open, then write, stat and close
    (and, with ``sync``, fsync@openssh.com between those two).
    ``in_flight`` is a number of bytes, or a function giving it (a share that grows
    as other files sharing the session end)."""

    def __init__(self, sftp, handle, request_size: int, in_flight=IN_FLIGHT,
                 sync: bool = False):
        self.sftp = sftp
        self.file = handle
        self.request_size = request_size
        self.in_flight = _as_function(in_flight)
        self.sync = sync           # fsync@openssh.com before the close
        self.synced = None         # then: the (code, text) of its status answer
        self.pending = {}          # request number -> what it is
        self.held = None           # the last write's arguments, not sent yet
        self.failure = None
        self.size = None

    def send(self, offset: int, data: bytes) -> None:
        # Each write waits for the next one (or for finish()): the last goes out
        # with the stat and the close in one batch, so a small file's requests
        # travel together.
        self._raise_failure()
        self._send_held()
        self.held = (int64(offset), data)
        while len(self.pending) >= max(1, self.in_flight() // self.request_size):
            self.sftp._read_response()
        self._raise_failure()

    def _send_held(self) -> None:
        if self.held is not None:
            self._request('write', CMD_WRITE, *self.held)
            self.held = None

    def finish(self) -> int | None:
        """Closes the file once every write is answered; returns its size as the
        server gave it before the close, or None if it cannot tell."""
        with batched(self.sftp):
            self._send_held()
            self._request('stat', CMD_FSTAT)
            if self.sync:
                number = self.sftp._async_request(self, CMD_EXTENDED, 'fsync@openssh.com',
                                                  self.file.handle)
                self.pending[number] = 'sync'
            self._request('close', CMD_CLOSE)
        self.file._closed = True          # paramiko must not close it again
        while self.pending:
            self.sftp._read_response()
        self._raise_failure()
        return self.size

    def _request(self, what: str, kind: int, *args) -> None:
        number = self.sftp._async_request(self, kind, self.file.handle, *args)
        self.pending[number] = what

    def _raise_failure(self) -> None:
        if self.failure is not None:
            raise self.failure

    def _async_response(self, kind, msg, number) -> None:
        """Called by paramiko with the answer to one of our requests."""
        what = self.pending.pop(number)
        if what == 'stat':
            if kind == CMD_ATTRS:
                self.size = _size(msg)
            return                        # not supported: the caller stats the path
        if what == 'sync':               # the caller judges it
            self.synced = (msg.get_int(), msg.get_text()) if kind == CMD_STATUS \
                else (SFTP_FAILURE, 'unexpected answer')
            return
        if self.failure is not None:
            return
        if kind != CMD_STATUS:
            self.failure = OSError(errno.EIO, f'unexpected answer to a {what}')
            return
        code = msg.get_int()
        if code != SFTP_OK:              # (the text of a success is not read)
            self.failure = _refusal(what, code, msg.get_text())


def _size(msg) -> int | None:
    """The size in an ATTRS answer (None when it gives none): what
    SFTPAttributes._from_msg(msg).st_size reads, at a fifth of the cost."""
    return msg.get_int64() if msg.get_int() & SFTPAttributes.FLAG_SIZE else None


def _as_function(value):
    return value if callable(value) else lambda: value


def _refusal(what: str, code: int, text: str) -> OSError | None:
    """The error of an SFTP status answer to a write or close (None for success),
    saying what the server said and, where the status tells it, that its disk is
    full."""
    said = text or f'status {code}'
    if code == SFTP_OK:
        return None
    if code == NO_SPACE_ON_FILESYSTEM:
        return OSError(errno.ENOSPC, f"the server's disk is full (it says: {said})")
    if code == QUOTA_EXCEEDED:
        return OSError(errno.EDQUOT, f'a quota on the server is exceeded (it says: {said})')
    if code == SFTP_FAILURE:
        # OpenSSH's server says only 'Failure' for a full disk or a quota reached
        return OSError(errno.EIO, f"the server refused the {what} ('{said}'): its disk may "
                                  'be full or a quota reached')
    if code in (SFTP_NO_SUCH_FILE, SFTP_PERMISSION_DENIED):
        return OSError(errno.ENOENT if code == SFTP_NO_SUCH_FILE else errno.EACCES, said)
    return OSError(errno.EIO, said)


class PipelinedReader(RemoteFile):
    """A remote file read with up to IN_FLIGHT bytes of read requests in flight, in
    the calling thread. (paramiko's own prefetch runs a thread that, when the reader
    catches up with it, stops using what it fetched and keeps buffering the whole
    file.)

    ``handle`` is the paramiko SFTPFile opened for reading; ``guard`` a context
    manager factory around every request, which turns connection failures into
    TransferError, so a lost server ends the try instead of counting as one file's
    error."""

    def __init__(self, sftp, handle, guard, offset: int = 0,
                 request_size: int = REQUEST_SIZE, in_flight=IN_FLIGHT,
                 size: int | None = None):
        self.sftp = sftp
        self.request_size = request_size
        self.in_flight = _as_function(in_flight)    # as PipelinedWriter's
        # what a reader should take at once (base.chunk_buffer): the data held
        # stays about twice the share in flight
        self.chunk_size = max(request_size, self.in_flight())
        # The size the listing gave, if any: reads end there, and one more there
        # tells whether the file ends too; a file read whole in one round trip.
        self.size = size
        self.handle = handle
        self.guard = guard
        self.position = offset     # next byte handed out
        self.requested = offset    # next byte to ask for
        self.pending = {}          # request number -> (offset, length)
        self.ready = {}            # offset -> bytes, b'' at the end, or an exception
        self.eof = False           # the end was handed out
        self.end_seen = False      # the server said: nothing at or after some offset

    def _request(self, offset: int, length: int) -> None:
        number = self.sftp._async_request(self, CMD_READ, self.handle.handle, int64(offset),
                                          int(length))
        self.pending[number] = (offset, length)

    def _request_more(self) -> None:
        """Sends read requests up to the most in flight; with a known size, none past
        the one at the end while that is unanswered. The one at the end goes with
        the last of the data even when the most are in flight (many files sharing
        the session leave each one request): it asks for nothing the listing knows
        of, and saves a round trip per file."""
        most = max(1, self.in_flight() // self.request_size)
        with batched(self.sftp):
            while not self.end_seen:
                size = self.size
                if size is not None and self.requested > size and self.pending:
                    return
                if len(self.pending) >= most and (size is None or self.requested < size):
                    return
                length = self.request_size
                if size is not None and self.requested < size:
                    length = min(length, size - self.requested)
                self._request(self.requested, length)
                self.requested += length

    def _async_response(self, kind, msg, number) -> None:
        """Called by paramiko with the answer to one of our requests."""
        offset, length = self.pending.pop(number)
        if kind == CMD_DATA:
            # (paramiko's own client gives a Message, SharedClient an Answer)
            data = msg.get_data() if isinstance(msg, Answer) else msg.get_string()
            self.ready[offset] = data
            if data and self.size is not None and offset + len(data) > self.size:
                self.size = None                     # it grew: read on to its end
            if data and len(data) < length:          # a short read: ask for the rest
                self._request(offset + len(data), length - len(data))
            elif not data:
                self.end_seen = True
            return
        try:
            self.sftp._convert_status(msg)
            self.ready[offset] = IOError(errno.EIO, 'unexpected answer to a read')
        except EOFError:
            self.ready[offset] = b''
            self.end_seen = True
        except Exception as exc:   # the server's error for this read, raised when reached
            self.ready[offset] = exc

    def readinto(self, buffer) -> int:
        filled = 0
        # into a view: a bytearray given a view copies it once more first
        buffer = memoryview(buffer)
        with self.guard():
            while filled < len(buffer) and not self.eof:
                self._request_more()
                while self.position not in self.ready:
                    self.sftp._read_response()
                piece = self.ready.pop(self.position)
                if isinstance(piece, Exception):
                    raise piece
                if not piece:
                    self.eof = True
                    break
                taken = piece[:len(buffer) - filled]
                buffer[filled:filled + len(taken)] = taken
                filled += len(taken)
                self.position += len(taken)
                if len(taken) < len(piece):
                    self.ready[self.position] = piece[len(taken):]
        return filled

    def close(self) -> None:
        if not self.eof:
            # Stopped early (an error, SIGTERM): the answers to requests in flight may
            # never come on a broken session. paramiko closes the handle without
            # waiting once the object is gone.
            return
        try:
            with self.guard():
                while self.pending:            # reads past the end, still answered
                    self.sftp._read_response()
                # Not waited for: a close of a file read has nothing to report, and
                # the server handles the requests that follow after it.
                self.sftp._async_request(_IGNORED, CMD_CLOSE, self.handle.handle)
                self.handle._closed = True     # paramiko must not close it again
        except (OSError, TransferError) as exc:
            log.debug('closing a remote file: %s', error_text(exc))


class _Ignore:
    """Takes the answer to a request that nobody waits for."""

    def _async_response(self, kind, msg, number) -> None:
        pass


_IGNORED = _Ignore()


class DirectoryListing:
    """One directory's entries (remote.Listed), fetched by the answers themselves: the OPENDIR sent at once, then READDIR
    requests on its handle, more in flight after each answer with names (up to
    READDIR_IN_FLIGHT), until one answers the end; then the handle's CLOSE, not
    waited for. A server answers the READDIRs of one handle in turn, each with
    what follows the last (however many names it puts in one answer), so the
    answers put together in request order are the directory, each name once.

    Several listings may be under way at once on one session: whoever reads an
    answer hands it to its listing. `entries` waits for this one's end."""

    def __init__(self, sftp, path: str):
        self.sftp = sftp
        self.path = path
        self.handle = None
        self.pending = {}          # request number -> 'open', 'close' or a READDIR's index
        self.answers = {}          # READDIR index -> the names it gave
        self.sent = 0              # READDIR requests sent
        self.most = READDIR_START  # READDIRs in flight at most, for now
        self.end = None            # the first READDIR answered with the end (or an error)
        self.done = False          # every READDIR before that one is answered
        self.error = None
        self._send('open', CMD_OPENDIR, path)

    def entries(self) -> list:
        """The directory's entries but '.' and '..'; raises the server's error
        (OSError) when it cannot be listed."""
        while not self.done:
            self.sftp._read_response()
        if self.error is not None:
            raise self.error
        return [attr for index in sorted(self.answers) for attr in self.answers[index]]

    def _send(self, what, kind: int, *args) -> None:
        number = self.sftp._async_request(self, kind, *args)
        self.pending[number] = what

    def _read_more(self) -> None:
        with batched(self.sftp):
            while self.end is None and len(self.pending) < self.most:
                self._send(self.sent, CMD_READDIR, self.handle)
                self.sent += 1

    def _async_response(self, kind, msg, number) -> None:
        """Called by paramiko with the answer to one of our requests."""
        what = self.pending.pop(number)
        if what == 'close' or self.done:
            return                 # a READDIR past the end: the end again
        if what == 'open':
            if kind == CMD_HANDLE:
                self.handle = msg.get_binary()
                self._read_more()
            else:
                self._fail(kind, msg, 'an OPENDIR')
                self.done = True
            return
        if kind == CMD_NAME:
            try:
                self.answers[what] = _names(msg)
            except OSError as exc:
                self.error = self.error or exc
                self.end = what if self.end is None else min(self.end, what)
            else:
                # two more per answer with names: in flight triple each round trip
                self.most = min(READDIR_IN_FLIGHT, self.most + 2)
                self._read_more()
        else:
            self.end = what if self.end is None else min(self.end, what)
            self._fail(kind, msg, 'a READDIR')
        # The READDIRs after the end are answered with the end too: they are not
        # waited for, and the server takes the CLOSE after them.
        if self.end is not None and not any(
                isinstance(index, int) and index < self.end for index in self.pending.values()):
            self.done = True
            self._send('close', CMD_CLOSE, self.handle)

    def _fail(self, kind, msg, what: str) -> None:
        """Takes a status answer: the end, or the first error."""
        try:
            if kind != CMD_STATUS:
                raise OSError(errno.EIO, f'unexpected answer to {what}')
            self.sftp._convert_status(msg)
            raise OSError(errno.EIO, f'a success status in answer to {what}')
        except EOFError:
            pass
        except OSError as exc:
            if self.error is None:
                self.error = exc


_UINT32 = struct.Struct('>I')
_UINT64 = struct.Struct('>Q')
_TWO_UINT32 = struct.Struct('>II')
_REQUEST_HEAD = struct.Struct('>IBI')     # length, type, request number
_PADDED_MOST = 1 << 20                    # as paramiko's Message pads a short field


class Answer:
    """An SFTP answer (the packet after its type), read with the methods of
    paramiko's Message, which paramiko's SFTP code calls, and as it reads them (a
    field cut short is padded with zeros). Read from the packet in place, not
    through a stream: a third of the time; and `get_data` hands out the data of
    a DATA answer without copying it."""

    __slots__ = ('data', 'at')

    def __init__(self, data):
        self.data = data       # bytes, or a memoryview of what ssh sent
        self.at = 0

    def get_bytes(self, n: int) -> bytes:
        start = self.at
        self.at = min(start + n, len(self.data))
        found = bytes(self.data[start:self.at])
        if len(found) < n < _PADDED_MOST:
            return found + bytes(n - len(found))
        return found

    def get_byte(self) -> bytes:
        return self.get_bytes(1)

    def get_boolean(self) -> bool:
        return self.get_bytes(1) != b'\0'

    def get_int(self) -> int:
        return self._number(_UINT32)

    def get_int64(self) -> int:
        return self._number(_UINT64)

    def _number(self, packed: struct.Struct) -> int:
        if self.at + packed.size <= len(self.data):
            (value,) = packed.unpack_from(self.data, self.at)
            self.at += packed.size
            return value
        return packed.unpack(self.get_bytes(packed.size))[0]

    def get_string(self) -> bytes:
        return self.get_bytes(self.get_int())

    get_binary = get_string

    def get_text(self) -> str:
        return u(self.get_string())

    def get_data(self):
        """The next string as a view of the answer (no copy; short if cut short)."""
        size = self.get_int()
        start = self.at
        self.at = min(start + size, len(self.data))
        return memoryview(self.data)[start:self.at]

    def get_remainder(self) -> bytes:
        """What is left, without taking it."""
        return bytes(self.data[self.at:])

    def get_so_far(self) -> bytes:
        return bytes(self.data[:self.at])

    def rewind(self) -> None:
        self.at = 0


def request_parts(kind: int, number: int, args) -> list:
    """The SFTP request ``kind`` number ``number`` with ``args`` as paramiko's
    SFTPClient._async_request packs them (int64 in 8 bytes, int in 4, attributes
    as paramiko packs them, anything else a string: its length, then its bytes,
    str as UTF-8), as the parts to send one after the other: a third of the time
    paramiko's Message takes, on every request of every file, and a file's data
    (a view) is not copied."""
    parts = [b'']
    size = _REQUEST_HEAD.size - 4
    for item in args:
        if isinstance(item, int64):
            part = _UINT64.pack(item)
        elif isinstance(item, int):
            part = _UINT32.pack(item)
        elif isinstance(item, SFTPAttributes):
            packed = Message()
            item._pack(packed)
            part = packed.asbytes()
        else:
            part = item if isinstance(item, memoryview) else asbytes(item)
            parts.append(_UINT32.pack(len(part)))
            size += 4
        parts.append(part)
        size += len(part)
    parts[0] = _REQUEST_HEAD.pack(size, kind, number)
    return parts


def request_packet(kind: int, number: int, args) -> bytes:
    """`request_parts` in one piece."""
    return b''.join(request_parts(kind, number, args))


def _names(msg) -> list:
    """The entries of a NAME answer, but '.' and '..', as remote.Listed. Read here
    rather than by paramiko's SFTPAttributes (a listing of 20,000 names took 0.3 s of
    CPU there); a name that is not UTF-8 keeps its bytes as surrogates (see
    base.listed_name_problem). Raises OSError for an answer cut short."""
    data = msg.get_remainder()
    try:
        (count,), at = _UINT32.unpack_from(data), 4
        names = []
        for _ in range(count):
            filename, at = _string(data, at)
            (length,) = _UINT32.unpack_from(data, at)      # the long name: not used
            at += 4 + length
            (flags,) = _UINT32.unpack_from(data, at)
            at += 4
            size = uid = gid = mtime = None
            mode = 0
            if flags & SFTPAttributes.FLAG_SIZE:
                (size,) = _UINT64.unpack_from(data, at)
                at += 8
            if flags & SFTPAttributes.FLAG_UIDGID:
                uid, gid = _TWO_UINT32.unpack_from(data, at)
                at += 8
            if flags & SFTPAttributes.FLAG_PERMISSIONS:
                (mode,) = _UINT32.unpack_from(data, at)
                at += 4
            if flags & SFTPAttributes.FLAG_AMTIME:
                _, mtime = _TWO_UINT32.unpack_from(data, at)
                at += 8
            if flags & SFTPAttributes.FLAG_EXTENDED:
                (extended,) = _UINT32.unpack_from(data, at)
                at += 4
                for _ in range(2 * extended):
                    _, at = _string(data, at)
            if filename not in ('.', '..'):
                kind = kind_of(mode)
                # only directories are compared (same_directory): a file's
                # attributes are not kept twice (a fifth of a listed file's memory)
                names.append(Listed(filename, kind, size, mtime, None if kind == 'file'
                                    else (mode, uid, gid, size, mtime)))
        if at > len(data):
            raise struct.error('the last long name runs past the end')
    except struct.error:
        raise OSError(errno.EIO, 'an answer to a READDIR is cut short') from None
    return names


def _string(data: bytes, at: int) -> tuple[str, int]:
    """The string at ``at`` of an SFTP packet, and where the next field starts."""
    (length,) = _UINT32.unpack_from(data, at)
    end = at + 4 + length
    if end > len(data):
        raise struct.error('a string runs past the end')
    return data[at + 4:end].decode('utf-8', 'surrogateescape'), end


class LaterAnswer:
    """A request sent at once and answered whenever an answer is read (so that
    others can go meanwhile); `result` waits for it. ``take(sftp, kind, msg)``
    makes the result of the answer, or the refusal (an OSError, which `result`
    raises)."""

    def __init__(self, sftp, take, kind: int, *args):
        self.sftp = sftp
        self.take = take
        self.answered = False
        self.answer = None
        sftp._async_request(self, kind, *args)

    def result(self):
        while not self.answered:
            self.sftp._read_response()
        if isinstance(self.answer, OSError):
            raise self.answer
        return self.answer

    def _async_response(self, kind, msg, number) -> None:
        """Called by paramiko with the answer."""
        self.answer = self.take(self.sftp, kind, msg)
        self.answered = True


def stat_request(sftp, path: str) -> LaterAnswer:
    """STAT: its result is the path's attributes (paramiko SFTPAttributes)."""
    return LaterAnswer(sftp, _attributes, CMD_STAT, path)


def realpath_request(sftp, path: str) -> LaterAnswer:
    """REALPATH: its result is the path as the server names it (absolute)."""
    return LaterAnswer(sftp, _realpath, CMD_REALPATH, path)


def mkdir_request(sftp, path: str) -> LaterAnswer:
    """MKDIR (mode 0777, less the server's umask): its result is None."""
    attributes = SFTPAttributes()
    attributes.st_mode = 0o777
    return LaterAnswer(sftp, _done, CMD_MKDIR, path, attributes)


def _realpath(sftp, kind, msg):
    try:
        if kind == CMD_NAME and msg.get_int() == 1:
            return msg.get_text()
        if kind == CMD_STATUS:
            sftp._convert_status(msg)
        raise OSError(errno.EIO, 'unexpected answer to a REALPATH')
    except OSError as exc:
        return exc


def _done(sftp, kind, msg):
    """A status answer: None for success, else the refusal (OSError)."""
    try:
        if kind != CMD_STATUS:
            raise OSError(errno.EIO, 'unexpected answer')
        sftp._convert_status(msg)
    except OSError as exc:
        return exc
    return None


class PipelinedStats:
    """The STAT answers for ``paths``, up to STATS_IN_FLIGHT requests awaiting an
    answer at a time; `results` waits for them all."""

    def __init__(self, sftp, paths: list[str]):
        self.sftp = sftp
        self.paths = paths
        self.pending = {}          # request number -> index in paths
        self.answers = [None] * len(paths)

    def results(self) -> list:
        """Each path's attributes (paramiko SFTPAttributes) or the server's refusal
        (OSError: ENOENT for a missing file), in the order of ``paths``."""
        waiting = iter(range(len(self.paths)))
        while True:
            with batched(self.sftp):
                while len(self.pending) < STATS_IN_FLIGHT \
                        and (index := next(waiting, None)) is not None:
                    number = self.sftp._async_request(self, CMD_STAT, self.paths[index])
                    self.pending[number] = index
            if not self.pending:
                return self.answers
            self.sftp._read_response()

    def _async_response(self, kind, msg, number) -> None:
        """Called by paramiko with one answer."""
        self.answers[self.pending.pop(number)] = _attributes(self.sftp, kind, msg)


def _attributes(sftp, kind, msg):
    """A STAT's answer: the attributes, or the refusal (OSError)."""
    if kind == CMD_ATTRS:
        return SFTPAttributes._from_msg(msg)
    try:
        if kind == CMD_STATUS:
            sftp._convert_status(msg)
        raise OSError(errno.EIO, 'unexpected answer to a STAT')
    except OSError as exc:
        return exc


_GONE = object()      # an answer to a request nobody waits for any more


def _hand_over(due: list) -> None:
    """Gives each (object, kind, message, number) of ``due`` its answer."""
    for fileobj, kind, msg, number in due:
        fileobj._async_response(kind, msg, number)


class SharedClient(paramiko.SFTPClient):
    """An SFTP session that several threads may use at once, each with its own
    requests (stat, open, rename, a PipelinedWriter or PipelinedReader...).

    paramiko's client sends a request outside its lock (two threads' packets could
    interleave) and, waiting for the answer to one request, drops the answers
    meant for requests of another thread. Here a request is numbered and sent under
    one lock; one waiting thread at a time reads the answers (the reader) and hands
    each to the thread that sent its request: the answer itself for a request that
    thread waits for (``_request``), or the object's ``_async_response`` call, run
    by that thread in its next ``_read_response``, so that an object's state is only
    ever touched by the thread that uses it. A thread whose answer has come takes
    over the reading when it next waits and nobody reads.

    Sends and the bookkeeping share one re-entrant lock: paramiko closes a file
    object that is garbage collected with a request, from whatever thread collects
    it, maybe one holding the lock. A broken session (an error while reading) is
    raised to every thread.

    While ``turns`` (turns.Turns) runs, the users are tasks of one thread instead:
    a task whose answer has not come lets the others go on, and the turns' loop
    reads the answers (`deliver_one`)."""

    def __init__(self, sock):
        super().__init__(sock)
        # request number -> a weak reference to the object its answer goes to: an
        # object dropped gets no answers, as with paramiko's WeakValueDictionary,
        # at a tenth of its cost per request
        self._expecting = {}
        # an ssh child's pipe writes a request's parts as they are (no joined copy)
        self._send_parts = getattr(sock, 'send_parts', None)
        self._lock = threading.RLock()
        self._reader = None         # the thread reading answers, if any
        self._sender = None         # the thread sending a request, if any
        self._owners = {}           # request number -> the thread that sent it
        self._answers = {}          # request number -> (kind, message) of a _request
        self._due = {}              # thread -> [(object, kind, message, number)]
        self._idle = {}             # thread -> its Condition, while it waits
        self._broken = None         # what broke the session
        self.turns = None           # turns.Turns, while tasks take turns on the session

    def _user(self):
        """Who sends a request now: a thread, or the task whose turn it is."""
        return threading.get_ident() if self.turns is None else self.turns.current()

    def _async_request(self, fileobj, t, *args):
        me = self._user()
        with self._lock:
            before, self._sender = self._sender, me
            try:
                number = self.request_number
                self.request_number += 1
                self._expecting[number] = weakref.ref(fileobj)
                self._owners[number] = me
                parts = request_parts(t, number, args)
                if self._send_parts is not None:
                    self._send_parts(parts)
                else:
                    self._write_all(b''.join(parts))
            finally:
                self._sender = before
        return number

    def _read_packet(self):
        """(type, the rest) of the next message, as paramiko's own reads it; from an
        `ssh` child, without its two reads and the copy of the rest."""
        take = getattr(self.sock, 'take', None)
        if take is None:
            return super()._read_packet()
        (size,) = _UINT32.unpack(take(4))
        if size >> 24:                  # paramiko's check too: no server sends 16 MB
            raise paramiko.SFTPError('Garbage packet received')
        if not size:
            return 0, b''
        return take(1)[0], take(size - 1)

    def _read_response(self, waitfor=None):
        """Waits for the answer to request ``waitfor`` and returns it as (kind,
        message), raising a status answer's error; with None, until at least one
        answer to this thread's objects was handed to them, and returns (None,
        None)."""
        if self.turns is not None:
            return self._read_in_turn(waitfor)
        me = threading.get_ident()
        while True:
            with self._lock:
                due = self._due.pop(me, None)
                answer = self._answers.pop(waitfor, None) if waitfor is not None else None
                reading = False
                if due is None and answer is None:
                    if self._broken is not None:
                        raise self._broken
                    if self._reader is None:
                        self._reader = reading = me
                    else:
                        turn = self._idle[me] = threading.Condition(self._lock)
                        try:
                            turn.wait()
                        finally:
                            del self._idle[me]
                        continue
                elif self._reader is None:
                    self._wake_one()          # it may have been woken to read
            if due:
                _hand_over(due)
                del due
                if waitfor is None:
                    return None, None
            if answer is not None:
                return self._answered(*answer)
            if reading:
                try:
                    kind, msg = self._read_for(me, waitfor)
                finally:
                    with self._lock:
                        self._reader = None
                        self._wake_one()      # to read next
                return (None, None) if waitfor is None else self._answered(kind, msg)
            # else: objects of this thread got their answers, the awaited one is to come

    def _read_in_turn(self, waitfor):
        """`_read_response` for a task of ``turns``: the others go on while its
        answer has not come."""
        me = self.turns.current()
        while True:
            due = self._due.pop(me, None)
            if due:
                _hand_over(due)
                del due
                if waitfor is None:
                    return None, None
            answer = self._answers.pop(waitfor, None) if waitfor is not None else None
            if answer is not None:
                return self._answered(*answer)
            if self._broken is not None:
                raise self._broken
            self.turns.wait(me)

    def deliver_one(self):
        """For ``turns``: reads one answer and hands it to the task that sent its
        request; returns that task (None: an answer nobody waits for). Raises what
        broke the session."""
        kind, msg, number = self._next_answer()
        fileobj = self._expected(number)
        owner = self._owners.pop(number, None)
        if fileobj is _GONE:
            return None
        if fileobj is type(None):
            self._answers[number] = (kind, msg)
        else:
            self._due.setdefault(owner, []).append((fileobj, kind, msg, number))
        return owner

    def _expected(self, number: int):
        """The object the answer to request ``number`` goes to, no longer expected;
        _GONE when there is none."""
        ref = self._expecting.pop(number, None)
        fileobj = ref() if ref is not None else None
        return _GONE if fileobj is None else fileobj

    def _finish_responses(self, fileobj) -> None:
        """paramiko's (for an SFTPFile), with the weak references: waits until no
        request of ``fileobj`` awaits an answer."""
        while any(ref() is fileobj for ref in list(self._expecting.values())):
            self._read_response()

    def _next_answer(self):
        """(kind, message, request number) of the next answer; what breaks the
        session on the way is kept (raised to every user) and raised."""
        try:
            kind, data = self._read_packet()
        except BaseException as exc:
            broken = self._breaking(exc)
            if broken is exc:
                raise
            raise broken from None
        msg = Answer(data)
        return kind, msg, msg.get_int()

    def _breaking(self, exc: BaseException) -> BaseException:
        """Keeps what broke the session, to raise to every user; returns it (a closed
        connection as paramiko says it)."""
        if isinstance(exc, EOFError):
            broken = paramiko.SSHException(f'Server connection dropped: {exc}')
            broken.__context__ = exc
            exc = broken
        self._break(exc)
        return exc

    def _read_for(self, me, waitfor):
        """As the reader: reads answers, handing over those of other threads, until
        one for this thread comes: the answer to ``waitfor``, else (None, None)
        once an object of this thread was given its answer."""
        try:
            while True:
                kind, data = self._read_packet()
                msg = Answer(data)
                number = msg.get_int()
                with self._lock:
                    fileobj = self._expected(number)
                    owner = self._owners.pop(number, self._sender)
                    if fileobj is not _GONE and owner != me:
                        if fileobj is type(None):
                            self._answers[number] = (kind, msg)
                        else:
                            self._due.setdefault(owner, []).append((fileobj, kind, msg, number))
                        if owner in self._idle:
                            self._idle[owner].notify()
                        fileobj = _GONE
                if fileobj is _GONE:
                    continue                  # another thread's, or of a closed file
                if fileobj is type(None):
                    if number == waitfor:
                        return kind, msg
                    with self._lock:          # sent by this thread, awaited later
                        self._answers[number] = (kind, msg)
                    continue
                fileobj._async_response(kind, msg, number)
                fileobj = None                # no last reference dropped under the lock
                if waitfor is None:
                    return None, None
        except BaseException as exc:          # the answers may be out of step now
            broken = self._breaking(exc)
            if broken is exc:
                raise
            raise broken from None

    def _wake_one(self) -> None:
        """Wakes a waiting thread, if any: it reads answers, or wakes another."""
        for turn in self._idle.values():
            turn.notify()
            break

    def _break(self, exc: BaseException) -> None:
        with self._lock:
            self._broken = exc
            for turn in self._idle.values():
                turn.notify()

    def _answered(self, kind, msg):
        if kind == CMD_STATUS:
            self._convert_status(msg)
        return kind, msg
