"""What FTP and SFTP endpoints share, apart from their protocol: the recursive
walk of a server's tree, mkdir -p, a rename that replaces in steps, and the removal
of a partial file over a new connection after an interruption.

The walk. A server's tree need not be a tree: a directory can hold itself or one of
its parents (a symbolic link the server lists as a directory, a bind mount, a server
that lies), and a walk that follows it never ends. So a directory is not entered
when the server shows it to be one of the directories it is inside (`Listed.stamp`,
compared by the endpoint's ``same_directory``): a source error at its path. A
loop the server does not reveal looks like an endless tree: no directory below
MAX_DEPTH levels is entered, nor any after the first MAX_DIRECTORIES; each limit
is one source error, at the first path it stops. The files found are transferred.
"""

import dataclasses
import errno
import logging
import os
import posixpath
import stat
import threading
import time
from typing import Callable, Iterator, NamedTuple

from filetransfer.endpoints.base import (CHUNK_SIZE, Endpoint, FileEntry, RootMissing,
                                         listed_name_problem, refuse_unsafe, shown_name)
from filetransfer.errors import ConnectError, TransferError, error_text

log = logging.getLogger(__name__)

MAX_DEPTH = 256
MAX_DIRECTORIES = 100_000


class Listed(NamedTuple):
    """One entry of a server's directory listing. ``kind`` is 'file', 'dir', 'link'
    (a symbolic link, see ``settle`` of `walk_tree`) or 'other'; ``size`` and
    ``mtime`` are None when the server does not say. ``stamp`` is what the server
    tells that may identify the object (FTP: the MLSD 'unique' fact), for the
    endpoint's ``same_directory``; None when it tells nothing."""

    name: str
    kind: str
    size: int | None = None
    mtime: float | None = None
    stamp: object = None


def kind_of(mode: int) -> str:
    """A Listed ``kind`` of a file mode (as stat gives it)."""
    return 'file' if stat.S_ISREG(mode) else 'dir' if stat.S_ISDIR(mode) \
        else 'link' if stat.S_ISLNK(mode) else 'other'


Place = tuple[str, Listed]       # a directory: its path relative to the root, its entry


def walk_tree(where: str, root: Listed, descend: Callable[[str], bool],
              list_dir: Callable[[str], list[Listed] | None],
              same_directory: Callable[[Place, Place], bool],
              settle: Callable[[str, Listed], Listed | None]) -> Iterator[FileEntry]:
    """Yields the regular files below the root, entering a sub-directory when
    ``descend(relative_dir)`` is true and the limits above allow it.

    ``list_dir(reldir)`` gives a directory's entries, or None (after a warning)
    when it cannot be listed; ``same_directory(one, other)`` whether the server
    shows two directories to be one; ``settle(relpath, entry)`` completes an entry
    before use (follows a link, looks up a missing size), None to skip it (after
    saying why). ``where`` names the server in logs."""
    walk = _Walk(where, descend, list_dir, same_directory, settle)
    yield from walk.directory([('', root)])


