"""The state database on PostgreSQL, shared by every host that runs the jobs: the
run history, the single-instance locks and the record of files being written.

A run holds one connection (its session) from its lock, or from its start, to its
end. On it:

- the job's lock is a session-level advisory lock (``pg_try_advisory_lock``) on a
  stable 64-bit hash of the lock name: exactly one session anywhere holds it, and
  the server releases it when the session ends, also when the run's process or
  host dies (TCP keepalives find a silent peer, see KEEPALIVES);
- the run's row in ``filetransfer_runs`` is claimed by a second advisory lock (on
  the row's id), so a run is alive exactly as long as its session;
- its record of files being written is its rows in ``filetransfer_writing``; a run
  takes over the rows of runs of the same job whose session has ended, wherever
  they ran (see run/journal.py).

A watcher thread notices at once when the session is lost (the server stopped, the
network cut) and tells the run, which then stops: its lock is no longer held, so
another host may start the job. psycopg (version 3) is imported only here.
"""

import contextlib
import logging
import select
import threading

from filetransfer.errors import ConfigError, ConnectError, TransferError
from filetransfer.secret import reveal
from filetransfer.state import history
from filetransfer.state.history import RunRecord, StateError

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10          # seconds
# A silent peer: the run gives its session up after at most about 40 s (a probe
# every PROBE_INTERVAL, unanswered for 30 s), the server ends it (and frees its
# locks) after 2 minutes; so a run cut off from the server has stopped before
# another host can take its lock.
PROBE_INTERVAL = 10.0         # seconds between two checks of a quiet session
KEEPALIVES = {'keepalives': 1, 'keepalives_idle': 10, 'keepalives_interval': 5,
              'keepalives_count': 3, 'tcp_user_timeout': 30000}
SERVER_SETTINGS = ('-c statement_timeout=60000 -c tcp_keepalives_idle=60 '
                   '-c tcp_keepalives_interval=10 -c tcp_keepalives_count=6 '
                   '-c tcp_user_timeout=120000')
QUIET_AFTER_TRAFFIC = 1.0     # seconds the watcher waits after the run's own queries
RUN_LOCKS = 0x66747275        # first key of the runs' two-key advisory locks

SCHEMA = '''
CREATE TABLE IF NOT EXISTS filetransfer_runs (
    id BIGSERIAL PRIMARY KEY,
    job_id TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started TIMESTAMPTZ NOT NULL,
    ended TIMESTAMPTZ,
    exit_code INTEGER,
    status TEXT,
    files_cnt INTEGER,
    src_error_cnt INTEGER,
    tgt_error_cnt INTEGER,
    bytes BIGINT,
    error TEXT,
    result JSONB
);
CREATE INDEX IF NOT EXISTS filetransfer_runs_job_started
    ON filetransfer_runs (job_id, started);
CREATE TABLE IF NOT EXISTS filetransfer_writing (
    job_id TEXT NOT NULL,
    run_id BIGINT NOT NULL,
    target TEXT NOT NULL,
    path TEXT NOT NULL,
    PRIMARY KEY (run_id, target, path)
);
CREATE INDEX IF NOT EXISTS filetransfer_writing_job ON filetransfer_writing (job_id);
'''


class StateLost(TransferError):
    """The run's session with the state database was lost (or a write failed): its
    lock and its record of files being written are no longer held, so it stops."""

    retryable = False


def lock_key(name: str) -> int:
    """The advisory lock key of the lock ``name``: a stable signed 64-bit hash."""
    import hashlib

    digest = hashlib.blake2b(f'filetransfer lock {name}'.encode(), digest_size=8).digest()
    return int.from_bytes(digest, 'big', signed=True)


def _driver(app):
    try:
        import psycopg
    except ImportError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f'{app.path}: [global] state_db: PostgreSQL needs the psycopg '
                          f'package (version 3): {first}; install it with: pip install '
                          '"filetransfer[postgres]"') from None
    return psycopg


