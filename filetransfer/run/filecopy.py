"""One file's way from the source to its place on the target, between two open
stream endpoints, and the one statement of the rules every file follows, whatever
path moves it (one connection, several, a pipelined session):

0. with ``overwrite`` other than ``always``, the target is looked at first: a file
   it has already is skipped by the rule of `overwrite_skip` (booked as skipped;
   its source deleted or archived only when the target's copy is verified
   identical: `same_on_target`);
1. the source is opened (checked against its listing where the endpoint can tell),
   and the file is written under its temp name (its final name without ``temp``):
   created exclusively unless the journal says the job left that file there, or
   continued from it (``resume``);
2. it is checked: its size is the listed size, a source whose stat() is cheap is
   looked at again (modified or replaced meanwhile: a source error, the copy
   removed), and with ``verify = checksum`` the SHA-256 of the bytes read from the
   source is compared with the stored file's (the server's hash, or the file read
   back): a difference is a target error, and the file never takes its final name.
   With ``overwrite`` = different or older it gets the source's modification time;
3. with ``remember`` it is recorded as pending (run/sentfiles.py), then renamed to
   its final name; with ``delete`` or ``archive_dir`` the target's copy is checked
   and the source deleted or moved into the archive, only if it is still the file
   that was sent.

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

from filetransfer.endpoints.base import (FileEntry, OffsetRefused, OpenRefused, SourceReader,
                                         SourceReadError, change_of, sha256_of,
                                         unsafe_path_reason)
from filetransfer.errors import error_text
from filetransfer import signals
from filetransfer.run import resume as _resume
from filetransfer.run.ledger import Ledger

log = logging.getLogger(__name__)

NOT_LOOKED_AT = object()     # the target's copy of a skipped file, not looked at yet


class _FileFailed(Exception):
    """One file failed; ``side`` tells on which: 'source' or 'target'."""

    def __init__(self, side: str, text: str):
        super().__init__(text)
        self.side, self.text = side, text


class _OpenRefused(_FileFailed):
    """The file failed because a side would not open it, for no reason given."""


def _failure(side: str, exc: OSError) -> _FileFailed:
    reasonless = isinstance(exc, OpenRefused) and exc.errno is None
    return (_OpenRefused if reasonless else _FileFailed)(side, error_text(exc))


class Crowded(Exception):
    """A side would not open the file while others were open (see OpenRefused),
    and it was given back to be copied again with fewer files at once. Nothing of
    it was booked."""


class FileCopy:
    """Copies single files from ``source`` to ``target`` (open StreamEndpoints),
    booking each in ``ledger``. ``temp`` is the target's TempNames or None;
    ``archive`` a run.archive.Archive (``archive_dir``) or None; ``overwrite`` and
    ``verify`` the [target] options; ``refused`` maps paths to why the pass refuses
    them (a temp name clash)."""

    def __init__(self, source, target, ledger: Ledger, *, temp=None, resume: bool = False,
                 delete: bool = False, archive=None, overwrite: str = 'always',
                 verify: str = 'size', refused: dict | None = None,
                 judged: frozenset = frozenset()):
        self.source, self.target, self.ledger = source, target, ledger
        self.temp = temp
        self.delete = delete
        self.archive = archive
        self.overwrite = overwrite
        self.checksums = verify == 'checksum'
        self.keep_mtimes = keeps_mtimes(overwrite, target)
        self.resuming = resume and _resume.possible(source, target)
        self.refused = refused or {}
        self.judged = judged       # paths `to_send` found to be sent: not looked at again

    def written_as(self, path: str) -> str:
        return self.temp.temp_path(path) if self.temp else path

    def copy(self, entry: FileEntry, watch=None, given_back=None) -> None:
        """Transfers one file (or skips it, by ``overwrite``) and books its outcome.
        ``watch`` is called with each chunk's size while it is written (it may raise
        to abandon the file). When a side will not open it (OpenRefused) and
        ``given_back(entry)`` takes it back (to be copied again with fewer files at
        once), raises Crowded instead."""
        path = entry.path
        problem = self._problem(entry)
        if problem:
            return self.ledger.failed(path, 'source', problem)
        started = time.monotonic()
        self.ledger.file_start(entry)
        try:
            held = self._held_by_target(entry)
            if held is not None:
                return self.skip(entry, *held)
            size, checksum = self._write(entry, watch)
            with signals.deferred():
                try:
                    self._commit(entry, size, checksum)
                except _FileFailed as failure:
                    self.ledger.failed(path, failure.side, failure.text)
                else:
                    self.ledger.transferred(path, size, time.monotonic() - started, checksum)
        except _FileFailed as failure:
            if isinstance(failure, _OpenRefused) and given_back is not None \
                    and given_back(entry):
                raise Crowded(failure.text) from None
            self.ledger.failed(path, failure.side, failure.text)
        finally:
            self.ledger.file_end(entry)

    def skip(self, entry: FileEntry, why: str, found=NOT_LOOKED_AT) -> None:
        """Books ``entry`` as skipped (the target has it: ``found`` is its stat, when
        known); with delete or archive_dir, its source goes only when the target's
        copy is verified identical, else it is kept."""
        if not (self.delete or self.archive):
            # nothing done: said at DEBUG, as an unchanged file by rsync or rclone (the
            # run's last line counts the files skipped)
            return self.ledger.skipped(entry.path, why, logging.DEBUG)
        with signals.deferred():
            try:
                if found is NOT_LOOKED_AT:
                    found = self._target_stat(entry.path)
                difference = self._difference(entry, found)
                if difference:
                    log.warning('%s: the source is kept: %s', entry.path, difference)
                    return self.ledger.skipped(entry.path, f'{why}; the source is kept '
                                                           f'({difference})')
                done = self._dispose(entry, 'skipped')
            except _FileFailed as failure:
                return self.ledger.failed(entry.path, failure.side, failure.text)
            self.ledger.skipped(entry.path, f'{why}; the source was {done}')

    def skipped_by_target(self, entry: FileEntry, note: str = '') -> bool:
        """Books ``entry`` as skipped when ``overwrite`` keeps the target's copy (as
        failed when the target cannot be looked at); whether it was booked. For a
        pass that moves the files otherwise (a batch); ``note`` ends the reason."""
        try:
            held = self._held_by_target(entry)
        except _FileFailed as failure:
            self.ledger.failed(entry.path, failure.side, failure.text)
            return True
        if held is None:
            return False
        why, found = held
        self.skip(entry, why + note, found)
        return True

    def to_send(self, entries: list[FileEntry]) -> list[FileEntry]:
        """Books as skipped those of ``entries`` that ``overwrite`` keeps on the
        target, looked at all together (target.stat_many); returns the others,
        those the copy refuses included (it books them)."""
        looked_at = [entry for entry in entries if not self._problem(entry)]
        found = self.target.stat_many([entry.path for entry in looked_at])
        booked = set()
        for entry in looked_at:
            target_file = found[entry.path]
            if isinstance(target_file, OSError):
                self.ledger.failed(entry.path, 'target', 'cannot look at it on the target: '
                                                         f'{error_text(target_file)}')
                booked.add(entry.path)
                continue
            why = overwrite_skip(self.overwrite, entry, target_file, self.keep_mtimes)
            if why:
                self.skip(entry, why, target_file)
                booked.add(entry.path)
        return [entry for entry in entries if entry.path not in booked]

    def _problem(self, entry: FileEntry) -> str | None:
        """Why the copy refuses ``entry`` (booked as a source error), or None."""
        return entry.refused or self._name_problem(entry.path) or self.refused.get(entry.path)

    @staticmethod
    def _name_problem(path: str) -> str | None:
        unsafe = unsafe_path_reason(path)
        return f'refused name: {unsafe}' if unsafe else None

    def _held_by_target(self, entry: FileEntry) -> tuple | None:
        """(why, the target's file) when ``overwrite`` keeps the target's copy."""
        if self.overwrite == 'always' or entry.path in self.judged:
            return None
        found = self._target_stat(entry.path)
        why = overwrite_skip(self.overwrite, entry, found, self.keep_mtimes)
        return (why, found) if why else None

    def _target_stat(self, path: str) -> FileEntry | None:
        try:
            return self.target.stat(path)
        except OSError as exc:
            raise _FileFailed('target', f'cannot look at it on the target: '
                                        f'{error_text(exc)}') from None

    def _progress(self, watch):
        """What the target calls with each chunk's size."""
        if watch is None:
            return self.ledger.advance

        def advance(count):
            watch(count)
            self.ledger.advance(count)
        return advance

    def _write(self, entry: FileEntry, watch) -> tuple[int, str | None]:
        """Writes one file, complete and checked, under its temp name; returns its
        size and, with checksums, its SHA-256."""
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
            raise _failure('source', exc) from None
        # The journal gets the name when the target is about to open the file
        # (`opened`), and keeps it until the file is in place or surely gone. After
        # a failure the endpoint has already removed what it started writing; once
        # write() returned, the file is ours and any failure removes it. A file that
        # was never opened was not touched: what has its name stays.
        opened = _Opening(self.ledger, written_as, ours)
        progress = self._progress(watch)
        exclusive = self.temp is not None and not ours
        try:
            try:
                size, reader = self._send(raw, entry, offset, progress, exclusive, opened)
            except OffsetRefused:
                # The target cannot continue its temp file (a server that announces
                # REST and refuses it): the whole file, now.
                progress(-offset)     # the bytes counted as kept are sent again
                try:
                    raw = source.open_read(path, expected=entry)
                except OSError as exc:
                    raise _FileFailed('source', error_text(exc)) from None
                size, reader = self._send(raw, entry, 0, progress, exclusive, opened)
            if size != entry.size:
                raise _FileFailed('source', f'changed while being transferred '
                                            f'(listed {entry.size} bytes, read {size})')
            if source.capabilities.cheap_stat:
                self._check_unchanged(entry, 'changed while being transferred')
            checksum = None
            if self.checksums:
                checksum = reader.hexdigest() or self._source_checksum(entry)
                self._verify_checksum(written_as, checksum)
            if self.keep_mtimes and entry.mtime is not None:
                self._set_mtime(written_as, entry.mtime)
            return size, checksum
        except FileExistsError:
            self.ledger.finished(written_as)     # not ours: left as it is
            raise _FileFailed('target', (
                f'{written_as} exists on the target, and this job did not write it: it '
                'is left alone (remove it if an earlier run left it behind, or choose '
                'another temp)')) from None
        except SourceReadError as exc:
            self._discard_touched(opened)
            raise _FileFailed('source', error_text(exc.error)) from None
        except OpenRefused as exc:
            # Not opened: nothing was written, and what has that name stays unless
            # the journal says an earlier run of the job left it there.
            if ours:
                self._discard(written_as, missing_ok=True)
            else:
                self.ledger.finished(written_as)
            raise _failure('target', exc) from None
        except OSError as exc:
            self._discard_touched(opened)
            raise _FileFailed('target', error_text(exc)) from None
        except _FileFailed:
            self._discard(written_as)
            raise
        except BaseException:
            if not self.resuming:
                self._discard_touched(opened)
            raise

    def _send(self, raw, entry: FileEntry, offset: int, progress, exclusive: bool,
              opened: '_Opening') -> tuple[int, SourceReader]:
        """Writes the source file ``raw``, read from ``offset``, after the first
        ``offset`` bytes of its temp file; returns the size of the file and the
        reader (its SHA-256, with checksums, when read from the start)."""
        with raw:
            if offset:
                progress(offset)
            reader = SourceReader(raw, limit=entry.size - offset,
                                  hashing=self.checksums and not offset)
            size = offset + self.target.write(
                self.written_as(entry.path), reader, progress, offset=offset,
                keep_partial=self.resuming, exclusive=exclusive, durable=self._durable,
                opening=opened)
        opened()        # written: the file is the job's (an endpoint that never said)
        return size, reader

    def _source_checksum(self, entry: FileEntry) -> str:
        """The SHA-256 of a source file read again (a resumed file was not read
        from its start)."""
        try:
            return stored_checksum(self.source, entry.path)
        except OSError as exc:
            raise _FileFailed('source', f'cannot read it again for its checksum: '
                                        f'{error_text(exc)}') from None

    def _verify_checksum(self, written_as: str, expected: str) -> None:
        """Raises _FileFailed (a target error) when the stored file's SHA-256 is not
        ``expected``."""
        try:
            stored = stored_checksum(self.target, written_as)
        except OSError as exc:
            raise _FileFailed('target', f'cannot compute the checksum of the stored file: '
                                        f'{error_text(exc)}') from None
        if stored != expected:
            raise _FileFailed('target', f'checksum mismatch: the stored file has SHA-256 '
                                        f'{stored}, the bytes sent {expected}')

    def _set_mtime(self, written_as: str, mtime: float) -> None:
        try:
            self.target.set_mtime(written_as, mtime)
        except OSError as exc:
            log.warning('could not set the modification time of %s on the target: %s '
                        '(overwrite = %s sends it again)', written_as, error_text(exc),
                        self.overwrite)

    def _check_unchanged(self, entry: FileEntry, what: str) -> None:
        """Raises _FileFailed (a source error) when the source file is no longer the
        one listed: modified (even to the same size) or replaced."""
        try:
            change = change_of(entry, self.source.stat(entry.path))
        except OSError as exc:
            change = f'cannot look at it again: {error_text(exc)}'
        if change:
            raise _FileFailed('source', f'{what} ({change})')

    def _commit(self, entry: FileEntry, size: int, checksum: str | None) -> None:
        """Puts a complete file in place under its final name, then deletes or
        archives its source when the job says so."""
        path = entry.path
        written_as = self.written_as(path)
        self.ledger.placing(entry, written_as, checksum)
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
        if self._durable:
            self._sync(path)
        self.ledger.in_place(path)
        if self.delete or self.archive:
            self._check_in_place(path, size)
            self._dispose(entry, 'transferred')

    @property
    def _durable(self) -> bool:
        """Whether a copy must outlast a crash of the target's machine: its source
        goes, or the record of files sent will say it was sent."""
        return bool(self.delete or self.archive or self.ledger.sent is not None)

    def _sync(self, path: str) -> None:
        """Makes the name of the copy in place (written durable) outlast a crash; a
        copy whose name cannot be made so is removed."""
        try:
            self.target.sync(path)
        except OSError as exc:
            self._discard(path, missing_ok=True)
            raise _FileFailed('target', f'cannot be written for good (fsync): '
                                        f'{error_text(exc)}') from None

    def dispose_transferred(self, entry: FileEntry) -> tuple | None:
        """Deletes or archives the source of ``entry``, which another operation (a
        batch) put in place; (side, why) when that failed."""
        try:
            self._dispose(entry, 'transferred')
        except _FileFailed as failure:
            return failure.side, failure.text
        return None

    def _check_in_place(self, path: str, size: int) -> None:
        """Raises _FileFailed unless the target's copy has ``size`` bytes."""
        try:
            found = self.target.stat(path)
            target_size = found.size if found else None
        except OSError as exc:
            target_size = error_text(exc)
        if target_size != size:
            raise _FileFailed('target', f'transferred, but the target copy has '
                                        f'{target_size} bytes, not {size}; source not '
                                        f'{"deleted" if self.delete else "archived"}')

    def _difference(self, entry: FileEntry, found: FileEntry | None) -> str | None:
        """How the target's copy (``found``) differs from the source file, by the
        job's ``verify``; None when it is verified identical."""
        if found is None:
            return 'the target does not have it'
        if found.size != entry.size:
            return f"the target's copy has {found.size} bytes, the source {entry.size}"
        if self.checksums:
            try:
                theirs = stored_checksum(self.target, entry.path)
            except OSError as exc:
                raise _FileFailed('target', f'cannot compute its checksum on the target: '
                                            f'{error_text(exc)}') from None
            if theirs != self._source_checksum(entry):
                return "the target's copy has another SHA-256"
        return None

    def _dispose(self, entry: FileEntry, what: str) -> str:
        """Deletes the source file of ``entry`` or moves it into the archive, only if
        it is still the file listed; returns what was done ('deleted', 'archived')."""
        path = entry.path
        verb = 'deleted' if self.delete else 'archived'
        self._check_unchanged(entry, f'{what}, but the source was not {verb}: it '
                                     'changed while being transferred')
        try:
            if self.delete:
                self.source.remove(path)
            else:
                name = self.archive.move(self.source, path)
                if name != path:
                    log.info('archived %s as %s: the archive has a file of that name',
                             path, name)
        except OSError as exc:
            raise _FileFailed('source', f'{what}, but the source was not {verb}: '
                                        f'{error_text(exc)}') from None
        return verb

    def _discard(self, written_as: str, missing_ok: bool = False) -> None:
        """Removes a file the run wrote; once it is gone, the journal forgets it."""
        if discard(self.target, written_as, missing_ok):
            self.ledger.finished(written_as)

    def _discard_touched(self, opened: '_Opening') -> None:
        """After a failed write: removes the file if the target may have opened it,
        or the journal says the job left it there; else leaves what has its name."""
        if opened.touched:
            self._discard(opened.written_as, missing_ok=True)


class _Opening:
    """What the target calls just before it asks to open (create or truncate) a
    file for writing (Endpoint.write's ``opening``): from then on the file may be
    the job's, and the journal says so. ``touched`` too when the journal said it
    already (an earlier run left it: ``ours``)."""

    def __init__(self, ledger: Ledger, written_as: str, ours: bool):
        self.ledger = ledger
        self.written_as = written_as
        self.touched = ours

    def __call__(self) -> None:
        if not self.touched:
            self.ledger.writing(self.written_as)
            self.touched = True


def overwrite_skip(overwrite: str, entry: FileEntry, found: FileEntry | None,
                   mtimes_kept: bool) -> str | None:
    """Why the source file ``entry`` is not sent over the target's copy ``found``
    (None: the target has no such file), by the ``overwrite`` option; None when it
    is sent. ``mtimes_kept``: the target gives written files the source's
    modification time (else ``different`` compares sizes only). Times are compared
    in whole seconds (SFTP and FTP carry no more); where one side gives none,
    ``older`` and ``different`` compare sizes."""
    if found is None or overwrite == 'always':
        return None
    if overwrite == 'never':
        return 'the target has it (overwrite = never)'
    times = None not in (entry.mtime, found.mtime)
    if overwrite == 'older' and times:
        if int(entry.mtime) > int(found.mtime):
            return None
        return "the target's copy is not older than the source (overwrite = older)"
    if found.size != entry.size:
        return None
    if overwrite == 'different' and mtimes_kept and times:
        if int(entry.mtime) != int(found.mtime):
            return None
        return 'the target has it with the same size and modification time ' \
               '(overwrite = different)'
    return f'the target has it with the same size (overwrite = {overwrite})'


def keeps_mtimes(overwrite: str, target) -> bool:
    """Whether written files get their source's modification time: for ``overwrite``
    different or older, where the (open) target can set it."""
    return overwrite in ('different', 'older') and target.capabilities.set_mtime


def stored_checksum(endpoint, relpath: str) -> str:
    """The SHA-256 (hex) of a file of the open ``endpoint``: computed by its server
    where it can, else read back. Raises OSError."""
    if endpoint.capabilities.checksum:
        found = endpoint.checksum(relpath)
        if found:
            return found
    with endpoint.open_read(relpath) as fh:
        return sha256_of(fh)


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
