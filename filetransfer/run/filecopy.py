"""One file's way from the source to its place on the target, between two open
stream endpoints:

1. the source is opened (checked against its listing where the endpoint can tell),
   and the file is written under its temp name (its final name without ``temp``):
   created exclusively unless the journal says the job left that file there, or
   continued from it (``resume``);
2. it is checked: its size is the listed size, and a source whose stat() is cheap is
   looked at again (modified or replaced meanwhile: a source error, the copy removed);
3. it is renamed to its final name; with ``delete`` the target's copy is checked and
   the source deleted, only if it is still the file that was sent.

Each failure is booked on its side in the ledger and the copy goes on with the next
file. After a failure nothing the run wrote is left behind; an interruption
(SIGTERM, Ctrl-C) leaves nothing either, except that with resume an interrupted or
cut-off file keeps its temp file for the next try or run. Once the data is
complete, a SIGTERM waits until the file is in place, its source deleted and both
booked (signals.deferred), or the next run would send it again.
"""

import errno
import logging
import time

from filetransfer.endpoints.base import (FileEntry, OffsetRefused, SourceReader,
                                         SourceReadError, change_of, unsafe_path_reason)
from filetransfer.errors import error_text
from filetransfer import signals
from filetransfer.run import resume as _resume
from filetransfer.run.ledger import Ledger

log = logging.getLogger(__name__)


class _FileFailed(Exception):
    """One file failed; ``side`` tells on which: 'source' or 'target'."""

    def __init__(self, side: str, text: str):
        super().__init__(text)
        self.side, self.text = side, text


