"""What one run of a job produced, for the end log line, the mail and --json."""

import datetime
from dataclasses import dataclass

from .result import JobResult

EXIT_CODES = {0: 'success', 1: 'errors', 2: 'failure', 3: 'config', 5: 'terminated'}


def exit_code_of(error: BaseException | None, result: JobResult | None) -> int:
    """The exit code of the command for a run that ended with ``error`` (or not)."""
    if error is None:
        return 1 if result is not None and result.error_cnt else 0
    if isinstance(error, KeyboardInterrupt):
        return 5
    code = getattr(error, 'code', None)
    return code if isinstance(code, int) else 9


@dataclass
class JobReport:
    job_id: str
    name: str
    info: str | None
    source: str
    target: str
    started: datetime.datetime
    ended: datetime.datetime
    result: JobResult
    exit_code: int
    error: BaseException | None = None
    log_file: str | None = None

    @property
    def duration(self) -> datetime.timedelta:
        return self.ended - self.started

    @property
    def status(self) -> str:
        """success, errors, failure, config, terminated or other."""
        return EXIT_CODES.get(self.exit_code, 'other')
