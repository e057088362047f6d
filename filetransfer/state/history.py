"""The run history: a row per run of a job, stored when the run starts (after its
source was found ready) and completed when it ends, so a run that was killed shows
as unfinished. Runs that found nothing to do (not ready, another instance running)
are not stored.

The stores (state/sqlite.py, state/postgres.py) share these rows and their values.
"""

import datetime
import json
import os

from filetransfer.config.record import Record, record
from filetransfer.errors import ConfigError, Error

SQLITE_NAME = 'state.sqlite3'
UNFINISHED = 'unfinished'     # the status of a run whose end was never stored
COLUMNS = ('id', 'job_id', 'host', 'pid', 'started', 'ended', 'exit_code', 'status',
           'files_cnt', 'src_error_cnt', 'tgt_error_cnt', 'bytes', 'error', 'result')


class StateError(Error):
    """The state database cannot be read or written (exit code 2)."""


@record
class RunRecord(Record):
    """One run as the history holds it. ``ended`` is None (and ``status``
    'unfinished') for a run that is still going on, or was killed."""

    id: int
    job_id: str
    host: str
    pid: int
    started: datetime.datetime
    ended: datetime.datetime | None
    exit_code: int | None
    status: str
    files_cnt: int | None
    src_error_cnt: int | None
    tgt_error_cnt: int | None
    bytes: int | None
    error: str | None
    result: dict | None     # the run's JSON result (outcome.JobReport.as_dict())

    def as_dict(self) -> dict:
        data = {name: getattr(self, name) for name in COLUMNS}
        for name in ('started', 'ended'):
            if data[name] is not None:
                data[name] = data[name].isoformat(timespec='milliseconds')
        return data


def start_values(job_id: str, started: datetime.datetime) -> dict:
    """The values of a run's row when it starts."""
    return {'job_id': job_id, 'host': os.uname().nodename, 'pid': os.getpid(),
            'started': aware(started)}


def end_values(report) -> dict:
    """The values a run's end adds to its row (``report``: an outcome.JobReport)."""
    result = report.result
    return {'ended': aware(report.ended), 'exit_code': int(report.exit_code),
            'status': report.status, 'files_cnt': result.files_cnt,
            'src_error_cnt': result.src_error_cnt, 'tgt_error_cnt': result.tgt_error_cnt,
            'bytes': None,    # the result has no byte count
            'error': None if report.error is None else str(report.error),
            'result': json.dumps(report.as_dict())}


def record_of(row: dict) -> RunRecord:
    """A RunRecord from a row's values (timestamps as aware datetimes, the result
    as JSON text or already parsed)."""
    values = dict(row)
    values['started'] = local(values['started'])
    values['ended'] = local(values['ended'])
    if values['ended'] is None:
        values['status'] = UNFINISHED
    if isinstance(values['result'], str):
        values['result'] = json.loads(values['result'])
    return RunRecord(**values)


def aware(moment: datetime.datetime) -> datetime.datetime:
    """A moment with its UTC offset (the run's times are naive local times)."""
    return moment if moment.tzinfo else moment.astimezone()


def local(moment):
    return None if moment is None else moment.astimezone()


def cutoff(days: float) -> datetime.datetime:
    """The moment ``days`` ago; runs started before it are pruned."""
    return datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days)


def open_history(app, application_name: str = 'filetransfer'):
    """The history of the configuration ``app`` for reading and pruning: a store
    with ``runs(job_id, last)`` and ``prune(days)``. Raises ConfigError when there
    is none (neither locks_dir nor state_db), ConnectError when PostgreSQL cannot be
    reached."""
    settings = app.global_
    if settings.state_db:
        from filetransfer.state import postgres
        return postgres.Database.connect(app, application_name)
    if settings.locks_dir:
        from filetransfer.state.sqlite import SqliteHistory
        return SqliteHistory(os.path.join(settings.locks_dir, SQLITE_NAME), create=False)
    raise ConfigError(f'{app.path}: [global]: no run history is kept: set locks_dir (an '
                      'SQLite file there) or state_db (PostgreSQL)')