class Database:
    """A connection to the state database. Every query raises StateError when it
    fails; ``guard`` (a context manager factory) wraps the queries of the run (the
    run layer keeps a SIGTERM from cutting one in half)."""

    def __init__(self, psycopg, conn, location, password: str | None):
        self._psycopg = psycopg
        self.conn = conn
        self.location = location
        self._password = password
        self.guard = contextlib.nullcontext

    @classmethod
    def connect(cls, app, application_name: str = 'filetransfer') -> 'Database':
        """Connects to ``app``'s state database and creates its tables when missing.
        Raises ConfigError (no psycopg), ConnectError (unreachable, refused),
        StateError (the tables cannot be made)."""
        psycopg = _driver(app)
        location = app.global_.state_db
        password = reveal(app.global_.state_db_password) or None
        extra = {'password': password} if password else {}
        try:
            conn = psycopg.connect(host=location.host, port=location.port,
                                   user=location.user, dbname=location.dbname,
                                   autocommit=True, connect_timeout=CONNECT_TIMEOUT,
                                   application_name=application_name[:63],
                                   options=SERVER_SETTINGS, **KEEPALIVES, **extra)
        except psycopg.Error as exc:
            raise ConnectError(f'state database {location}: cannot connect: '
                               f'{_text(exc, password)}') from None
        db = cls(psycopg, conn, location, password)
        try:
            db._make_tables()
        except StateError:
            db.close()
            raise
        return db

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()

    def query(self, sql: str, values=()):
        """Runs one statement; its cursor. Raises StateError."""
        with self.guard():
            try:
                return self.conn.execute(sql, values)
            except self._psycopg.Error as exc:
                raise StateError(f'state database {self.location}: '
                                 f'{_text(exc, self._password)}') from None

    @contextlib.contextmanager
    def transaction(self):
        """A block whose queries commit together. Raises StateError."""
        with self.guard():
            try:
                with self.conn.transaction():
                    yield
            except self._psycopg.Error as exc:
                raise StateError(f'state database {self.location}: '
                                 f'{_text(exc, self._password)}') from None

    def probe(self) -> str | None:
        """None when the session is alive, else what is wrong (for the watcher)."""
        try:
            self.conn.execute('SELECT 1')
        except self._psycopg.Error as exc:
            return _text(exc, self._password)
        return None

    def _make_tables(self) -> None:
        found = self.query("SELECT to_regclass('filetransfer_runs') IS NOT NULL AND "
                           "to_regclass('filetransfer_writing') IS NOT NULL").fetchone()[0]
        if not found:
            with self.transaction():    # one host creates them, the others wait
                self.query('SELECT pg_advisory_xact_lock(%s)', [lock_key('(tables)')])
                self.query(SCHEMA)

    # -- locks ---------------------------------------------------------------
    def try_lock(self, name: str) -> bool:
        """Takes the lock ``name`` for this session; False when another holds it."""
        return self.query('SELECT pg_try_advisory_lock(%s)', [lock_key(name)]).fetchone()[0]

    def unlock(self, name: str) -> None:
        self.query('SELECT pg_advisory_unlock(%s)', [lock_key(name)])

    # -- the history ---------------------------------------------------------
    def begin(self, job_id: str, started) -> int:
        """Stores the start of a run, claimed by this session; returns its id."""
        values = history.start_values(job_id, started)
        return self.query(f'INSERT INTO filetransfer_runs ({", ".join(values)}) VALUES '
                          f'({", ".join(["%s"] * len(values))}) RETURNING id, '
                          f'pg_try_advisory_lock({_run_lock("id")})',
                          list(values.values())).fetchone()[0]

    def end(self, run_id: int, report) -> None:
        values = history.end_values(report)
        self.query(f'UPDATE filetransfer_runs SET '
                   f'{", ".join(f"{name} = %s{_cast(name)}" for name in values)} '
                   'WHERE id = %s', [*values.values(), run_id])

    def add(self, job_id: str, started, report) -> None:
        values = {**history.start_values(job_id, started), **history.end_values(report)}
        self.query(f'INSERT INTO filetransfer_runs ({", ".join(values)}) VALUES '
                   f'({", ".join(f"%s{_cast(name)}" for name in values)})',
                   list(values.values()))

    def runs(self, job_id: str | None = None, last: int | None = None) -> list[RunRecord]:
        where, values = ('WHERE job_id = %s', [job_id]) if job_id else ('', [])
        limit = f'LIMIT {int(last)}' if last else ''
        rows = self.query(f'SELECT {", ".join(history.COLUMNS)} FROM filetransfer_runs '
                          f'{where} ORDER BY id DESC {limit}', values).fetchall()
        return [history.record_of(dict(zip(history.COLUMNS, row))) for row in reversed(rows)]

    def prune(self, days: float) -> int:
        return self.query('DELETE FROM filetransfer_runs WHERE started < %s',
                          [history.cutoff(days)]).rowcount


def _run_lock(run_id: str) -> str:
    """The arguments of the advisory lock of the run ``run_id`` (an SQL expression)."""
    return f'{RUN_LOCKS}, ({run_id} & 2147483647)::integer'


