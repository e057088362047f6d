"""The outcome of a run: the counts and, when collected, the per-file list
(JobResult), and the report of a run for the end log line, the mail and --json
(JobReport)."""

import datetime
import enum
from dataclasses import dataclass
from typing import NamedTuple

from filetransfer.errors import status_of


class FileTags(enum.Enum):
    """Tag of an entry in `JobResult.file_list`; str() gives the tag character."""

    TRANSF = '='
    SRCERR = '>'
    TGTERR = '<'
    SKIPPED = '-'    # not sent: the target has it (see [target] overwrite); only jobs
                     # with overwrite, remember, delete or archive_dir produce it

    def __str__(self):
        return self.value


class _Fields(NamedTuple):
    path: str                             # relative to the source and target directories
    info: 'datetime.timedelta | str'      # the duration of its transfer, the error text,
                                          # or why it was skipped
    tag: FileTags


class FileRecord(_Fields):
    """One file of `JobResult.file_list`: a ``(path, info, tag)`` tuple. ``checksum``
    (not part of the tuple) is the SHA-256 (hex) of a file transferred with
    ``[target] verify = checksum``, else None."""

    def __new__(cls, path: str, info, tag: FileTags, checksum: str | None = None):
        record = super().__new__(cls, path, info, tag)
        record.checksum = checksum
        return record

    @property
    def transferred(self) -> bool:
        return self.tag is FileTags.TRANSF

    @property
    def skipped(self) -> bool:
        return self.tag is FileTags.SKIPPED


@dataclass
class JobResult:
    """Counts of a transfer.

    ``file_list`` holds a `FileRecord` per file (a ``(path, info, tag)`` tuple) when
    data collection is on, and is ``None`` otherwise. ``bytes_cnt`` adds up the sizes
    of the files transferred.
    """

    files_cnt: int = 0
    src_error_cnt: int = 0
    tgt_error_cnt: int = 0
    file_list: list | None = None
    bytes_cnt: int = 0        # the sizes of the files transferred, added up
    skipped_cnt: int = 0      # files not sent because the target has them (overwrite)

    @property
    def error_cnt(self) -> int:
        return self.src_error_cnt + self.tgt_error_cnt

    def __str__(self):
        skipped = f', {self.skipped_cnt} skipped' if self.skipped_cnt else ''
        return (f'{self.files_cnt} file(s) transferred{skipped}, '
                f'{self.src_error_cnt} source error(s), '
                f'{self.tgt_error_cnt} target error(s)')


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
    log_disabled: bool = False        # no log at all (not even on stderr)
    source_url: str | None = None     # the endpoints as URLs (mail templates)
    target_url: str | None = None

    @property
    def duration(self) -> datetime.timedelta:
        return self.ended - self.started

    @property
    def status(self) -> str:
        """success, errors, failure, config, terminated or other (errors.status_of)."""
        return status_of(self.exit_code, self.error)

    def as_dict(self) -> dict:
        """The report as the command's ``--json`` prints it."""
        result = self.result
        files = []
        for record in result.file_list or ():
            item = {'tag': str(record.tag), 'path': record.path}
            if record.transferred:
                item['duration'] = _seconds(record.info)
                if record.checksum:
                    item['sha256'] = record.checksum
            elif record.skipped:
                item['skipped'] = str(record.info)
            else:
                item['error'] = str(record.info)
            files.append(item)
        return {
            'job_id': self.job_id,
            'name': self.name,
            'status': self.status,
            'exit_code': int(self.exit_code),
            'error': None if self.error is None else str(self.error),
            'source': self.source,
            'target': self.target,
            'started': self.started.isoformat(timespec='milliseconds'),
            'ended': self.ended.isoformat(timespec='milliseconds'),
            'duration': _seconds(self.duration),
            'files_cnt': result.files_cnt,
            'src_error_cnt': result.src_error_cnt,
            'tgt_error_cnt': result.tgt_error_cnt,
            'bytes_cnt': result.bytes_cnt,
            'skipped_cnt': result.skipped_cnt,
            'files': files,
            'log_file': self.log_file,
        }


    def log_fields(self) -> dict:
        """The structured fields of the log line that ends the run."""
        result = self.result
        fields = {'exit_code': int(self.exit_code), 'status': self.status,
                  'seconds': _seconds(self.duration), 'files_cnt': result.files_cnt,
                  'bytes_cnt': result.bytes_cnt, 'src_error_cnt': result.src_error_cnt,
                  'tgt_error_cnt': result.tgt_error_cnt, 'skipped_cnt': result.skipped_cnt}
        if self.error is not None:
            fields['error'] = str(self.error) or type(self.error).__name__
        return fields


def _seconds(delta: datetime.timedelta) -> float:
    return round(delta.total_seconds(), 6)
