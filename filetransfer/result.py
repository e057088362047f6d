"""The outcome of a transfer: counts and, when collected, the per-file list."""

import enum
from dataclasses import dataclass


class FileTags(enum.Enum):
    """Tag of an entry in `JobResult.file_list`; str() gives the tag character."""

    TRANSF = '='
    SRCERR = '>'
    TGTERR = '<'

    def __str__(self):
        return self.value


@dataclass
class JobResult:
    """Counts of a transfer.

    ``file_list`` holds ``(path, info, tag)`` tuples when data collection is on
    (``info`` is a ``datetime.timedelta`` for a transferred file, else the error
    text), and is ``None`` otherwise.
    """

    files_cnt: int = 0
    src_error_cnt: int = 0
    tgt_error_cnt: int = 0
    file_list: list | None = None

    @property
    def error_cnt(self) -> int:
        return self.src_error_cnt + self.tgt_error_cnt

    def __str__(self):
        return (f'{self.files_cnt} file(s) transferred, '
                f'{self.src_error_cnt} source error(s), '
                f'{self.tgt_error_cnt} target error(s)')
