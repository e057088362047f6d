"""The interface between the job runner and a protocol.

An endpoint is one side of a transfer: a directory on the local disk or on a
server. The runner never touches a protocol directly; it lists, reads, writes,
renames and removes files through these methods, with paths relative to the
endpoint's root directory and separated by '/'.

Error contract, so the runner can count per file and stop only when it must:

- A problem with one file (missing, permission denied, disk full ...) raises
  ``OSError``; the runner counts it and goes on with the next file.
- A problem with the connection or the root directory raises ``ConnectError``
  (while opening) or ``TransferError`` (later); the runner ends the try.
- A read error of the source data while a target writes it surfaces as
  ``SourceReadError`` (see `SourceReader`), so it is counted on the source side.

An endpoint that moves many files in one operation between itself and a local
directory (FASP: one ascp session) is a `BatchEndpoint`: the runner hands it the
whole pass and books the per-file outcomes it yields like its own.
"""

import abc
import errno
import re
from typing import BinaryIO, Callable, Iterator, NamedTuple

from filetransfer.config.record import Record, record
from filetransfer.errors import ConnectError

# Small enough to stay in the CPU's cache between the copy into it and the write
# out of it: 1 GiB downloaded over SFTP on 127.0.0.1 took 2.5-2.9 s of system time
# with 1 MiB (the kernel's copy into the page cache), 1.4-1.7 s with 128-512 KiB.
CHUNK_SIZE = 256 << 10

Progress = Callable[[int], None]


class FileEntry(NamedTuple):
    """A file found on the source: relative path, size in bytes, mtime (epoch s).

    ``identity`` holds what else tells this version of the file from another where
    the endpoint knows it (a local file: device, inode, mtime and ctime in ns,
    packed in bytes when they fit); it is only compared for equality.
    ``refused`` says why the entry must not be used (a listed name that cannot be
    one, see `listed_name_problem`); the runner counts such an entry as a source
    error, with that text, instead of transferring it. A ``directory`` entry is a
    directory the listing did not enter (a loop, see endpoints/remote.py): refused,
    and counted whatever the job's file patterns.

    A named tuple, not a frozen dataclass: a listing makes one per file, and this
    is made in a third of the time."""

    path: str
    size: int
    mtime: float | None = None
    refused: str | None = None
    identity: bytes | tuple | None = None
    directory: bool = False


def change_of(listed: FileEntry, now: 'FileEntry | None') -> str | None:
    """How the file ``listed`` differs from what a later look (``stat``) found, or
    None when it is the same file, unchanged. What one side does not know (a
    server that gives no mtime) is not compared."""
    if now is None:
        return 'it is gone'
    if now.size != listed.size:
        return f'its size changed from {listed.size} to {now.size} bytes'
    if None not in (listed.identity, now.identity) and listed.identity != now.identity:
        return 'it was modified or replaced'
    if None not in (listed.mtime, now.mtime) and listed.mtime != now.mtime:
        return 'its modification time changed'
    return None


class RootMissing(ConnectError):
    """The root directory does not exist, and the endpoint was told not to create it
    (``creates_root`` False: a target only looked at)."""


class SourceChanged(OSError):
    """The source file is not the one that was listed: modified or replaced since."""


class OffsetRefused(OSError):
    """The server refused to read or write a file from an offset (an FTP server that
    announces REST but refuses it for this transfer). Nothing was read or written:
    the file can still be transferred from its start."""


class OpenRefused(OSError):
    """The endpoint refused to open a file (to read it, or to write it: then
    nothing of it was written, and what has that name is not the run's to remove).
    Without an errno the server gave no reason (SFTP's plain failure): a server
    that limits the files a session holds open answers so when one more is asked
    for, and with fewer files at once it may open it."""


def open_refused(exc: OSError) -> OpenRefused:
    """``exc``, the refusal of an open, as an OpenRefused with its errno and words."""
    return OpenRefused(exc.errno, exc.strerror) if exc.errno else OpenRefused(*exc.args)


