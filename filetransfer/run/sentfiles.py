"""`[source] remember`: the record of the files a job has sent (relative path,
size, modification time, SHA-256 when known), so that an unchanged file is not
sent again, even when the target no longer has it; a file whose size or
modification time changed is sent again.

The runner speaks to the record through `SentFiles`; `SqliteSentFiles` keeps it
in ``LOCKS_DIR/JOBID.sent.sqlite`` (SQLite, owner-only). Another store (a shared
database) only has to implement the same few methods.

A SIGKILL at any moment must neither lose the record of a file that arrived nor
record one that did not. So a file is recorded in two steps around the moment it
arrives (FileCopy, through the ledger):

1. ``pending``: once its data is complete (and verified) under the name it was
   written as, before the rename into place;
2. ``confirm``: when the ledger books it as transferred.

A record still pending when a run starts belongs to a run that ended between the
two steps: `settle_pending` looks at the target before anything else is done
there. A file written under a temp name arrived if the temp file is gone and the
file is there with the recorded size; a file written under its final name arrived
if it is there with that size and the journal (run/journal.py) does not count it
as unfinished (such a file is removed by the clean-up that follows). Otherwise
the record is dropped, and the file is sent again.
"""

import abc
import logging
import os
import threading
import time
from typing import Iterable, NamedTuple

from filetransfer.endpoints.base import FileEntry
from filetransfer.errors import error_text
from filetransfer.privatedirs import make_private_dirs

log = logging.getLogger(__name__)

SUFFIX = '.sent.sqlite'


class SentFile(NamedTuple):
    """One file of the record. ``pending`` is the name it was written as while it is
    not known to have arrived (see the module doc), else None."""

    path: str
    size: int
    mtime: float | None
    checksum: str | None
    sent: float                  # when it was recorded (seconds since the epoch)
    pending: str | None = None

    def matches(self, entry: FileEntry) -> bool:
        """Whether ``entry`` (a file of the source) is the file recorded, unchanged:
        same size and, where both are known, the same modification time."""
        return self.pending is None and self.size == entry.size and (
            None in (self.mtime, entry.mtime) or self.mtime == entry.mtime)