def _cast(name: str) -> str:
    return '::jsonb' if name == 'result' else ''


def _text(exc: BaseException, password: str | None) -> str:
    """An error of psycopg on one line, without the password (should it be there)."""
    text = ' '.join(line.strip() for line in str(exc).splitlines() if line.strip())
    text = text or type(exc).__name__
    return text.replace(password, '***') if password else text


class WritingTable:
    """The record of files being written of the run ``run_id`` of ``job_id``, for
    run/journal.py: its rows of ``filetransfer_writing``. ``lost`` turns a failure
    into the exception that stops the run (StateLost): an entry that cannot be
    written or removed must not be taken for done."""

    path = None

    def __init__(self, db: Database, job_id: str, run_id: int, lost):
        self.db = db
        self.job_id = job_id
        self.run_id = run_id
        self.lost = lost

    def open(self) -> list[tuple[str, str]]:
        """Takes over the entries of the job's ended runs (whose advisory lock is
        free: their session is gone); returns this run's entries."""
        try:
            others = self.db.query('SELECT DISTINCT run_id FROM filetransfer_writing '
                                   'WHERE job_id = %s AND run_id <> %s',
                                   [self.job_id, self.run_id]).fetchall()
            for (other,) in others:
                if self.db.query(f'SELECT pg_try_advisory_lock({_run_lock("%s")})',
                                 [other]).fetchone()[0]:
                    self._take_over(other)
            return [tuple(row) for row in self.db.query(
                'SELECT target, path FROM filetransfer_writing WHERE run_id = %s '
                'ORDER BY target, path', [self.run_id]).fetchall()]
        except StateError as exc:
            raise self.lost(str(exc)) from None

    def _take_over(self, other: int) -> None:
        with self.db.transaction():
            self.db.query('INSERT INTO filetransfer_writing (job_id, run_id, target, path) '
                          'SELECT job_id, %s, target, path FROM filetransfer_writing '
                          'WHERE run_id = %s ON CONFLICT DO NOTHING', [self.run_id, other])
            self.db.query('DELETE FROM filetransfer_writing WHERE run_id = %s', [other])
        self.db.query(f'SELECT pg_advisory_unlock({_run_lock("%s")})', [other])

    def add(self, target: str, path: str) -> None:
        self._change('INSERT INTO filetransfer_writing (job_id, run_id, target, path) '
                     'VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING',
                     [self.job_id, self.run_id, target, path])

    def remove(self, target: str, path: str) -> None:
        self._change('DELETE FROM filetransfer_writing WHERE run_id = %s AND target = %s '
                     'AND path = %s', [self.run_id, target, path])

    def close(self, empty: bool) -> None:
        """Nothing to do: what is left open stays for the next run, which takes it
        over once this run's session has ended."""

    def _change(self, sql: str, values: list) -> None:
        try:
            self.db.query(sql, values)
        except StateError:
            # A write the run cannot do without: whatever failed, the run goes on
            # without its record, which is what losing the session means.
            problem = self.db.probe() or 'the record of files being written failed'
            raise self.lost(f'state database {self.db.location}: session lost: '
                            f'{problem}') from None


class Watcher:
    """Watches a run's session from a thread of its own: ``on_lost(problem)`` is
    called once when the session is gone. The socket tells at once when the server
    closes it; a probe every PROBE_INTERVAL seconds finds the rest."""

    def __init__(self, db: Database, on_lost, interval: float = PROBE_INTERVAL):
        import os

        self.db = db
        self.on_lost = on_lost
        self.interval = interval
        self._stop = threading.Event()
        self._wake_read, self._wake_write = os.pipe()
        self._thread = threading.Thread(target=self._watch, name='state-db-watcher',
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        import os

        self._stop.set()
        os.write(self._wake_write, b'x')
        self._thread.join()
        os.close(self._wake_read)
        os.close(self._wake_write)

    def _watch(self) -> None:
        poller = select.poll()
        poller.register(self.db.conn.fileno(), select.POLLIN | select.POLLPRI)
        poller.register(self._wake_read, select.POLLIN)
        while True:
            events = poller.poll(self.interval * 1000)
            if self._stop.is_set():
                return
            problem = self.db.probe()
            if problem:
                self.on_lost(f'state database {self.db.location}: session lost: {problem}')
                return
            if events:     # most likely the replies to the run's own queries
                self._stop.wait(QUIET_AFTER_TRAFFIC)