class SourceReadError(Exception):
    """Reading the source failed while the target was writing; wraps the OSError."""

    def __init__(self, error: OSError):
        super().__init__(str(error))
        self.error = error


class SourceReader:
    """Wraps a source file object so its read errors are told apart from write errors.

    With ``limit`` (the listed size of what is left to read), a source that gives
    more than that is a file that grew while being read: the read fails at once
    instead of going on for as long as the source gives data.

    With ``hashing``, the SHA-256 of every byte read is computed (`hexdigest`); the
    bytes must then pass through Python, so the reader has no ``fileno()`` (a
    kernel copy would not show them). Measured on a local disk, reading through
    Python once costs less than a kernel copy followed by a second read to hash."""

    def __init__(self, raw: BinaryIO, limit: int | None = None, hashing: bool = False):
        self.raw = raw
        self.limit = limit
        self.chunk_size = getattr(raw, 'chunk_size', CHUNK_SIZE)    # see chunk_buffer
        self.count = 0
        self._hash = None
        if hashing:
            import hashlib
            self._hash = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        try:
            data = self.raw.read(size)
        except OSError as exc:
            raise SourceReadError(exc) from exc
        self.got(len(data))
        if self._hash is not None:
            self._hash.update(data)
        return data

    def readinto(self, buffer) -> int:
        try:
            count = self.raw.readinto(buffer)
        except OSError as exc:
            raise SourceReadError(exc) from exc
        self.got(count)
        if self._hash is not None:
            self._hash.update(memoryview(buffer)[:count])
        return count

    def hexdigest(self) -> str | None:
        """The SHA-256 of the bytes read (with ``hashing``), else None."""
        return self._hash.hexdigest() if self._hash is not None else None

    def got(self, count: int) -> None:
        """Counts bytes read (also by a kernel copy from ``fileno()``)."""
        self.count += count
        if self.limit is not None and self.count > self.limit:
            raise SourceReadError(SourceChanged(
                errno.EFBIG, f'changed while being transferred (it grew past the '
                             f'{self.limit} bytes listed)'))

    def fileno(self) -> int:
        if self._hash is not None:
            raise OSError(errno.EBADF, 'the bytes are hashed: read them through Python')
        return self.raw.fileno()


def sha256_of(fh) -> str:
    """The SHA-256 (hex) of what ``fh`` (readinto()) gives until its end."""
    import hashlib

    digest = hashlib.sha256()
    buffer = bytearray(CHUNK_SIZE)
    view = memoryview(buffer)
    while count := fh.readinto(buffer):
        digest.update(view[:count])
    return digest.hexdigest()


def chunk_buffer(reader) -> bytearray:
    """A buffer to copy what ``reader`` gives through: CHUNK_SIZE, or the reader's
    own ``chunk_size`` when it has one (a share of a session's memory), or less for
    a SourceReader with less left (its limit, and a byte more to see a file that
    grew): many small files in flight at once then hold little memory."""
    size = min(CHUNK_SIZE, getattr(reader, 'chunk_size', CHUNK_SIZE))
    limit = getattr(reader, 'limit', None)
    return bytearray(size if limit is None else max(1, min(size, limit + 1)))


def copy_stream(reader, writer, progress: Progress | None = None) -> int:
    """Copies ``reader`` to ``writer`` (a file, maybe unbuffered: a call may write
    part of what it is given) in chunks; returns the number of bytes."""
    buffer = chunk_buffer(reader)
    view = memoryview(buffer)
    total = 0
    readinto = getattr(reader, 'readinto', None)
    while True:
        if readinto is not None:
            count = readinto(buffer)
            data = view[:count]
        else:
            data = reader.read(CHUNK_SIZE)
            count = len(data)
        if not count:
            return total
        while data:
            data = data[writer.write(data):]
        total += count
        if progress:
            progress(count)


