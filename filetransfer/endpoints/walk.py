"""The recursive listing of a directory tree on a server (FTP, SFTP).

A server's tree need not be a tree: a directory can hold itself or one of its
parents (a symbolic link the server lists as a directory, a bind mount, a server
that lies), and a walk that follows it never ends. So a directory is not entered
when the server shows it to be one of the directories it is inside (`Listed.stamp`,
compared by the endpoint's ``same_directory``): a source error at its path. A
loop the server does not reveal looks like an endless tree: no directory below
MAX_DEPTH levels is entered, nor any after the first MAX_DIRECTORIES; each limit
is one source error, at the first path it stops. The files found are transferred.
"""

import logging
from typing import Callable, Iterator, NamedTuple

from filetransfer.endpoints.base import FileEntry, listed_name_problem, shown_name

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
