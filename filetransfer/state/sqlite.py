"""The run history in an SQLite file (``LOCKS_DIR/state.sqlite3``, owner-only),
for the runs of one host.

SQLite's default rollback journal with full synchronous writes: a row is on disk
once its statement returns, a crash leaves the last committed state, and the file
works on any local file system (WAL would need shared memory). Runs of different
jobs write at the same time; a writer waits for another's lock up to BUSY_TIMEOUT.
Times are stored as seconds since the epoch (UTC), so they compare whatever the
host's time zone.
"""

import os

from filetransfer.privatedirs import make_private_dirs
from filetransfer.state import history
from filetransfer.state.history import StateError, RunRecord

BUSY_TIMEOUT = 30.0    # seconds a writer waits for another's lock
VERSION = 1            # of the tables (PRAGMA user_version)

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started REAL NOT NULL,
        ended REAL,
        exit_code INTEGER,
        status TEXT,
        files_cnt INTEGER,
        src_error_cnt INTEGER,
        tgt_error_cnt INTEGER,
        bytes INTEGER,
        error TEXT,
        result TEXT
    )""",
    'CREATE INDEX IF NOT EXISTS runs_job_started ON runs (job_id, started)',
    f'PRAGMA user_version = {VERSION}',
)


class SqliteHistory:
    """The history in the SQLite file ``path``; ``create``: made (with its
    directory) when missing, else a missing file is an empty history. Every method
    raises StateError when the file cannot be used."""

    def __init__(self, path: str, create: bool = True):
        self.path = path
        self.create = create
        self._db = None

    def _connect(self):
        if self._db is not None:
            return self._db
        import sqlite3

        try:
            if self.create:
                make_private_dirs(os.path.dirname(self.path) or '.')
                os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
            elif not os.path.exists(self.path):
                return None
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
            if db.execute('PRAGMA user_version').fetchone()[0] < VERSION:
                with db:     # one transaction: a run that comes at the same time waits
                    db.execute('BEGIN IMMEDIATE')
                    for statement in SCHEMA:
                        db.execute(statement)
        except OSError as exc:
            raise StateError(f'cannot open {self.path}: {exc.strerror or exc}') from None
        except sqlite3.Error as exc:
            raise StateError(f'cannot open {self.path}: {exc}') from None
        self._db = db
        return db

    def _run(self, sql: str, values=()):
        import sqlite3

        try:
            db = self._connect()
            return None if db is None else db.execute(sql, values)
        except sqlite3.Error as exc:
            raise StateError(f'{self.path}: {exc}') from None

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- a run ---------------------------------------------------------------
    def begin(self, job_id: str, started) -> int:
        """Stores the start of a run; returns its id."""
        values = _stored(history.start_values(job_id, started))
        return self._run(f'INSERT INTO runs ({", ".join(values)}) VALUES '
                         f'({", ".join("?" * len(values))})', list(values.values())).lastrowid

    def end(self, run_id: int, report) -> None:
        """Completes the row of the run ``run_id`` with its ``report``."""
        values = _stored(history.end_values(report))
        self._run(f'UPDATE runs SET {", ".join(f"{name} = ?" for name in values)} '
                  'WHERE id = ?', [*values.values(), run_id])

    def add(self, job_id: str, started, report) -> None:
        """Stores a whole run at once (one that ended before it was begun)."""
        values = _stored({**history.start_values(job_id, started),
                          **history.end_values(report)})
        self._run(f'INSERT INTO runs ({", ".join(values)}) VALUES '
                  f'({", ".join("?" * len(values))})', list(values.values()))

    # -- reading -------------------------------------------------------------
    def runs(self, job_id: str | None = None, last: int | None = None) -> list[RunRecord]:
        """The runs (of ``job_id``, or of all jobs), the ``last`` ones, oldest first."""
        where, values = ('WHERE job_id = ?', [job_id]) if job_id else ('', [])
        limit = f'LIMIT {int(last)}' if last else ''
        cursor = self._run(f'SELECT {", ".join(history.COLUMNS)} FROM runs {where} '
                           f'ORDER BY id DESC {limit}', values)
        rows = [] if cursor is None else cursor.fetchall()
        return [_record(row) for row in reversed(rows)]

    def prune(self, days: float) -> int:
        """Deletes the runs that started more than ``days`` days ago; their number."""
        cursor = self._run('DELETE FROM runs WHERE started < ?',
                           [history.cutoff(days).timestamp()])
        return 0 if cursor is None else cursor.rowcount


def _stored(values: dict) -> dict:
    return {name: value.timestamp() if hasattr(value, 'timestamp') else value
            for name, value in values.items()}


def _record(row) -> RunRecord:
    import datetime

    values = dict(zip(history.COLUMNS, row))
    for name in ('started', 'ended'):
        if values[name] is not None:
            values[name] = datetime.datetime.fromtimestamp(values[name], datetime.timezone.utc)
    return history.record_of(values)