class _Walk:
    def __init__(self, where, descend, list_dir, same_directory, settle):
        self.where = where
        self.descend = descend
        self.list_dir = list_dir
        self.same_directory = same_directory
        self.settle = settle
        self.entered = 0
        self.reported = set()     # the limits reached

    def directory(self, places: list[Place]) -> Iterator[FileEntry]:
        """The files of the last of ``places`` (the directories from the root down)."""
        reldir = places[-1][0]
        entries = self.list_dir(reldir)
        for entry in sorted(entries or (), key=lambda item: item.name):
            relpath = f'{reldir}/{entry.name}' if reldir else entry.name
            if entry.kind == 'other':
                log.debug('%s: skipping %s: not a regular file', self.where,
                          shown_name(relpath))
                continue
            problem = listed_name_problem(entry.name)
            if problem:
                if entry.name in ('.', '..'):
                    continue
                shown = f'{reldir}/{shown_name(entry.name)}' if reldir \
                    else shown_name(entry.name)
                if entry.kind == 'dir':
                    log.warning('%s: not entering directory %r: %s', self.where, entry.name,
                                problem)
                else:
                    yield FileEntry(shown, entry.size or 0, entry.mtime,
                                    refused=f'refused name: {problem}')
                continue
            entry = self.settle(relpath, entry)
            if entry is None:
                continue
            if entry.kind == 'file':
                yield FileEntry(relpath, entry.size or 0, entry.mtime)
            elif entry.kind == 'dir' and self.descend(relpath):
                yield from self.enter(places, (relpath, entry))

    def enter(self, places: list[Place], place: Place) -> Iterator[FileEntry]:
        relpath = place[0]
        loop = self._loop(places, place)
        if loop:
            yield FileEntry(relpath, 0, refused=loop, directory=True)
            return
        limit = self._limit(places)
        if limit:
            # a hidden loop below a fork reaches a limit on every path: one error
            if limit not in self.reported:
                self.reported.add(limit)
                yield FileEntry(relpath, 0, refused=limit, directory=True)
            log.debug('%s: not entering %s: %s', self.where, relpath, limit)
            return
        self.entered += 1
        yield from self.directory([*places, place])

    def _loop(self, places: list[Place], place: Place) -> str | None:
        for outer in reversed(places):
            if self.same_directory(place, outer):
                name = f'the directory {outer[0]!r}' if outer[0] else 'the source directory'
                return f'directory loop: it is {name} again'
        return None

    def _limit(self, places: list[Place]) -> str | None:
        if len(places) > MAX_DEPTH:
            return (f'more than {MAX_DEPTH} levels deep (a directory loop?): not entered, '
                    'nor any other directory that deep')
        if self.entered >= MAX_DIRECTORIES:
            return (f'the listing stopped after {MAX_DIRECTORIES} directories (a directory '
                    'loop?): not entered, nor any other directory')
        return None


def open_root(endpoint, path: str, make_dirs: Callable[[str, bool], None],
              resolve: Callable[[str], str]) -> str:
    """Opens the root directory ``path`` of a server's ``endpoint`` (one with
    ``where``, ``role`` and ``_guard``): ``resolve`` returns the root as the server
    names it; a target's is made when missing (``make_dirs(path, absent)``, mkdir -p;
    ``absent``: a look found it missing). Raises ConnectError, or TransferError for a
    source directory that cannot be opened."""
    where, role = endpoint.where, endpoint.role
    try:
        if role == 'target' and endpoint.creates_root:
            # mostly it exists: one look finds it, and nothing is made
            absent = False
            try:
                with endpoint._guard():
                    return resolve(path)
            except OSError as exc:
                absent = exc.errno == errno.ENOENT
            try:
                with endpoint._guard():
                    make_dirs(path, absent)
            except OSError as exc:
                raise ConnectError(f'{where}: cannot create target directory {path}: '
                                   f'{error_text(exc)}') from None
        try:
            with endpoint._guard():
                return resolve(path)
        except OSError as exc:
            gone = exc.errno == errno.ENOENT
            what = 'does not exist' if gone else f'cannot be opened: {error_text(exc)}'
            missing = f'{where}: {role} directory {path} {what}'
            if gone and not endpoint.creates_root:
                raise RootMissing(missing) from None
    except TransferError as exc:
        raise ConnectError(str(exc)) from None
    # A source directory that cannot be opened is a TransferError, as for FileTransfer 0.11.
    raise (TransferError if role == 'source' else ConnectError)(missing)


def relative_dir(root: str, folder: str) -> str | None:
    """A server's directory ``folder`` (relative to the absolute ``root``, or
    absolute) as a path relative to ``root`` when it is inside it ('' for the root
    itself), else None (see Endpoint.relative_dir)."""
    path = posixpath.normpath(posixpath.join(root, folder))
    if path == root:
        return ''
    prefix = root.rstrip('/') + '/'
    return path[len(prefix):] if path.startswith(prefix) else None


def moved_path(root: str, folder: str, new_relpath: str, error: type) -> str:
    """Where Endpoint.move_into puts a file on a server: ``new_relpath`` (a name from
    a listing: checked) below ``folder`` (relative to ``root``, or absolute)."""
    refuse_unsafe(new_relpath, error)
    return posixpath.join(posixpath.normpath(posixpath.join(root, folder)), new_relpath)