class FileCopy:
    """Copies single files from ``source`` to ``target`` (open StreamEndpoints),
    booking each in ``ledger``. ``temp`` is the target's TempNames or None;
    ``refused`` maps paths to why the pass refuses them (a temp name clash)."""

    def __init__(self, source, target, ledger: Ledger, *, temp=None, resume: bool = False,
                 delete: bool = False, refused: dict | None = None):
        self.source, self.target, self.ledger = source, target, ledger
        self.temp = temp
        self.delete = delete
        self.resuming = resume and _resume.possible(source, target)
        self.refused = refused or {}

    def written_as(self, path: str) -> str:
        return self.temp.temp_path(path) if self.temp else path

    def copy(self, entry: FileEntry, watch=None) -> None:
        """Transfers one file and books its outcome. ``watch`` is called with each
        chunk's size while it is written (it may raise to abandon the file)."""
        path = entry.path
        problem = entry.refused or self._name_problem(path) or self.refused.get(path)
        if problem:
            return self.ledger.failed(path, 'source', problem)
        started = time.monotonic()
        self.ledger.file_start(entry)
        try:
            size = self._write(entry, watch)
            with signals.deferred():
                try:
                    self._commit(entry, size)
                except _FileFailed as failure:
                    self.ledger.failed(path, failure.side, failure.text)
                else:
                    self.ledger.transferred(path, size, time.monotonic() - started)
        except _FileFailed as failure:
            self.ledger.failed(path, failure.side, failure.text)
        finally:
            self.ledger.file_end(entry)

    @staticmethod
    def _name_problem(path: str) -> str | None:
        unsafe = unsafe_path_reason(path)
        return f'refused name: {unsafe}' if unsafe else None

    def _progress(self, watch):
        """What the target calls with each chunk's size."""
        if watch is None:
            return self.ledger.advance

        def advance(count):
            watch(count)
            self.ledger.advance(count)
        return advance

    def _write(self, entry: FileEntry, watch) -> int:
        """Writes one file, complete, under its temp name; returns its size."""
        source, target, path = self.source, self.target, entry.path
        written_as = self.written_as(path)
        # A file under the temp name that this job did not leave there is somebody
        # else's: it is never replaced (exclusive), nor continued.
        ours = self.ledger.ours(written_as)
        try:
            if self.resuming and ours:
                raw, offset = _resume.open_source(source, target, entry, written_as)
            else:
                raw, offset = source.open_read(path, expected=entry), 0
        except OSError as exc:
            raise _FileFailed('source', error_text(exc)) from None
        # After a failure the endpoint has already removed what it started writing;
        # once write() returned, the file is ours and any failure removes it. The
        # journal keeps the name until the file is in place or surely gone.
        self.ledger.writing(written_as)
        progress = self._progress(watch)
        exclusive = self.temp is not None and not ours
        try:
            try:
                size = self._send(raw, entry, offset, progress, exclusive)
            except OffsetRefused:
                # The target cannot continue its temp file (a server that announces
                # REST and refuses it): the whole file, now.
                progress(-offset)     # the bytes counted as kept are sent again
                try:
                    raw = source.open_read(path, expected=entry)
                except OSError as exc:
                    raise _FileFailed('source', error_text(exc)) from None
                size = self._send(raw, entry, 0, progress, exclusive)
            if size != entry.size:
                raise _FileFailed('source', f'changed while being transferred '
                                            f'(listed {entry.size} bytes, read {size})')
            if source.capabilities.cheap_stat:
                self._check_unchanged(entry, 'changed while being transferred')
            return size
        except FileExistsError:
            self.ledger.finished(written_as)     # not ours: left as it is
            raise _FileFailed('target', (
                f'{written_as} exists on the target, and this job did not write it: it '
                'is left alone (remove it if an earlier run left it behind, or choose '
                'another temp)')) from None
        except SourceReadError as exc:
            self._discard(written_as, missing_ok=True)
            raise _FileFailed('source', error_text(exc.error)) from None
        except OSError as exc:
            self._discard(written_as, missing_ok=True)
            raise _FileFailed('target', error_text(exc)) from None
        except _FileFailed:
            self._discard(written_as)
            raise
        except BaseException:
            if not self.resuming:
                self._discard(written_as, missing_ok=True)
            raise

    def _send(self, raw, entry: FileEntry, offset: int, progress, exclusive: bool) -> int:
        """Writes the source file ``raw``, read from ``offset``, after the first
        ``offset`` bytes of its temp file; returns the size of the file."""
        with raw:
            if offset:
                progress(offset)
            return offset + self.target.write(
                self.written_as(entry.path), SourceReader(raw, limit=entry.size - offset),
                progress, offset=offset, keep_partial=self.resuming, exclusive=exclusive)

    def _check_unchanged(self, entry: FileEntry, what: str) -> None:
        """Raises _FileFailed (a source error) when the source file is no longer the
        one listed: modified (even to the same size) or replaced."""
        try:
            change = change_of(entry, self.source.stat(entry.path))
        except OSError as exc:
            change = f'cannot look at it again: {error_text(exc)}'
        if change:
            raise _FileFailed('source', f'{what} ({change})')

    def _commit(self, entry: FileEntry, size: int) -> None:
        """Puts a complete file in place under its final name, then deletes its
        source when the job says so."""
        path = entry.path
        written_as = self.written_as(path)
        try:
            if written_as != path:
                self.target.rename(written_as, path)
        except OSError as exc:
            self._discard(written_as)
            raise _FileFailed('target', error_text(exc)) from None
        except BaseException:
            if not self.resuming:     # with resume it is complete there
                self._discard(written_as, missing_ok=True)
            raise
        self.ledger.finished(written_as)
        self.ledger.in_place(path)
        if self.delete:
            self._delete_source(entry, size)

    def _delete_source(self, entry: FileEntry, size: int) -> None:
        """Deletes a transferred source file once its copy is complete in place, and
        only if it is still the file that was sent."""
        path = entry.path
        try:
            found = self.target.stat(path)
            target_size = found.size if found else None
        except OSError as exc:
            target_size = error_text(exc)
        if target_size != size:
            raise _FileFailed('target', f'transferred, but the target copy has '
                                        f'{target_size} bytes, not {size}; source not deleted')
        self._check_unchanged(entry, 'transferred, but the source was not deleted: it '
                                     'changed while being transferred')
        try:
            self.source.remove(path)
        except OSError as exc:
            raise _FileFailed('source', 'transferred, but the source was not deleted: '
                                        f'{error_text(exc)}') from None

    def _discard(self, written_as: str, missing_ok: bool = False) -> None:
        """Removes a file the run wrote; once it is gone, the journal forgets it."""
        if discard(self.target, written_as, missing_ok):
            self.ledger.finished(written_as)


def discard(target, relpath: str, missing_ok: bool = False) -> bool:
    """Removes a file the run wrote from ``target``; whether it is gone."""
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


def _missing(target, relpath: str) -> bool:
    """Whether a file is surely not on the target (a failed remove may mean that)."""
    try:
        return target.stat(relpath) is None
    except Exception:   # OSError, or the connection is gone (TransferError)
        return False
