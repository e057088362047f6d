"""What runs keep beyond themselves, in a database: the run history and, with
PostgreSQL, the locks and the record of files being written that several hosts
share.

- ``[global] state_db`` unset: an SQLite file in ``locks_dir`` (sqlite.py) holds the
  history; the locks and the record stay files in ``locks_dir`` (run/locks.py,
  run/journal.py), as they need no more than one host.
- ``state_db = postgresql://...``: PostgreSQL (postgres.py) holds all three; a run's
  lock is a session-level advisory lock, so it ends with the run's connection.
- Neither ``locks_dir`` nor ``state_db``: no state at all, and no history.

The modules load their driver (sqlite3, psycopg) only when they are used, so a run
that finds nothing to do never loads one.
"""
