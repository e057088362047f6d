"""Copies the selected files of a source endpoint to a target endpoint, one file at
a time (or several at once, see `filetransfer.parallel`), counting each failure on
its side and going on with the next file."""

import contextlib
import datetime
import errno
import logging
import posixpath
import threading
import time

from filetransfer import endpoints
from filetransfer.run import resume, signals
from filetransfer.endpoints.base import (Batch, BatchEndpoint, FileEntry, FileOutcome,
                                         SourceReader, SourceReadError, change_of,
                                         unsafe_path_reason)
from filetransfer.config.model import EndpointSpec
from filetransfer.errors import NotReadyError
from filetransfer.run.journal import Journal
from filetransfer.outcome import FileRecord, FileTags, JobResult
from filetransfer.run.selection import Selection

log = logging.getLogger(__name__)


def error_text(exc: BaseException) -> str:
    """A one-line description of an error, without a Python type name for OS errors."""
    if isinstance(exc, SourceReadError):
        exc = exc.error
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


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


class _FileFailed(Exception):
    """One file failed; ``tag`` tells on which side."""

    def __init__(self, tag: FileTags, text: str):
        super().__init__(text)
        self.tag, self.text = tag, text


def _discard(target, relpath, missing_ok=False) -> bool:
    """Removes a file the run wrote; whether it is gone."""
    try:
        target.remove(relpath)
    except OSError as exc:
        if missing_ok and (exc.errno in (errno.ENOENT, errno.ENAMETOOLONG)
                           or _missing(target, relpath)):
            return True
        log.warning('could not remove %s from the target: %s', relpath, error_text(exc))
        return False
    except Exception as exc:  # the original failure matters more; keep a trace of this one
        # (after an interruption the endpoint has tried already, and said so)
        log.log(logging.DEBUG if missing_ok else logging.WARNING,
                'could not remove %s from the target: %s', relpath, error_text(exc))
        return False
    return True


def _missing(target, relpath) -> bool:
    """Whether a file is surely not on the target (a failed remove may mean that)."""
    try:
        return target.size(relpath) is None
    except Exception:   # OSError, or the connection is gone (TransferError)
        return False


def _rate(size: int, seconds: float) -> str:
    if seconds < 0.5:   # too short for a meaningful rate
        return ''
    return f', {size / seconds / 1e6:.1f} MB/s'


