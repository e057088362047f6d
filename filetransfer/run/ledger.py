"""The ledger of a run: it books every file, whatever moved it (one file at a time,
several connections at once, a FASP batch), in one place.

- outcomes: the counts and records of the JobResult, and a log line per file;
- the files in place: the ``done`` set that later tries of the run skip;
- the journal (run/journal.py): the files being written on the target, so that a
  killed run's partial files are removed by the next run;
- the record of the files sent (run/sentfiles.py, ``[source] remember``): a file
  is recorded as pending before it is put in place, and as sent when it is booked
  as transferred;
- the progress display (a ProgressObserver).

Workers of several connections and the listener thread of a FASP session book at
the same time: every method is thread-safe.
"""

import datetime
import logging
import threading

from filetransfer.endpoints.base import FileEntry
from filetransfer.outcome import FileRecord, FileTags, JobResult

log = logging.getLogger(__name__)

SIDES = {'source': FileTags.SRCERR, 'target': FileTags.TGTERR}


class ProgressObserver:
    """Told about the progress of a run (for a progress display); does nothing
    itself. ``start`` gets the selected files, ``advance`` byte counts."""

    def start(self, entries: list[FileEntry]) -> None:
        pass

    def file_start(self, entry: FileEntry) -> None:
        pass

    def advance(self, count: int) -> None:
        pass

    def file_end(self, entry: FileEntry) -> None:
        pass


class Ledger:
    """The books of one try of a run. ``done`` holds the paths put in place by earlier
    tries (shared between them); ``journal`` records this run's files being written
    on the target named ``target_key``."""

    def __init__(self, result: JobResult, journal, target_key: str, *,
                 progress: ProgressObserver | None = None, done: set | None = None,
                 sent=None):
        self.result = result
        self.journal = journal
        self.target_key = target_key
        self.progress = progress or ProgressObserver()
        self.done = done if done is not None else set()
        self.sent = sent          # a sentfiles.SentFiles with remember, else None
        self._lock = threading.RLock()

    # -- outcomes ---------------------------------------------------------------
    def transferred(self, path: str, size: int, seconds: float,
                    checksum: str | None = None) -> None:
        """A file in place on the target (its source deleted or archived when the
        job says so); ``checksum`` its SHA-256 when it was verified by one."""
        with self._lock:
            if self.sent is not None:
                self.sent.confirm(path)
            self.result.files_cnt += 1
            self.result.bytes_cnt += size
            if self.result.file_list is not None:
                self.result.file_list.append(FileRecord(
                    path, datetime.timedelta(seconds=seconds), FileTags.TRANSF, checksum))
        fields = {'file': path, 'size': size, 'seconds': round(seconds, 6)}
        if checksum:
            fields['sha256'] = checksum
        log.info('transferred %s (%d bytes in %.2f s%s%s)', path, size, seconds,
                 _rate(size, seconds), f', sha256 {checksum}' if checksum else '',
                 extra=fields)

    def placing(self, entry: FileEntry, written_as: str, checksum: str | None) -> None:
        """The complete file ``entry`` is about to be put in place (renamed from
        ``written_as``; in a batch: the batch begins to write it): with remember, it
        is recorded as pending (see sentfiles.py)."""
        if self.sent is not None:
            with self._lock:
                self.sent.pending(entry, written_as, checksum)

    def not_sent(self, path: str) -> None:
        """A file recorded as pending did not arrive (a batch failed it, or it was
        left unfinished): with remember, its record is dropped, so that it is sent
        again."""
        if self.sent is None:
            return
        with self._lock:
            try:
                record = self.sent.get(path)
                if record is not None and record.pending is not None:
                    self.sent.drop(path)
            except OSError as exc:
                log.warning('cannot write to the record of files sent: %s', exc)

    def skipped(self, path: str, why: str, level: int = logging.INFO) -> None:
        """A file not sent because the target has it (or had it: remember); logged
        at ``level``."""
        with self._lock:
            self.result.skipped_cnt += 1
            self.done.add(path)
            if self.result.file_list is not None:
                self.result.file_list.append(FileRecord(path, why, FileTags.SKIPPED))
        if log.isEnabledFor(level):
            log.log(level, 'skipped %s: %s', path, why, extra={'file': path, 'skipped': why})

    def failed(self, path: str, side: str, text: str) -> None:
        """A file that failed on its ``side`` ('source' or 'target')."""
        with self._lock:
            if side == 'source':
                self.result.src_error_cnt += 1
            else:
                self.result.tgt_error_cnt += 1
            if self.result.file_list is not None:
                self.result.file_list.append(FileRecord(path, text, SIDES[side]))
        log.error('%s error: %s: %s', side, path, text,
                  extra={'file': path, 'side': side, 'error': text})

    def in_place(self, path: str) -> None:
        """The file is in place on the target: later tries do not send it again."""
        with self._lock:
            self.done.add(path)

    # -- the journal ------------------------------------------------------------
    def writing(self, written_as: str) -> None:
        """``written_as`` (relative to the target's root) is about to be written."""
        with self._lock:
            self.journal.writing(self.target_key, written_as)

    def finished(self, written_as: str) -> None:
        """``written_as`` no longer holds an unfinished file: in place, or removed."""
        with self._lock:
            self.journal.finished(self.target_key, written_as)

    def ours(self, written_as: str) -> bool:
        """Whether ``written_as`` may hold an unfinished file this job left there."""
        with self._lock:
            return self.journal.knows(self.target_key, written_as)

    # -- progress -----------------------------------------------------------------
    def start(self, entries: list[FileEntry]) -> None:
        with self._lock:
            self.progress.start(entries)

    def file_start(self, entry: FileEntry) -> None:
        with self._lock:
            self.progress.file_start(entry)

    def advance(self, count: int) -> None:
        with self._lock:
            self.progress.advance(count)

    def file_end(self, entry: FileEntry) -> None:
        with self._lock:
            self.progress.file_end(entry)


def _rate(size: int, seconds: float) -> str:
    if seconds < 0.5:   # too short for a meaningful rate
        return ''
    return f', {size / seconds / 1e6:.1f} MB/s'
