"""What a run keeps outside itself: its single-instance lock, its record of files
being written (run/journal.py) and its row in the run history, each in the place
the configuration gives (see filetransfer/state/):

- ``state_db`` (PostgreSQL): all three in the database, on the run's session. A
  session that is lost stops the run as a SIGTERM would (every promise of a
  terminated run holds) and the run fails with StateLost (exit code 2).
- ``locks_dir`` only: the lock and the record are files there, the history an
  SQLite file; a history that cannot be written is a warning.
- neither: no lock, a record in memory, no history.

Nothing here loads a database driver before the run knows it has work (its lock
aside, which it must take first).
"""

import contextlib
import logging
import os
import threading

from filetransfer.errors import ConfigError, Error, SingleInstanceError, Terminated
from filetransfer import signals
from filetransfer.run.journal import Journal

log = logging.getLogger(__name__)


class RunState:
    """The state of one run of ``job_id`` that started at ``started``."""

    def __init__(self, app, job_id: str, started):
        settings = app.global_
        self.app = app
        self.job_id = job_id
        self.started = started
        self.shared = settings.state_db is not None      # PostgreSQL
        self.locks_dir = settings.locks_dir or None
        self.journal = Journal(None if self.shared else self.locks_dir, job_id)
        self.lost = None            # the StateLost that stopped the run
        self._db = None             # the run's PostgreSQL session
        self._watcher = None
        self._unreachable = False   # connecting failed: not tried again for the history
        self._history = None        # the SQLite history
        self._run_id = None
        self._in_main = threading.current_thread() is threading.main_thread()
        self._losing = threading.Lock()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    @property
    def can_lock(self) -> bool:
        """Whether the configuration has a place for locks."""
        return self.shared or self.locks_dir is not None

    # -- the lock --------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, name: str):
        """Holds the single-instance lock ``name`` for the block. Raises
        SingleInstanceError, ConfigError, ConnectError, StateError."""
        if not self.shared:
            with _file_lock(self.app, self.locks_dir, name):
                yield
            return
        db = self._session()
        if not db.try_lock(name):
            raise SingleInstanceError(f'lock {name!r} is held by another running instance')
        try:
            yield
        finally:
            with contextlib.suppress(Error):    # a lost session released it already
                db.unlock(name)

    # -- the run ---------------------------------------------------------------
    def begin(self) -> None:
        """The run starts (its source is ready): stores its row in the history and
        opens its record of files being written; once. With PostgreSQL the run
        cannot go on without them: raises ConfigError, ConnectError, StateError,
        StateLost."""
        if self.shared:
            if self._run_id is None:
                from filetransfer.state.postgres import WritingTable

                db = self._session()
                with signals.deferred():    # a stored row whose id is lost stays unfinished
                    self._run_id = db.begin(self.job_id, self.started)
                self.journal.store = WritingTable(db, self.job_id, self._run_id, self._lose)
        elif self.locks_dir and self._history is None:
            self._history = self._sqlite()
            try:
                with signals.deferred():
                    self._run_id = self._history.begin(self.job_id, self.started)
            except Error as exc:
                log.warning('cannot store the run in the run history: %s', exc)
        self.journal.open()

    def record(self, report) -> None:
        """Stores the end of the run (the whole run when it ended before `begin`);
        a failure is logged."""
        try:
            if self.shared:
                if self.lost is not None or self._unreachable:
                    return      # its row stays unfinished
                store = self._session()
            elif self.locks_dir:
                store = self._history = self._history or self._sqlite()
            else:
                return
            if self._run_id is not None:
                store.end(self._run_id, report)
            else:
                store.add(self.job_id, self.started, report)
        except Error as exc:
            log.warning('cannot store the run in the run history: %s', exc)

    def stopped_by(self, error: BaseException) -> BaseException:
        """What ended the run: the loss of the session when that is why it was
        terminated, else ``error``."""
        if self.lost is not None and isinstance(error, Terminated):
            return self.lost
        return error

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._history is not None:
            self._history.close()
            self._history = None

    # -- helpers ---------------------------------------------------------------
    def _session(self):
        if self._db is None:
            from filetransfer.state.postgres import Database, Watcher

            try:
                db = Database.connect(self.app, f'filetransfer {self.job_id}')
            except Error:         # ConfigError, ConnectError, StateError
                self._unreachable = True
                raise
            db.guard = signals.deferred     # a query is never cut in half by a SIGTERM
            self._db = db
            self._watcher = Watcher(db, self._lose)
        return self._db

    def _sqlite(self):
        from filetransfer.state.history import SQLITE_NAME
        from filetransfer.state.sqlite import SqliteHistory

        return SqliteHistory(os.path.join(self.locks_dir, SQLITE_NAME))

    def _lose(self, problem: str):
        """The session is lost (or a write failed): the run must stop. Returns the
        StateLost to raise; from another thread, the main thread is stopped as on
        SIGTERM."""
        from filetransfer.state.postgres import StateLost

        with self._losing:
            first = self.lost is None
            if first:
                self.lost = StateLost(f'{problem}; the run stopped as on SIGTERM: its lock '
                                      'and its record of files being written are no longer '
                                      'held')
        if first:
            log.error('%s', self.lost)
            if self._in_main and threading.current_thread() is not threading.main_thread():
                signals.stop_main_thread()
        return self.lost


@contextlib.contextmanager
def _file_lock(app, locks_dir: str, name: str):
    """The lock file in locks_dir; a locks_dir that cannot hold it is a
    configuration problem. Raises SingleInstanceError, ConfigError."""
    from filetransfer.run.locks import single_instance

    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(single_instance(locks_dir, name))
        except OSError as exc:
            raise ConfigError(f'{app.path}: [global] locks_dir: cannot lock {name!r} '
                              f'in {locks_dir}: {exc.strerror or exc}') from None
        yield