class Copier:
    """One pass over the source. ``done`` holds paths transferred by earlier tries
    of the same job; they are skipped and new successes are added to it."""

    def __init__(self, source: EndpointSpec, target: EndpointSpec, *,
                 ready_file: str | None = None,
                 done: set | None = None, progress: 'ProgressObserver | None' = None,
                 journal=None):
        self.progress = progress
        # what this job may have left unfinished (in memory only without locks_dir)
        self.journal = journal if journal is not None else Journal(None, '')
        self.target_key = target.describe()
        self.source_spec = source
        self.target_spec = target
        self.temp = target.options.temp
        self.resume = resume.wanted(target)
        self.delete = source.options.delete
        # a path below the source (flags/READY); the file itself is left out only
        # when listed under the name as written, as in FileTransfer 0.11
        self.ready_file = posixpath.normpath(ready_file) if ready_file else None
        self.done = done if done is not None else set()
        self.connections = (target.options.connections or _connections(target.host)
                            or _connections(source.host) or 1)
        self._booking = threading.Lock()   # results, journal and progress, for workers
        self._clashes = {}                 # path -> why its temp name cannot be used
        self.selection = Selection(source.options.files, source.options.ignore,
                                   source.options.recursive,
                                   exclude_names=[ready_file] if ready_file else [])

    def run(self, result: JobResult, on_start=None) -> JobResult:
        """Transfers the files into ``result``; ``on_start`` is called once the
        source is open and ready. Raises NotReadyError, ConnectError, TransferError,
        ConfigError."""
        with contextlib.ExitStack() as stack:
            source = stack.enter_context(endpoints.create(self.source_spec))
            if self.ready_file and not source.exists(self.ready_file):
                raise NotReadyError(f'ready file {self.ready_file} not present')
            if on_start:
                on_start()
            target = stack.enter_context(endpoints.create(self.target_spec))
            if self.resume and not resume.possible(source, target):
                log.info('resume: %s cannot continue files at an offset; each file is '
                         'written from its start', source.role if not source.resumable
                         else target.role)
            if isinstance(source, BatchEndpoint) or isinstance(target, BatchEndpoint):
                self._run_batch(source, target, result)
            else:
                entries = list(self._selected(source))
                self._find_temp_clashes(entries)
                log.debug('%d file(s) selected', len(entries))
                if self.progress:
                    self.progress.start(entries)
                self._remove_leftovers(target, entries)
                workers = min(self.connections, len(entries))
                if workers > 1:
                    from filetransfer.run import parallel
                    log.debug('%d files at once', workers)
                    parallel.copy_files(self, source, target, entries, result, workers)
                else:
                    for entry in entries:
                        self.copy_one(source, target, entry, result)
            with signals.deferred():
                if self.ready_file and not result.error_cnt:
                    self._remove_ready_file(source, result)
            signals.settle()      # every file is dealt with: the outcome is decided
        return result

    def _run_batch(self, source, target, result):
        """The whole pass in one operation of the batch endpoint (FASP), its per-file
        outcomes booked like those of the per-file copy."""
        if isinstance(target, BatchEndpoint):
            remote, local = target, source
            entries = list(self._selected(source))
            self._find_temp_clashes(entries)
            for path, problem in self._clashes.items():
                self._failed(result, path, FileTags.SRCERR, problem)
            entries = [entry for entry in entries if entry.path not in self._clashes]
            log.debug('%d file(s) selected', len(entries))
        else:
            remote, local, entries = source, target, None
        if self.progress:
            self.progress.start(entries or [])
        batch = Batch(entries, self.selection, frozenset(self.done), self.temp, self.delete,
                      self.progress)
        # closing(): an interruption while booking stops the batch at once
        with contextlib.closing(remote.transfer_batch(local, batch)) as outcomes:
            for outcome in outcomes:
                self._book(result, outcome)

    def _book(self, result, outcome: FileOutcome):
        path = outcome.path
        if outcome.skipped:
            self.done.add(path)
            log.info('skipped %s: the target has it already', path)
        elif outcome.error is not None:
            tag = FileTags.SRCERR if outcome.side == 'source' else FileTags.TGTERR
            self._failed(result, path, tag, outcome.error)
        else:
            self.done.add(path)
            self._transferred(result, path, outcome.size, outcome.seconds)

    def _selected(self, source):
        seen = set()
        for entry in source.walk(self.selection.descend):
            if (entry.directory or self.selection.wants(entry.path)) \
                    and entry.path not in self.done:
                if entry.path in seen:    # a server's listing names a file twice
                    log.warning('%s is listed twice by the source; taken once', entry.path)
                    continue
                seen.add(entry.path)
                yield entry

    def _find_temp_clashes(self, entries: list[FileEntry]) -> None:
        """Notes the files whose temp name is the name of another selected file:
        writing one would replace that file on the target. They are refused."""
        if not self.temp:
            return
        finals = {entry.path for entry in entries}
        for entry in entries:
            written_as = self.temp.temp_path(entry.path)
            if written_as in finals:
                self._clashes[entry.path] = (
                    f'its temp name {written_as} is the name of another selected file '
                    '(choose another temp, or leave one of them out)')

    def plan(self) -> list[FileEntry]:
        """The files a run would transfer now, without writing anything (the target
        is not contacted). Raises NotReadyError, ConnectError, TransferError,
        ConfigError."""
        with endpoints.create(self.source_spec) as source:
            if self.ready_file and not source.exists(self.ready_file):
                raise NotReadyError(f'ready file {self.ready_file} not present')
            return list(self._selected(source))

    def has_work(self) -> bool:
        """Whether a run would do something: the ready file is present or, for a job
        without one, at least one file is selected. Raises ConnectError, TransferError."""
        with endpoints.create(self.source_spec) as source:
            if self.ready_file:
                return source.exists(self.ready_file)
            return any(True for _ in self._selected(source))

    def copy_one(self, source, target, entry, result, watch=None):
        """Transfers one file and books its outcome. ``watch`` is called with each
        chunk's size while it is written (it may raise to abandon the file)."""
        path = entry.path
        if entry.refused:
            return self._failed(result, path, FileTags.SRCERR, entry.refused)
        unsafe = unsafe_path_reason(path)
        if unsafe:
            return self._failed(result, path, FileTags.SRCERR, f'refused name: {unsafe}')
        if path in self._clashes:
            return self._failed(result, path, FileTags.SRCERR, self._clashes[path])
        started = time.monotonic()
        self._tell_progress('file_start', entry)
        try:
            size = self._write(source, target, entry, watch)
            # The data is complete: a SIGTERM now waits until the file is in place,
            # its source deleted and both booked, or the next run would send it again.
            with signals.deferred():
                try:
                    self._commit(source, target, entry, size)
                except _FileFailed as failure:
                    self._failed(result, path, failure.tag, failure.text)
                else:
                    self._transferred(result, path, size, time.monotonic() - started)
        except _FileFailed as failure:
            self._failed(result, path, failure.tag, failure.text)
        finally:
            self._tell_progress('file_end', entry)

    def _tell_progress(self, what: str, *args) -> None:
        if self.progress:
            with self._booking:
                getattr(self.progress, what)(*args)

    def _transferred(self, result, path, size, seconds):
        with self._booking:
            result.files_cnt += 1
            if result.file_list is not None:
                result.file_list.append(FileRecord(path, datetime.timedelta(seconds=seconds),
                                                   FileTags.TRANSF))
        log.info('transferred %s (%d bytes in %.2f s%s)', path, size, seconds,
                 _rate(size, seconds))

    def _progress_callback(self, watch):
        """What the target calls with each chunk's size, or None."""
        if not self.progress:
            return watch
        if watch is None:
            return self.progress.advance

        def advance(count):
            watch(count)
            self._tell_progress('advance', count)
        return advance

    def _written_as(self, path: str) -> str:
        return self.temp.temp_path(path) if self.temp else path

    def _write(self, source, target, entry, watch=None) -> int:
        """Writes one file, complete, under its temp name (or its final name without
        temp); returns its size."""
        path = entry.path
        written_as = self._written_as(path)
        # A file under the temp name that this job did not leave there is somebody
        # else's: it is never replaced (exclusive), nor continued.
        ours = self.journal.knows(self.target_key, written_as)
        resuming = self._resuming(source, target)
        try:
            if resuming and ours:
                raw, offset = resume.open_source(source, target, entry, written_as)
            else:
                raw, offset = source.open_read(path, expected=entry), 0
        except OSError as exc:
            raise _FileFailed(FileTags.SRCERR, error_text(exc)) from None
        # After a failure the endpoint has already removed what it started writing;
        # once write() returned, the file is ours and any failure removes it; an
        # interruption (SIGTERM, Ctrl-C) at any point leaves nothing behind either,
        # except that with resume an interruption or a lost connection keeps the
        # temp file for the next try. The journal keeps the name until the file is
        # in place or surely gone.
        self._journal('writing', written_as)
        progress = self._progress_callback(watch)
        try:
            with raw:
                if offset and progress:
                    progress(offset)
                size = offset + target.write(
                    written_as, SourceReader(raw, limit=entry.size - offset), progress,
                    offset=offset, keep_partial=resuming,
                    exclusive=self.temp is not None and not ours)
            if size != entry.size:
                raise _FileFailed(FileTags.SRCERR, f'changed while being transferred '
                                                   f'(listed {entry.size} bytes, read {size})')
            if source.stat_is_cheap:
                self._check_unchanged(source, entry, 'changed while being transferred')
            return size
        except FileExistsError:
            self._journal('finished', written_as)     # not ours: left as it is
            raise _FileFailed(FileTags.TGTERR, (
                f'{written_as} exists on the target, and this job did not write it: it '
                'is left alone (remove it if an earlier run left it behind, or choose '
                'another temp)')) from None
        except SourceReadError as exc:
            self._discard(target, written_as, missing_ok=True)
            raise _FileFailed(FileTags.SRCERR, error_text(exc)) from None
        except OSError as exc:
            self._discard(target, written_as, missing_ok=True)
            raise _FileFailed(FileTags.TGTERR, error_text(exc)) from None
        except _FileFailed:
            self._discard(target, written_as)
            raise
        except BaseException:
            if not resuming:
                self._discard(target, written_as, missing_ok=True)
            raise

    @staticmethod
    def _check_unchanged(source, entry: FileEntry, what: str) -> None:
        """Raises _FileFailed (a source error) when the source file is no longer the
        one listed: modified (even to the same size) or replaced."""
        try:
            change = change_of(entry, source.stat(entry.path))
        except OSError as exc:
            change = f'cannot look at it again: {error_text(exc)}'
        if change:
            raise _FileFailed(FileTags.SRCERR, f'{what} ({change})')

    def _commit(self, source, target, entry, size) -> None:
        """Puts a complete file in place under its final name, then deletes its
        source when the job says so."""
        path = entry.path
        written_as = self._written_as(path)
        try:
            if written_as != path:
                target.rename(written_as, path)
        except OSError as exc:
            self._discard(target, written_as)
            raise _FileFailed(FileTags.TGTERR, error_text(exc)) from None
        except BaseException:
            if not self._resuming(source, target):    # with resume it is complete there
                self._discard(target, written_as, missing_ok=True)
            raise
        self._journal('finished', written_as)
        self.done.add(path)
        if self.delete:
            self._delete_source(source, target, entry, size)

    def _resuming(self, source, target) -> bool:
        return self.resume and resume.possible(source, target)

    def _discard(self, target, written_as, missing_ok=False) -> None:
        if _discard(target, written_as, missing_ok):
            self._journal('finished', written_as)

    def _journal(self, what: str, written_as: str) -> None:
        with self._booking:
            getattr(self.journal, what)(self.target_key, written_as)

    def _remove_leftovers(self, target, entries) -> None:
        """Removes what killed runs or failed tries left unfinished on the target
        (see journal.py), except, with resume, the files this pass continues."""
        keep = {self._written_as(entry.path) for entry in entries} if self.resume else ()
        self.journal.clean_up(target, self.target_key, keep)

    def _delete_source(self, source, target, entry, size):
        """Deletes a transferred source file once its copy is complete in place, and
        only if it is still the file that was sent."""
        path = entry.path
        try:
            target_size = target.size(path)
        except OSError as exc:
            target_size = error_text(exc)
        if target_size != size:
            raise _FileFailed(FileTags.TGTERR, f'transferred, but the target copy has '
                                               f'{target_size} bytes, not {size}; '
                                               'source not deleted')
        self._check_unchanged(source, entry, 'transferred, but the source was not deleted: '
                                             'it changed while being transferred')
        try:
            source.remove(path)
        except OSError as exc:
            raise _FileFailed(FileTags.SRCERR, 'transferred, but the source was not '
                                               f'deleted: {error_text(exc)}') from None

    def _failed(self, result, path, tag, text):
        with self._booking:
            if tag is FileTags.SRCERR:
                result.src_error_cnt += 1
                side = 'source'
            else:
                result.tgt_error_cnt += 1
                side = 'target'
            if result.file_list is not None:
                result.file_list.append(FileRecord(path, text, tag))
        log.error('%s error: %s: %s', side, path, text)

    def _remove_ready_file(self, source, result):
        try:
            source.remove(self.ready_file)
        except OSError as exc:
            self._failed(result, self.ready_file, FileTags.SRCERR,
                         f'ready file not deleted: {error_text(exc)}')


def _connections(host) -> int | None:
    """How many files at once a host allows by its own settings (None for a local
    directory or a protocol that moves one file at a time)."""
    return host.connections if host is not None else None