@record
class Capabilities(Record):
    """What an endpoint can do beyond the core, for the runner to read in one place.
    An endpoint may know some only once it is open (an FTP server's FEAT)."""

    resume: bool = False       # open_read and write take an offset (resume.py)
    cheap_stat: bool = False   # stat() needs no round trip: a file is checked against its
                               # listing right after it is read, not only before its delete
    batch: bool = False        # a BatchEndpoint: moves a whole pass in one operation
    mtimes: bool = False       # walk() and stat() give modification times
    set_mtime: bool = False    # set_mtime() (a batch endpoint: the batch, Batch.keep_mtimes):
                               # a written file can keep its source's mtime
    checksum: bool = False     # checksum(): the server computes a stored file's SHA-256
                               # (else it is read back to be hashed)
    shared: bool = False       # shared(): more files at once over the same connection,
                               # no new login
    stats_at_once: bool = False  # stat_many() looks at many files in a few round trips
    turns: bool = False        # in_turns(): the files sharing the connection may run as
                               # tasks taking turns in one thread (no thread per file)


class Endpoint(abc.ABC):
    """One side of a transfer (``spec``, a config.EndpointSpec); ``role`` is 'source'
    or 'target'. The core every endpoint has: open and close, list, look at one
    file, rename, remove."""

    capabilities = Capabilities()
    creates_root = True    # False: open() makes no directory (RootMissing instead)
    round_trip = None      # seconds a request to the server took at set-up, if measured
    open_files_most = None  # files the session may hold open at once, where the server says

    def __init__(self, spec):
        self.spec = spec
        self.role = spec.role

    def in_temp_dir(self, relpath: str) -> bool:
        """Whether ``relpath`` is a name in the job's own temp directory (``temp =
        dir:DIR``), which may lie outside the target directory."""
        temp = getattr(self.spec.options, 'temp', None) if self.role == 'target' else None
        return temp is not None and temp.holds(relpath)

    # -- life cycle -----------------------------------------------------------
    @abc.abstractmethod
    def open(self) -> None:
        """Connects and checks the root directory (a target creates it, unless
        ``creates_root`` is False: then a missing one raises RootMissing).

        Raises ConnectError."""

    @abc.abstractmethod
    def close(self) -> None:
        """Releases the connection; never raises."""

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc_info):
        self.close()

    # -- files ----------------------------------------------------------------
    @abc.abstractmethod
    def walk(self, descend: Callable[[str], bool]) -> Iterator[FileEntry]:
        """Yields the regular files of the root; enters a sub-directory only when
        ``descend(relative_dir)`` is true."""

    @abc.abstractmethod
    def stat(self, relpath: str) -> FileEntry | None:
        """A regular file as a listing would give it (symbolic links followed as the
        listing follows them); None when there is no such file."""

    def stat_many(self, relpaths: list[str]) -> dict:
        """`stat` of each of ``relpaths``, by path: a FileEntry, None, or the OSError
        that looking at it raised (one file's problem). Raises TransferError (a lost
        connection)."""
        found = {}
        for relpath in relpaths:
            try:
                found[relpath] = self.stat(relpath)
            except OSError as exc:
                found[relpath] = exc
        return found

    @abc.abstractmethod
    def rename(self, relpath: str, new_relpath: str) -> None:
        """Renames a file, replacing ``new_relpath`` if it exists and creating its
        parent directories."""

    @abc.abstractmethod
    def remove(self, relpath: str) -> None:
        """Deletes a file."""

    def sync(self, relpath: str) -> None:
        """Makes the name of a file written ``durable`` (and renamed) survive a
        crash of this machine (fsync of its directory), where the endpoint can;
        OSError when it fails. A server keeps its names as it keeps them."""

    def relative_dir(self, folder: str) -> str | None:
        """The directory ``folder`` of this side (from the configuration: relative to
        the root, or absolute) as a path relative to the (open) root when it is
        inside it, '' for the root itself; None when it is elsewhere."""
        raise NotImplementedError

    def in_turns(self, tasks: list[Callable[[], None]]) -> None:
        """Runs the callables ``tasks``, each copying files over this endpoint or
        one it `shared()`, as tasks taking turns in the calling thread: one that
        waits for the server lets the others go on (``capabilities.turns``). A
        task must catch what it raises."""
        raise NotImplementedError

    def move_into(self, relpath: str, folder: str, new_relpath: str) -> None:
        """Moves the file ``relpath`` to ``new_relpath`` below the directory ``folder``
        (as for `relative_dir`) by a rename on this side, creating the missing
        directories. Never replaces a file: raises FileExistsError, and moves
        nothing, when ``new_relpath`` exists there."""
        raise OSError(errno.EOPNOTSUPP, f'{type(self).__name__} cannot move files')