def make_remote_dirs(path: str, known: set, is_dir: Callable[[str], bool],
                      mkdir: Callable[[str], None], refused: type,
                      made: Callable[[str], None] = lambda path: None,
                      absent: bool = False) -> None:
    """mkdir -p on a server. ``known`` holds the directories known to exist (and
    gets those made); ``mkdir`` raising ``refused`` is ignored when the directory
    exists after all (made by someone else meanwhile). ``made`` is told of each
    directory made here. ``absent``: ``path`` was just found missing (not looked at
    again)."""
    if not path or path in known:
        return
    if absent:
        try:
            mkdir(path)          # its parent mostly exists: one request instead of two
        except refused:
            pass                 # its parent first, then again
        else:
            made(path)
            known.add(path)
            return
    elif is_dir(path):
        known.add(path)
        return
    parent = posixpath.dirname(path.rstrip('/'))
    if parent and parent != path:
        make_remote_dirs(parent, known, is_dir, mkdir, refused, made)
    try:
        mkdir(path)
    except refused:
        if not is_dir(path):
            raise
    else:
        made(path)
    known.add(path)


def record_made(endpoint) -> Callable[[str], None]:
    """The ``made`` of `make_remote_dirs` for a StreamEndpoint: a directory below its
    root (as the server names them) goes into its ``made_dirs``, relative."""
    def made(path: str) -> None:
        top = (endpoint.root or '').rstrip('/') + '/'
        if endpoint.root and path.startswith(top) and path != top:
            endpoint.made_dirs.add(path[len(top):].rstrip('/'))
    return made


def replace_by_steps(rename: Callable[[str, str], None], remove: Callable[[str], None],
                     source: str, target: str) -> None:
    """Renames ``source`` over an existing ``target`` on a server that cannot do it
    in one step: the old file is moved aside first and put back if the rename
    fails, so neither file is ever lost."""
    aside = f'{target}.{os.getpid()}-{int(time.time() * 1000)}.old'
    rename(target, aside)
    try:
        rename(source, target)
    except BaseException:
        rename(aside, target)
        raise
    try:
        remove(aside)
    except OSError as exc:
        log.warning('could not remove the replaced file %s: %s', aside, error_text(exc))


def run_bounded(action: Callable[[], None], seconds: float) -> bool:
    """Runs ``action`` (which handles its own errors) in a thread of its own and
    waits for it ``seconds`` at most; returns whether it ended. For a clean-up after
    an interruption, which must not keep the process from ending: one that hangs
    is left behind, in a daemon thread."""
    thread = threading.Thread(target=action, name='clean-up', daemon=True)
    thread.start()
    thread.join(seconds)
    return not thread.is_alive()


def remove_after_interrupt(interrupted: Endpoint, relpath: str, seconds: float) -> None:
    """Removes the partial file ``relpath`` of the ``interrupted`` endpoint (a
    server's, with a ``where``) over a new connection of its own kind (the interrupted
    one may be out of step), given ``seconds`` in all. A file that is not there (not
    created yet) is no error."""
    spec, where = interrupted.spec, interrupted.where
    host = dataclasses.replace(spec.host, timeout=min(spec.host.timeout or seconds, seconds))
    fresh = type(interrupted)(dataclasses.replace(spec, host=host))

    def remove():
        try:
            with fresh:
                if fresh.stat(relpath) is not None:
                    fresh.remove(relpath)
        except (ConnectError, TransferError, OSError) as exc:
            log.warning('%s: could not remove partial file %s: %s', where, relpath,
                        error_text(exc))

    if not run_bounded(remove, seconds):
        log.warning(
            '%s: could not remove partial file %s: no answer within %d s', where, relpath,
            seconds)


class RemoteFile:
    """A file being read from a server: ``read()`` and the context manager, made
    of the subclass's ``readinto()`` and ``close()``."""

    def readinto(self, buffer) -> int:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            chunks = []
            while chunk := self.read(CHUNK_SIZE):
                chunks.append(chunk)
            return b''.join(chunks)
        buffer = bytearray(size)
        return bytes(buffer[:self.readinto(buffer)])

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