class SentFiles(abc.ABC):
    """The record of one job. Thread-safe; a failure to write is logged, never
    raised (the file is then sent again by a later run, never lost)."""

    @abc.abstractmethod
    def get(self, path: str) -> SentFile | None:
        """The record of ``path``, or None."""

    def get_many(self, paths: list[str]) -> dict[str, SentFile]:
        """The records of those of ``paths`` that have one, by path."""
        return {path: record for path in paths if (record := self.get(path)) is not None}

    def unchanged(self, entries: list[FileEntry]) -> set[str]:
        """The paths of those of ``entries`` recorded as sent, unchanged (`SentFile.matches`)."""
        records = self.get_many([entry.path for entry in entries])
        return {entry.path for entry in entries
                if (record := records.get(entry.path)) is not None and record.matches(entry)}

    @abc.abstractmethod
    def pending(self, entry: FileEntry, written_as: str, checksum: str | None) -> None:
        """``entry`` is complete on the target as ``written_as`` and about to be put
        in place (step 1)."""

    @abc.abstractmethod
    def confirm(self, path: str) -> None:
        """The pending file ``path`` is in place (step 2)."""

    @abc.abstractmethod
    def drop(self, path: str) -> bool:
        """Forgets ``path`` (it is sent again); whether there was a record."""

    @abc.abstractmethod
    def drop_all(self) -> int:
        """Forgets every file; how many there were."""

    @abc.abstractmethod
    def records(self, pending_only: bool = False) -> list[SentFile]:
        """Every record (or only those pending), by path."""

    def close(self) -> None:
        """Releases the store."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def settle_pending(sent: SentFiles, target, unfinished: Iterable[str]) -> None:
    """Confirms or drops the records left pending by an ended run (see the module
    doc), looking at the open ``target``; ``unfinished`` holds the target's paths
    the journal counts as unfinished. Raises TransferError (a lost connection)."""
    unfinished = set(unfinished)
    for record in sent.records(pending_only=True):
        try:
            arrived = _arrived(record, target, unfinished)
        except OSError as exc:
            log.warning('cannot tell whether %s arrived (%s): it is sent again',
                        record.path, error_text(exc))
            arrived = False
        if arrived:
            sent.confirm(record.path)
            log.info('%s arrived in a run that ended before recording it: recorded as sent',
                     record.path)
        else:
            sent.drop(record.path)
            log.debug('%s did not arrive in an earlier run: not recorded', record.path)


def _arrived(record: SentFile, target, unfinished: set) -> bool:
    if record.pending != record.path:
        if target.stat(record.pending) is not None:
            return False            # never renamed into place
    elif record.path in unfinished:
        return False                # the clean-up removes it
    found = target.stat(record.path)
    return found is not None and found.size == record.size


def path_of(locks_dir: str, job_id: str) -> str:
    return os.path.join(locks_dir, job_id + SUFFIX)


def open_sent_files(locks_dir: str, job_id: str, *, create: bool = True) -> 'SqliteSentFiles':
    """The record of the job ``job_id`` in ``locks_dir``. Without ``create``, a job
    that has none gets an empty record that writes nothing. Raises OSError when
    the file cannot be created or opened."""
    return SqliteSentFiles(path_of(locks_dir, job_id), create=create)


class SqliteSentFiles(SentFiles):
    """The record in an SQLite file: one row per file. Each step is its own
    transaction (write-ahead log: a SIGKILL loses no step that returned)."""

    def __init__(self, path: str, *, create: bool = True):
        import sqlite3

        self.path = path
        self._lock = threading.Lock()
        self._db = None
        if not create and not os.path.exists(path):
            return
        if create:
            make_private_dirs(os.path.dirname(path) or '.')
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
        try:
            self._db = sqlite3.connect(path, timeout=30, isolation_level=None,
                                       check_same_thread=False)
            self._db.execute('PRAGMA journal_mode=WAL')
            self._db.execute('PRAGMA synchronous=NORMAL')
            self._db.execute('CREATE TABLE IF NOT EXISTS sent (path TEXT PRIMARY KEY, '
                             'size INTEGER NOT NULL, mtime REAL, checksum TEXT, '
                             'sent REAL NOT NULL, pending TEXT)')
        except sqlite3.Error as exc:
            self.close()
            raise OSError(f'{path}: {exc}') from None

    def get(self, path: str) -> SentFile | None:
        row = self._query('SELECT path, size, mtime, checksum, sent, pending FROM sent '
                          'WHERE path = ?', (path,))
        return SentFile(*row[0]) if row else None

    def get_many(self, paths: list[str]) -> dict[str, SentFile]:
        found = {}
        for start in range(0, len(paths), 500):     # SQLite takes 999 values at least
            chunk = paths[start:start + 500]
            found.update((row[0], SentFile(*row)) for row in self._query(
                'SELECT path, size, mtime, checksum, sent, pending FROM sent WHERE path IN '
                f'({", ".join("?" * len(chunk))})', tuple(chunk)))
        return found

    def unchanged(self, entries: list[FileEntry]) -> set[str]:
        # the rows compared as they come: no SentFile made for each
        found = set()
        for start in range(0, len(entries), 500):
            chunk = {entry.path: entry for entry in entries[start:start + 500]}
            for path, size, mtime in self._query(
                    'SELECT path, size, mtime FROM sent WHERE pending IS NULL AND path IN '
                    f'({", ".join("?" * len(chunk))})', tuple(chunk)):
                entry = chunk[path]
                if size == entry.size and (mtime is None or entry.mtime is None
                                           or mtime == entry.mtime):
                    found.add(path)
        return found

    def records(self, pending_only: bool = False) -> list[SentFile]:
        where = ' WHERE pending IS NOT NULL' if pending_only else ''
        return [SentFile(*row) for row in self._query(
            f'SELECT path, size, mtime, checksum, sent, pending FROM sent{where} ORDER BY path')]

    def pending(self, entry: FileEntry, written_as: str, checksum: str | None) -> None:
        self._change('INSERT OR REPLACE INTO sent VALUES (?, ?, ?, ?, ?, ?)',
                     (entry.path, entry.size, entry.mtime, checksum, time.time(), written_as))

    def confirm(self, path: str) -> None:
        self._change('UPDATE sent SET pending = NULL WHERE path = ?', (path,))

    def drop(self, path: str) -> bool:
        return bool(self._change('DELETE FROM sent WHERE path = ?', (path,), quiet=False))

    def drop_all(self) -> int:
        return self._change('DELETE FROM sent', (), quiet=False)

    def close(self) -> None:
        with self._lock:
            db, self._db = self._db, None
        if db is not None:
            db.close()

    def _query(self, sql: str, values: tuple = ()) -> list[tuple]:
        import sqlite3

        with self._lock:
            if self._db is None:
                return []
            try:
                return self._db.execute(sql, values).fetchall()
            except sqlite3.Error as exc:
                raise OSError(f'{self.path}: {exc}') from None

    def _change(self, sql: str, values: tuple, quiet: bool = True) -> int:
        """Runs one change in a transaction of its own; the rows changed. A failure
        is logged (``quiet``) or raised as OSError."""
        import sqlite3

        with self._lock:
            if self._db is None:
                return 0
            try:
                return self._db.execute(sql, values).rowcount
            except sqlite3.Error as exc:
                if not quiet:
                    raise OSError(f'{self.path}: {exc}') from None
                log.warning('cannot write to the record of files sent %s: %s', self.path, exc)
                return 0