class StreamEndpoint(Endpoint):
    """An endpoint that reads and writes single files (local, FTP, SFTP).

    ``made_dirs`` holds the directories (relative paths) that its write() and
    rename() made while it was open: the runner removes those below a temp directory
    once they are empty (`remove_dir`), and no others."""

    def __init__(self, spec):
        super().__init__(spec)
        self.made_dirs: set[str] = set()

    def shared(self) -> 'StreamEndpoint':
        """With ``capabilities.shared``: another open endpoint on this one's
        connection, for another thread to move other files at the same time (its
        own ``made_dirs``; closing it leaves the connection open, for this one
        to close once the others are done)."""
        raise NotImplementedError

    @abc.abstractmethod
    def open_read(self, relpath: str, offset: int = 0,
                  expected: FileEntry | None = None) -> BinaryIO:
        """Opens a file for reading (a context manager with read() and readinto()),
        from byte ``offset`` on (OffsetRefused when the server will not). With a
        ``fileno()``, the descriptor's position is the position of the next byte read.

        With ``expected`` (its listing), an endpoint that can tell the opened file
        from another raises SourceChanged when it is not that file, unchanged."""

    @abc.abstractmethod
    def write(self, relpath: str, reader, progress: Progress | None = None, *,
              offset: int = 0, keep_partial: bool = False, exclusive: bool = False,
              durable: bool = False, opening=None) -> int:
        """Writes a file from ``reader`` (read()/readinto(); maybe fileno()),
        creating missing parent directories and replacing an existing file, or,
        ``exclusive``, raising FileExistsError (and leaving it alone) when there is
        one. Returns the number of bytes written. A server's file of another size
        than what was sent (a server losing data without a word) is an OSError.
        ``durable``: its data is on disk before this returns (fsync), where the
        endpoint can ask for that.

        With ``offset``, the first ``offset`` bytes of the existing file are kept
        and the reader's data is written after them; a server that will not do that
        raises OffsetRefused, the file left as it was. A write that fails removes
        what it wrote; with ``keep_partial`` only a failure of the target itself
        (an OSError) does, while an interruption or a lost connection leaves the
        partial file for a later write to continue.

        ``opening`` (a callable) is called just before the endpoint asks to open
        the file, which may create or truncate it. Until then nothing of that name
        was touched, and an interruption (or a failure) removes nothing."""

    @abc.abstractmethod
    def remove_dir(self, relpath: str) -> None:
        """Removes the empty directory ``relpath``; OSError when it is not empty or
        cannot be removed."""

    def set_mtime(self, relpath: str, mtime: float) -> None:
        """Sets the modification time of a file (where ``capabilities.set_mtime``)."""
        raise OSError(errno.EOPNOTSUPP, 'cannot set modification times')

    def checksum(self, relpath: str) -> str | None:
        """The SHA-256 (hex) of a stored file as the server computes it (where
        ``capabilities.checksum``); None when the server turns out not to (the
        caller then reads the file back, see `sha256_of`)."""
        return None


class FileOutcome(NamedTuple):
    """What a batch did with one file (path relative to the roots): transferred
    (``error`` None; ``checksum`` its verified SHA-256 with checksums), ``skipped``
    (the target has it already), or failed with ``error`` on ``side`` ('source' or
    'target')."""

    path: str
    size: int = 0
    seconds: float = 0.0
    error: str | None = None
    side: str = 'target'
    skipped: bool = False
    checksum: str | None = None


