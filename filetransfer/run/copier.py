"""One pass of a job over its source: opens both sides, checks the ready file,
selects the files, removes what earlier runs left unfinished, and has the files
moved, by whatever path the endpoints allow:

- one file at a time (run/filecopy.py), or several at once over several
  connections (run/parallel.py), between two stream endpoints;
- a whole pass in one operation, when a side is a batch endpoint (FASP).

Every file is booked in the run's ledger (run/ledger.py), whatever moved it.
"""

import contextlib
import logging
import os
import posixpath
from typing import NamedTuple

from filetransfer import endpoints
from filetransfer.config.model import EndpointSpec
from filetransfer.endpoints.base import Batch, FileEntry, FileOutcome, RootMissing
from filetransfer.errors import ConfigError, NotReadyError, TransferError, error_text
from filetransfer.outcome import JobResult
from filetransfer import signals
from filetransfer.run import ready, resume
from filetransfer.run.archive import Archive
from filetransfer.run.filecopy import FileCopy, keeps_mtimes, overwrite_skip
from filetransfer.run.gate import Gate, Held
from filetransfer.run.journal import Journal
from filetransfer.run.ledger import Ledger, ProgressObserver
from filetransfer.run.malloc import steady_malloc
from filetransfer.run.selection import Selection

log = logging.getLogger(__name__)

JUDGED_TOGETHER = 500     # files whose records of files sent are looked up at once


class PlannedFile(NamedTuple):
    """A file of a dry run: sent, or not (``held`` says why)."""

    entry: FileEntry
    held: Held | None = None