@record
class Batch(Record):
    """A whole pass handed to a `BatchEndpoint`.

    ``entries`` are the files chosen on a local source when the batch endpoint is the
    target, or those the runner chose from the batch endpoint's own listing when it
    is the source (a job that judges files by age or archives them); None when the
    source chooses the files itself by ``selection`` (a run.selection.Selection,
    which leaves out the ready file), without those in ``done`` (transferred by an
    earlier try). ``temp`` is the target's TempNames or
    None, ``delete`` whether the batch deletes each transferred source file itself
    (else the runner does what the job says). ``checksums``: each transferred file's
    SHA-256 is verified against the local copy (`FileOutcome.checksum`);
    ``keep_mtimes``: written files keep their source's modification time;
    ``replace``: the runner has judged the target's files already, the batch
    replaces them (else the batch endpoint's own policy decides). ``ledger`` (a
    run.ledger.Ledger) is told of each file that is being written (its journal, so
    that a killed run's partial files are removed by the next run; with remember,
    the record of files sent) and of the progress."""

    entries: list[FileEntry] | None
    selection: object
    ledger: object
    done: frozenset = frozenset()
    temp: object = None
    delete: bool = False
    checksums: bool = False
    keep_mtimes: bool = False
    replace: bool = False


class BatchEndpoint(Endpoint):
    """An endpoint that moves a whole pass between itself and a local directory in
    one operation instead of file by file."""

    capabilities = Capabilities(batch=True)

    @abc.abstractmethod
    def transfer_batch(self, local: Endpoint, batch: Batch) -> Iterator[FileOutcome]:
        """Transfers the batch between ``local`` and this endpoint, yielding each
        file's outcome as soon as it is known. When the operation as a whole fails it
        raises ConnectError or TransferError, after the outcomes known by then; an
        interruption (SIGTERM, Ctrl-C) stops it, leaving no partial file behind."""


def unsafe_path_reason(relpath: str) -> str | None:
    """Why a relative path coming from a listing must not be used, or None.

    Names from a server are untrusted: they must stay below the root directory.
    """
    if not relpath:
        return 'empty name'
    if '\0' in relpath:
        return 'NUL in name'
    if relpath.startswith('/') or '\\' in relpath:
        return 'absolute path or backslash in name'
    if _EMPTY_OR_DOTS.search(relpath):
        return "'.', '..' or empty component in path"
    return None


def refuse_unsafe(relpath: str, error: type = OSError) -> None:
    """Raises ``error`` (an OSError class) when a relative path would leave the root
    (see `unsafe_path_reason`): every endpoint checks the paths it is given."""
    problem = unsafe_path_reason(relpath)
    if problem:
        raise error(errno.EINVAL, f'refused name: {problem}')


def listed_name_problem(name: str) -> str | None:
    """Why one name of a directory listing cannot be a file or directory of the
    tree, or None. '.' and '..' are reported too: callers skip them quietly when a
    server lists them as directories."""
    if name in ('', '.', '..'):
        return f'{name!r} is not a file name'
    if '/' in name or '\\' in name:
        return 'path separator in a file name'
    found = _SHOWN_ESCAPED.search(name)     # one search for the two below
    if found and _CONTROL.search(name):
        return 'control character in a file name'
    if found:
        return 'the name is not UTF-8'
    return None


# C0 and C1 control characters and DEL (line breaks, NUL, escapes ...): the Unicode
# category Cc, a set of code points that Unicode never changes
_CONTROL = re.compile(r'[\x00-\x1f\x7f-\x9f]')
# those, or the bytes of a listed name that is not UTF-8 (decoded with
# 'surrogateescape')
_SHOWN_ESCAPED = re.compile(r'[\x00-\x1f\x7f-\x9f\udc80-\udcff]')
# a component '', '.' or '..' of a relative path
_EMPTY_OR_DOTS = re.compile(r'(?:^|/)\.{0,2}(?:/|$)')


def shown_name(name: str) -> str:
    """A listed name as logs can show it (control characters escaped)."""
    return _SHOWN_ESCAPED.sub(lambda found: repr(found[0])[1:-1], name)