class Copier:
    """One pass over the source. ``done`` holds paths put in place by earlier tries
    of the same job; they are skipped and new ones are added to it. ``journal``
    records the files being written (in memory only without locks_dir); ``sent``
    the files sent (a sentfiles.SentFiles, with ``[source] remember``). ``where``
    names the job's file in messages."""

    def __init__(self, source: EndpointSpec, target: EndpointSpec, *,
                 ready_file: str | None = None, done: set | None = None,
                 progress: ProgressObserver | None = None, journal=None, sent=None,
                 where: str = 'transfer()'):
        self.source_spec = source
        self.target_spec = target
        self.progress = progress
        self.journal = journal if journal is not None else Journal(None, '')
        self.done = done if done is not None else set()
        self.sent = sent
        self.where = where
        self.temp = target.options.temp
        self.resume = target.options.resume
        self.overwrite = target.options.overwrite
        self.verify = target.options.verify
        self.delete = source.options.delete
        folder = source.options.archive_dir
        self.archive = Archive(folder) if folder is not None else None
        self.gate = Gate(source.options, sent)
        # a path below the source (flags/READY); the file itself is left out only
        # when listed under the name as written, as in FileTransfer 0.11
        self.ready_file = posixpath.normpath(ready_file) if ready_file else None
        self.ready_outside = ready.outside_local_source(source, self.ready_file) \
            if ready_file else None
        self.connections = (target.options.connections or _connections(target.host)
                            or _connections(source.host) or 1)
        self.selection = Selection(source.options.files, source.options.ignore,
                                   source.options.recursive,
                                   exclude_names=[ready_file] if ready_file else [])
        self.targets = []     # the target endpoints the pass writes through
        self.judged = frozenset()   # paths the pass found to be sent by overwrite

    def run(self, result: JobResult, on_start=None,
            early: endpoints.EarlyLogin | None = None) -> JobResult:
        """Transfers the files into ``result``; ``on_start`` is called once the
        source is open and ready; the side of ``early`` takes over that login.
        Raises NotReadyError, ConnectError, TransferError, ConfigError."""
        with contextlib.ExitStack() as stack:
            source = stack.enter_context(self._ready_source(early))
            if on_start:
                on_start()
            target = stack.enter_context(endpoints.create(self.target_spec, early))
            ledger = Ledger(result, self.journal, self.target_spec.describe(),
                            progress=self.progress, done=self.done, sent=self.sent)
            if source.capabilities.batch or target.capabilities.batch:
                self._run_batch(source, target, ledger)
            else:
                self._run_files(source, target, ledger)
            with signals.deferred():
                if self.ready_file and not result.error_cnt:
                    self._remove_ready_file(source, ledger)
            signals.settle()      # every file is dealt with: the outcome is decided
        return result

    @contextlib.contextmanager
    def _ready_source(self, early=None):
        """The open source; NotReadyError when the job's ready file is missing."""
        with endpoints.create(self.source_spec, early) as source:
            if self.ready_file and not self._ready_present(source):
                raise NotReadyError(f'ready file {self.ready_file} not present')
            yield source

    def _run_files(self, source, target, ledger: Ledger) -> None:
        """File by file, or several at once over more connections."""
        if self.resume and not resume.possible(source, target):
            log.info('resume: %s cannot continue files at an offset; each file is '
                     'written from its start', source.role if not source.capabilities.resume
                     else target.role)
        if self.overwrite == 'different' and not target.capabilities.set_mtime:
            log.info('overwrite = different: the target cannot set modification times; '
                     'files are compared by size only')
        self._settle_pending(target)
        entries, remembered = self._taken(source)
        log.debug('%d file(s) selected', len(entries))
        ledger.start(entries)
        self._remove_leftovers(target, entries)
        refused = self._temp_clashes(entries)
        copy = self.file_copy(source, target, ledger, refused)
        for entry, held in remembered:
            copy.skip(entry, held.text)
        if self.overwrite != 'always' and target.capabilities.stats_at_once:
            # judged here, all at once: the workers are then chosen by what is sent
            entries = copy.to_send(entries)
            self.judged = copy.judged = frozenset(entry.path for entry in entries)
        from filetransfer.run import parallel
        turns = parallel.turns_endpoint(self, ledger, source, target)
        # Files downloaded by threads: by the round trip. Uploaded: the server's work
        # per file (making it on its disk) adds to the wait that more files at once
        # hide, and the round trip timed at set-up does not show it. In turns, by the
        # round trip beyond the most near the server.
        round_trip = source.round_trip if turns is None else turns.round_trip
        workers = parallel.workers(self.connections, (self.source_spec, self.target_spec),
                                   len(entries), round_trip, turns is not None)
        for side in (source, target):
            if side.open_files_most is not None and side.open_files_most < workers:
                log.info('%s: the server lets a session hold %d files open at once',
                         side.where, side.open_files_most)
                workers = side.open_files_most
        steady_malloc()
        if workers > 1:
            log.debug('%d files at once%s%s', workers, '' if round_trip is None else
                      f' (round trip to the server {round_trip * 1000:.1f} ms)',
                      ', taking turns in one thread' if turns is not None else '')
            parallel.copy_files(self, ledger, refused, source, target, entries, workers,
                                turns)
        else:
            for entry in entries:
                copy.copy(entry)
        if self.temp and self.temp.mode == 'dir':
            self._remove_temp_dirs(target)

    def _settle_pending(self, target) -> None:
        """With remember: settles what an ended run left pending (sentfiles.py)."""
        if self.sent is not None:
            from filetransfer.run.sentfiles import settle_pending
            settle_pending(self.sent, target, self.journal.leftovers(self.target_spec.describe()))

    def _taken(self, source) -> tuple[list, list]:
        """The files the pass takes now, and those held back as remembered whose
        source may have to be deleted or archived, (entry, held); the others held
        back are logged."""
        entries, remembered = [], []
        for entry, held in self._listed(source):
            if held is None:
                entries.append(entry)
            elif held.kind == 'remembered' and (self.delete or self.archive):
                remembered.append((entry, held))    # its source may have to go
            else:
                _log_held(entry, held)
        return entries, remembered

    def file_copy(self, source, target, ledger: Ledger, refused: dict) -> FileCopy:
        """The copy of single files between two open endpoints."""
        self.targets.append(target)
        return FileCopy(source, target, ledger, temp=self.temp, resume=self.resume,
                        delete=self.delete, archive=self.archive, overwrite=self.overwrite,
                        verify=self.verify, refused=refused, judged=self.judged)

    def _remove_temp_dirs(self, target) -> None:
        """Removes the directories the pass made in the temp directory (dir:SUBDIR),
        and that directory if the pass made it, those now empty, deepest first;
        what it found there stays."""
        top = self.temp.value
        made = set().union(*(each.made_dirs for each in self.targets))
        inside = [path for path in made if path == top or path.startswith(top + '/')]
        for path in sorted(inside, key=lambda path: path.count('/'), reverse=True):
            try:
                target.remove_dir(path)
            except OSError as exc:
                log.debug('temp directory %s not removed: %s', path, error_text(exc))
            except TransferError as exc:
                log.info('temp directories not removed: %s', exc)
                return
            else:
                log.debug('removed the empty temp directory %s', path)

    def _run_batch(self, source, target, ledger: Ledger) -> None:
        """The whole pass in one operation of the batch endpoint (FASP), its per-file
        outcomes booked like those of the per-file copy. The pass chooses the files
        (a batch source's through its listing) when it must judge them: by age,
        remember or overwrite; and it deletes or archives their sources itself, once
        each is booked transferred (verified, with checksums), unless the batch
        deletes them."""
        remote, local = (target, source) if target.capabilities.batch else (source, target)
        checksums = self.verify == 'checksum'
        disposes = self.archive is not None or (self.delete and checksums)
        judges = self.gate.needs_mtimes or self.sent is not None or self.overwrite != 'always'
        copy = FileCopy(source, target, ledger, delete=self.delete, archive=self.archive,
                        overwrite=self.overwrite)
        entries = None     # a batch source chooses its files, unless the pass must
        if remote is target or judges or disposes:
            self._settle_pending(target)
            entries, remembered = self._taken(source)
            refused = self._temp_clashes(entries)
            for path, problem in refused.items():
                ledger.failed(path, 'source', problem)
            entries = [entry for entry in entries if entry.path not in refused]
            log.debug('%d file(s) selected', len(entries))
        ledger.start(entries or [])
        if entries is not None:
            # a skipped file's source goes only when its copy is verified identical;
            # by checksum, that cannot be done here (the FASP side's copy is not read)
            skipping, note = copy, ''
            if checksums and (self.delete or self.archive):
                skipping = FileCopy(source, target, ledger, overwrite=self.overwrite)
                note = '; the source is kept (verify = checksum: the FASP side is not read)'
            for entry, held in remembered:
                skipping.skip(entry, held.text + note)
            if self.overwrite != 'always':
                entries = [entry for entry in entries
                           if not skipping.skipped_by_target(entry, note)]
        self._remove_leftovers(target, entries or [])
        batch = Batch(entries, self.selection, ledger, frozenset(self.done), self.temp,
                      self.delete and not disposes, checksums=checksums,
                      keep_mtimes=keeps_mtimes(self.overwrite, target),
                      replace=self.overwrite != 'always')
        listed = {entry.path: entry for entry in entries or ()}
        # closing(): an interruption while booking stops the batch at once
        with contextlib.closing(remote.transfer_batch(local, batch)) as outcomes:
            for outcome in outcomes:
                self._book(ledger, outcome, copy if disposes else None,
                           listed.get(outcome.path))

    @staticmethod
    def _book(ledger: Ledger, outcome: FileOutcome, archiving: FileCopy | None = None,
              entry: FileEntry | None = None) -> None:
        """Books a batch's outcome; with ``archiving`` (a FileCopy: archive_dir, or
        delete done by the pass), a transferred file's source (``entry``, as listed)
        is moved into the archive or deleted. A file the batch skipped keeps its
        source."""
        path = outcome.path
        if outcome.skipped:
            ledger.skipped(path, 'the target has it already')
        elif outcome.error is not None:
            ledger.failed(path, outcome.side, outcome.error)
        else:
            ledger.in_place(path)
            if outcome.checksum and entry:      # with remember: the record gets it too
                ledger.placing(entry, path, outcome.checksum)
            failure = archiving.dispose_transferred(entry) if archiving and entry else None
            if failure:
                ledger.failed(path, *failure)
            else:
                ledger.transferred(path, outcome.size, outcome.seconds, outcome.checksum)

    def _listed(self, source, together: int = JUDGED_TOGETHER):
        """Every file the patterns select (less those done by earlier tries), with
        why the pass does not take it now (gate.py), or None. The files of a job
        that remembers them are judged ``together`` at a time: one look-up in the
        record of files sent for them all."""
        if self.gate.needs_mtimes and not source.capabilities.mtimes:
            name = 'min_age' if self.source_spec.options.min_age else 'max_age'
            raise ConfigError(f'{self.where}: [source] {name}: the source '
                              f'({self.source_spec.describe()}) lists no modification times '
                              '(an FTP server without MLSD): files cannot be judged by age')
        seen, listed = set(), []      # files judged together (gate.held_all), in order
        wants, done = self.selection.wants, self.done
        no_mtime = self.gate.no_mtime if self.gate.needs_mtimes else None
        # nothing to look up (no remember): each file is judged as it comes, by age
        # or not at all
        at_once = self.gate.sent is None
        held = self.gate.held if self.gate.needs_mtimes else None
        for entry in source.walk(self._descend(source)):
            path = entry.path
            if (entry.directory or wants(path)) and path not in done:
                if path in seen:    # a server's listing names a file twice
                    log.warning('%s is listed twice by the source; taken once', path)
                    continue
                seen.add(path)
                problem = no_mtime and not (entry.refused or entry.directory) \
                    and no_mtime(entry)
                if problem:
                    entry = FileEntry(path, entry.size, refused=problem)
                if at_once:
                    judged = held is not None and not (entry.refused or entry.directory)
                    yield entry, held(entry) if judged else None
                    continue
                listed.append(entry)
                if len(listed) >= together:
                    yield from self._judged(listed)
                    listed = []
        yield from self._judged(listed)

    def _judged(self, listed: list[FileEntry]):
        """(entry, why it is held back or None) of each of ``listed``."""
        judged = [entry for entry in listed if not (entry.refused or entry.directory)]
        held = dict(zip((entry.path for entry in judged), self.gate.held_all(judged)))
        for entry in listed:
            yield entry, held.get(entry.path)

    def _descend(self, source):
        """The selection's rule for entering directories, less the archive directory
        when it is inside the source directory."""
        excluded = self.archive.excluded(source) if self.archive else None
        if excluded is None:
            return self.selection.descend
        if excluded == '':
            raise ConfigError(f'{self.where}: [source] archive_dir: is the source directory '
                              f'itself ({self.source_spec.describe()})')
        inside = excluded + '/'

        def descend(reldir):
            return reldir != excluded and not reldir.startswith(inside) \
                and self.selection.descend(reldir)
        return descend

    def _temp_clashes(self, entries: list[FileEntry]) -> dict:
        """The files whose temp name is the name of another selected file, and why
        they are refused: writing one would replace that file on the target."""
        if not self.temp:
            return {}
        finals = {entry.path for entry in entries}
        refused = {}
        for entry in entries:
            written_as = self.temp.temp_path(entry.path)
            if written_as in finals:
                refused[entry.path] = (f'its temp name {written_as} is the name of another '
                                       'selected file (choose another temp, or leave one of '
                                       'them out)')
        return refused

    def plan(self) -> list[PlannedFile]:
        """The files a run would look at now, each sent or held back (and why), without
        writing anything: the target is looked at only when ``overwrite`` needs it,
        and never created. Files left out by max_age are not part of it. Raises
        NotReadyError, ConnectError, TransferError, ConfigError."""
        with self._ready_source() as source:
            planned = [PlannedFile(entry, held) for entry, held in self._listed(source)
                       if held is None or held.kind != 'too_old']
        if self.overwrite == 'always' or all(item.held for item in planned):
            return planned
        target = endpoints.create(self.target_spec)
        target.creates_root = False
        try:
            target.open()
        except RootMissing:
            return planned          # a run creates it: every file would be sent
        with contextlib.closing(target):
            return [self._planned_on_target(target, item) for item in planned]

    def _planned_on_target(self, target, item: PlannedFile) -> PlannedFile:
        """``item`` held back when the target has the file and ``overwrite`` keeps it."""
        if item.held is not None or item.entry.refused:
            return item
        try:
            found = target.stat(item.entry.path)
        except OSError as exc:
            log.warning('cannot look at %s on the target: %s', item.entry.path,
                        error_text(exc))
            return item
        why = overwrite_skip(self.overwrite, item.entry, found,
                             keeps_mtimes(self.overwrite, target))
        return PlannedFile(item.entry, Held('on_target', why)) if why else item

    def has_work(self) -> bool:
        """Whether a run would do something: the ready file is present or, for a job
        without one, at least one file is taken now. Raises ConnectError,
        TransferError, ConfigError."""
        with endpoints.create(self.source_spec) as source:
            if self.ready_file:
                return self._ready_present(source)
            return any(held is None for _, held in self._listed(source, together=1))

    def _remove_leftovers(self, target, entries) -> None:
        """Removes what killed runs or failed tries left unfinished on the target
        (see journal.py), except, with resume, the files this pass continues."""
        written_as = (lambda path: self.temp.temp_path(path)) if self.temp else str
        keep = {written_as(entry.path) for entry in entries} if self.resume else ()
        self.journal.clean_up(target, self.target_spec.describe(), keep)

    def _ready_present(self, source) -> bool:
        if self.ready_outside:
            return ready.present(self.ready_outside)
        return source.stat(self.ready_file) is not None

    def _remove_ready_file(self, source, ledger: Ledger) -> None:
        try:
            if self.ready_outside:
                os.unlink(self.ready_outside)
            else:
                source.remove(self.ready_file)
        except OSError as exc:
            ledger.failed(self.ready_file, 'source',
                          f'ready file not deleted: {error_text(exc)}')


def _log_held(entry: FileEntry, held: Held) -> None:
    """A file the pass does not take now: one not yet stable is said at INFO."""
    level = logging.INFO if held.kind == 'too_young' else logging.DEBUG
    if not log.isEnabledFor(level):      # the usual case for each of many remembered files
        return
    log.log(level, 'leaving %s for a later run: %s' if held.kind == 'too_young'
            else 'not taking %s: %s', entry.path, held.text,
            extra={'file': entry.path, 'held': held.kind})


def _connections(host) -> int | None:
    """How many files at once a host allows by its own settings (None for a local
    directory or a protocol that moves one file at a time)."""
    return host.connections if host is not None else None
