"""One ascp session moving a job's whole pass between the local disk and a FASP host,
its management events turned into per-file outcomes.

Uploads send exactly the files the job chose, as a file-pair list (relative paths
kept). Downloads let ascp walk the remote directory with include/exclude rules built
from the job's patterns (faspfilters); a later try of the same run lists the remote
directory through the host's remote commands instead and hands ascp the files not
done yet as a file-pair list (its command line stays the same size). A job that
judges files by their age, remembers them, judges the target's files (overwrite) or
deletes or archives them itself has chosen the files of a download itself, from that
listing: ascp gets them as a file-pair list on every try. Per file, STOP
is a transferred file, SKIP one the target has already (ascp's overwrite policy),
FILEERROR a failed one, counted on the source or the target side by its error code.

With checksums (``verify = checksum``) ascp reports each file's SHA-256
(``--file-checksum=sha-256``) with its STOP; the file counts as transferred only when
that is the SHA-256 this machine computes of its local copy (an upload's source file,
a download's file in place). Otherwise it is a target error, and the target's copy is
removed (an upload's through the remote commands). When the runner has judged the target's files already (``overwrite``), ascp
replaces what it is given (``--overwrite=always``); with ``keep_mtimes`` it keeps the
source's modification times (``--preserve-modification-time``). With ``remember``, a
file is recorded as pending (run/sentfiles.py) when ascp begins to write it, and
forgotten again when it does not arrive.

The receiver names a file while it writes it: on a download this machine, as
``temp = ext:.X`` asks (ascp's ``--partial-file-suffix``); on an upload the server, by
its own configuration (aspera.conf's partial_file_suffix), which no protocol tells
the client: there ``temp = ext:.X`` states the server's suffix and no temp states
that the server writes in place (its default). A file being written under a partial
name is recorded in the job's journal until it is complete or removed, so that the
next run removes what a killed run left. A file written under its final name is not
recorded: a killed run may have had it completed, which the next run must not take
for a leftover.

The end of the session decides the rest: ascp's authentication and connection errors
(19, 12-18, 44, 45, and 51 for a host key that does not match) are ConnectError,
failures of single files leave the job to finish with file errors, anything else is a
TransferError; each carries ``retryable`` (ascp's own list). An interruption (SIGTERM,
Ctrl-C) cancels the session and stops ascp. A file that did not finish leaves
nothing (its partial file, and the checkpoint an earlier run with resume may have
left, are removed: on the FASP host through the remote commands), unless the host
has a ``resume_check``: then ascp (``-k``) keeps a checkpoint beside the partial
file and the next run continues it, so both stay, and nothing is journaled.
"""

import logging
import os
import posixpath
import queue
import time

from filetransfer import signals
from filetransfer.errors import ConnectError, TransferError, error_text
from filetransfer.endpoints.fasp import filters as faspfilters
from filetransfer.endpoints.base import FileEntry, FileOutcome, sha256_of, unsafe_path_reason
from filetransfer.endpoints.fasp.options import credentials, label

log = logging.getLogger(__name__)

CONNECT_CODES = frozenset({12, 13, 14, 15, 16, 17, 18, 19, 44, 45, 51})
SOURCE_CODES = frozenset({4, 21, 35, 43, 63})  # missing, not regular, read, stat, link loop
NO_PERMS, SOME_FILE_ERRS, USER_CANCEL = 5, 27, 28
RESUME_CHECKS = {'off': 'OFF', 'attributes': 'FILE_ATTRIBUTES', 'sparse': 'SPARSE_CHECKSUM',
                 'full': 'FULL_CHECKSUM'}
CHECKPOINT_SUFFIX = '.aspx'   # ascp's checkpoint beside a partial file (-k), by default
CHECKSUM_TYPE = 'sha-256'     # what ascp is asked to report (--file-checksum)
CANCEL_WAIT = 5.0       # seconds ascp gets to stop after CANCEL before it is killed
POLL = 0.2              # seconds between looks at the session while no event comes


def transfer_options(server, **extra):
    """The FASP options of the host ``server`` (an options.FaspHost) as
    faspmanager.TransferOptions, one to one, plus ``extra`` options of the job."""
    import faspmanager

    cipher = server.cipher
    host = dict(
        target_rate_kbps=server.target_rate_kbps,
        min_rate_kbps=server.min_rate_kbps,
        policy=server.policy,
        cipher=None if cipher == 'none' else cipher,
        encryption=False if cipher == 'none' else None,
        udp_port=server.udp_port,
        tcp_port=server.port,
        resume_check=RESUME_CHECKS.get(server.resume_check),
        overwrite_policy=server.overwrite,
        check_ssh_fingerprint=server.ssh_fingerprint)
    return faspmanager.TransferOptions(**{**host, **extra})


def _bitrate(count: int, seconds: float) -> str:
    """A rate in bits per second, as ascp's rates are given."""
    if seconds <= 0:
        return 'n/a'
    bits = count * 8 / seconds
    return f'{bits / 1e6:.1f} Mbit/s' if bits >= 1e6 else f'{bits / 1e3:.1f} kbit/s'


class FaspBatch:
    """A batch (filetransfer.endpoints.base.Batch) run as one ascp session; ``run()``
    yields the outcomes. ``remote`` (ascmd.AscmdSide or ssh.SshSide) lists and cleans
    up on the FASP host."""

    def __init__(self, spec, local_root: str, batch, ascp_path: str, remote):
        self.server = spec.host          # an options.FaspHost
        self.batch = batch
        self.upload = spec.role == 'target'
        self.entries = batch.entries     # the files handed to ascp; None: ascp chooses
        self.listed = {}                 # relative path -> FileEntry of those entries
        self.ascp_path = ascp_path
        self.remote = remote
        self.label = label(self.server)
        self.remote_root = spec.path
        self.local_root = os.path.abspath(local_root)
        self.suffix = batch.temp.value if batch.temp is not None else ''
        self.resume = self.server.resume_check not in (None, 'off')
        self.events = queue.SimpleQueue()
        self.names = {}              # uploads: ascp's File -> relative path
        self.running = {}            # relative path -> (FileEntry, started, written)
        # kept by the listener: files ascp began to write, those with a final event
        # (STOP, SKIP, FILEERROR of the file), those transferred or skipped
        self.started, self.reported, self.finished = set(), set(), set()
        self.wrote = set()           # files ascp said it wrote bytes of
        self.failed_codes = set()    # codes of the failures booked per file
        self.root_error = None       # downloads: ascp's error about the source directory
        self.last_end = time.monotonic()

    # -- the session ------------------------------------------------------------
    def run(self):
        """Yields a FileOutcome per file; raises ConnectError or TransferError when the
        session as a whole fails (see the module doc)."""
        import faspmanager

        if self.entries is None and self.batch.done:
            yield from self._list_remaining()
        if self.entries is not None:
            yield from self._refuse_unlisted_names()
            self.listed = {entry.path: entry for entry in self.entries}
        order = self._order()
        if order is None:
            log.info('FASP: no file to %s %s', 'send to' if self.upload else 'fetch from',
                     self.label)
            return
        session = faspmanager.session(order, ascp_path=self.ascp_path, listener=self._listen)
        if self.server.timeout:
            session.connect_timeout = session.idle_timeout = self.server.timeout
        self._log_start(order)
        result = None
        try:
            self._start(session)
            yield from self._follow(session)
            result = session.finish()
        except BaseException:
            self._cancel(session)
            raise
        finally:
            session.close()
            self._clean_up(interrupted=result is None or not result.ok())
        self._log_summary(result)
        yield from self._conclude(result)

    def _list_remaining(self):
        """A later try of a download: the files of the source the job chooses that
        no earlier try put in place, listed through the remote commands; a name the
        listing refuses is failed here."""
        selection, done = self.batch.selection, self.batch.done
        self.entries = []
        for entry in self.remote.walk(selection.descend):
            if entry.path in done or not (entry.directory or selection.wants(entry.path)):
                continue
            if entry.refused:
                yield FileOutcome(entry.path, entry.size, side='source', error=entry.refused)
            else:
                self.entries.append(entry)
        self.remote.close()             # idle while ascp works
        log.info('FASP: %d file(s) of %s %s left to fetch after the earlier tries',
                 len(self.entries), self.label, self.remote_root)

    def _refuse_unlisted_names(self):
        """Entries the listing refused, and names a file-pair list cannot hold (a line
        break), are failed up front."""
        kept = []
        for entry in self.entries:
            if entry.refused:
                yield FileOutcome(entry.path, entry.size, side='source', error=entry.refused)
            elif '\n' in entry.path or '\r' in entry.path:
                yield FileOutcome(entry.path, entry.size, side='source',
                                  error='a name with a line break cannot be given to ascp')
            else:
                kept.append(entry)
        self.entries = kept

    def _order(self):
        import faspmanager

        secret, identity = credentials(self.server)
        batch = self.batch
        job_options = {'create_dirs': True,
                       'remove_files_after_transfer': batch.delete or None,
                       'file_checksum': CHECKSUM_TYPE if batch.checksums else None,
                       'preserve_modification_time': batch.keep_mtimes or None}
        if batch.replace:
            job_options['overwrite_policy'] = 'always'
        user, host = self.server.user, self.server.host
        entries = self.entries
        if self.upload:      # the server names the partial file (see the module doc)
            if not entries:
                return None
            sources = [os.path.join(self.local_root, entry.path) for entry in entries]
            self.names = dict(zip(sources, (entry.path for entry in entries)))
            options = transfer_options(self.server, destination_root=self.remote_root,
                                       **job_options)
            return faspmanager.FileUpload(sources, user, host,
                                          dest_paths=[entry.path for entry in entries],
                                          dest_pass=secret, dest_identity=identity,
                                          options=options)
        job_options['partial_file_suffix'] = self.suffix or None
        if entries is not None:
            if not entries:
                return None
            options = transfer_options(self.server, destination_root=self.local_root,
                                       **job_options)
            return faspmanager.FileDownload(
                [posixpath.join(self.remote_root, entry.path) for entry in entries], user, host,
                dest_paths=[entry.path for entry in entries], source_pass=secret,
                source_identity=identity, options=options)
        selection = self.batch.selection
        rules = faspfilters.build(selection.files, selection.ignore, selection.recursive,
                                  skip=sorted(selection.exclude_names))
        options = transfer_options(self.server, destination_root=self.local_root,
                                   source_base=self.remote_root, extra_options=rules,
                                   **job_options)
        return faspmanager.FileDownload(self.remote_root, user, host, source_pass=secret,
                                        source_identity=identity, options=options)

    def _start(self, session) -> None:
        import faspmanager

        try:
            session.start()
        except FileNotFoundError as exc:
            raise ConnectError(exc.strerror or str(exc), retryable=False) from None
        except faspmanager.SessionStartError as exc:
            raise ConnectError(f'cannot run ascp ({self.ascp_path}): '
                                             f'{exc}', retryable=False) from None

    def _listen(self, event) -> None:
        """The session's listener (its reader thread): events go to the job's thread,
        after the bookkeeping the clean-up relies on, done here because a signal
        never interrupts this thread."""
        at = time.monotonic()
        stats = event.file_stats
        kind = event.event_type.value
        if stats is not None:
            path = self._relpath(stats['name'])
            if kind == 'STATS':
                if path not in self.started:
                    self.started.add(path)
                    if self._journaled():     # in the journal at once (see the module doc)
                        self.batch.ledger.writing(path + self.suffix)
                    if path in self.listed:   # with remember: recorded as pending
                        self.batch.ledger.placing(self.listed[path], path + self.suffix, None)
                if stats['written']:
                    self.wrote.add(path)
            elif kind in ('STOP', 'SKIP'):
                self.finished.add(path)
                self.reported.add(path)
                if self._journaled():
                    self.batch.ledger.finished(path + self.suffix)
            elif kind == 'FILEERROR' and not self._session_failure(stats['error_code']):
                self.reported.add(path)
        self.events.put((event, at))

    def _journaled(self) -> bool:
        """Whether files being written are recorded for the next run to remove: those
        under a partial name, unless ascp is to continue them (resume_check)."""
        return bool(self.suffix) and not self.resume

    @staticmethod
    def _session_failure(code) -> bool:
        """Whether a file's error is the whole session's (connection, cancel)."""
        return code in CONNECT_CODES or code == USER_CANCEL

    def _follow(self, session):
        """Handles the events in order until ascp has ended; yields the outcomes."""
        import faspmanager

        while True:
            # A SIGTERM between taking an event and the booking of its outcome would
            # lose a file that ascp transferred (and maybe deleted): it waits until the
            # runner has booked the outcome and asks for the next one.
            with signals.deferred():
                try:
                    event, at = self.events.get(timeout=POLL)
                except queue.Empty:
                    event = None
                outcome = self._handle(event, at) if event is not None else None
                if outcome is not None:
                    yield outcome
            if event is None:
                if session.state() is not faspmanager.SessionState.RUNNING:
                    return
                continue
            if event.event_type.value in ('DONE', 'ERROR'):
                return          # ascp's last word; finish() waits for it to exit

    def _cancel(self, session) -> None:
        """Interrupted: asks ascp to cancel, gives it a moment, then close() stops it."""
        import faspmanager

        running = faspmanager.SessionState.RUNNING
        if session.state() is not running:
            return
        log.warning('FASP: stopping ascp (transfer with %s interrupted)', self.label)
        try:
            session.cancel()
        except Exception as exc:    # ascp is stopped by close() anyway
            log.debug('CANCEL not delivered to ascp: %s', exc)
        deadline = time.monotonic() + CANCEL_WAIT
        while session.state() is running and time.monotonic() < deadline:
            time.sleep(0.05)

    # -- events -----------------------------------------------------------------
    def _relpath(self, name: str) -> str:
        if name in self.names:
            return self.names[name]
        path = os.path.normpath(name)
        if os.path.isabs(path):
            path = os.path.relpath(path, self.local_root)
        return path.replace(os.sep, '/')

    def _handle(self, event, at) -> FileOutcome | None:
        kind = event.event_type.value
        stats = event.file_stats
        if stats is None or kind not in ('STATS', 'STOP', 'SKIP', 'FILEERROR'):
            return None
        name = stats['name']
        if not self.upload and kind == 'FILEERROR' and \
                posixpath.normpath(name) == posixpath.normpath(self.remote_root):
            self.root_error = (stats['error_code'], stats['error_description'])
            return None
        path = self._relpath(name)
        if kind == 'STATS':
            self._progress(path, stats, at)
            return None
        entry, started, before = self.running.pop(path, (None, self.last_end, 0))
        self.last_end = at
        ledger = self.batch.ledger
        if entry is not None:
            if kind == 'STOP' and (stats['written'] or 0) > before:
                ledger.advance(stats['written'] - before)
            ledger.file_end(entry)
        size = stats['size'] or 0
        if kind == 'STOP':
            if not self.batch.checksums:
                return FileOutcome(path, size, at - started)
            checksum, side, problem = self._verify(path, stats)
            if problem is None:
                return FileOutcome(path, size, at - started, checksum=checksum)
            ledger.not_sent(path)
            return FileOutcome(path, size, error=problem, side=side)
        if kind == 'SKIP':
            return FileOutcome(path, size, skipped=True)
        code, description = stats['error_code'], stats['error_description']
        if self._session_failure(code):
            return None         # reported with the session's end
        self.failed_codes.add(code)
        ledger.not_sent(path)
        text = f'{description or "failed"} (ascp error {code})'
        return FileOutcome(path, size, error=text, side=self._side(code, path))

    def _verify(self, path: str, stats: dict) -> tuple:
        """(checksum, side, problem) of a file ascp reported transferred: its SHA-256
        when ascp's checksum is the one of the local copy, else the side and text of
        the failure (a download's file is then removed)."""
        reported, kind = stats['checksum'], stats['checksum_type']
        local = os.path.join(self.local_root, path)
        copy = 'source file' if self.upload else 'file received'
        side, problem = 'target', None
        if not reported:
            problem = f'ascp reported no checksum for it ({CHECKSUM_TYPE} was asked for)'
        elif str(kind).lower() != CHECKSUM_TYPE:
            problem = (f'ascp reported a checksum of type {kind}, not the {CHECKSUM_TYPE} '
                       'asked for: it cannot be verified')
        else:
            try:
                with open(local, 'rb') as fh:
                    ours = sha256_of(fh)
            except OSError as exc:
                side = 'source' if self.upload else 'target'
                problem = f'cannot compute the checksum of the {copy}: {error_text(exc)}'
            else:
                if ours == str(reported).lower():
                    return ours, None, None
                problem = (f'checksum mismatch: ascp reported SHA-256 {reported}, the '
                           f'{copy} has {ours}')
        self._remove_unverified(path, local)
        return None, side, problem

    def _remove_unverified(self, path: str, local: str) -> None:
        """Removes the target's copy of a file that could not be verified: a
        download's local file, an upload's file on the FASP host (through the remote
        commands), so that no later run or reader takes it for a good one."""
        try:
            if self.upload:
                self.remote.remove(path)
            else:
                os.remove(local)
        except FileNotFoundError:
            pass
        except (OSError, ConnectError, TransferError) as exc:
            log.warning('could not remove the unverified %s from the target: %s', path,
                        error_text(exc) if isinstance(exc, OSError) else exc)
        else:
            log.info('removed %s from the target: it could not be verified', path)

    def _progress(self, path: str, stats: dict, at: float) -> None:
        ledger = self.batch.ledger
        written = stats['written'] or 0
        if path not in self.running:
            entry = FileEntry(path, stats['size'] or 0)
            self.running[path] = (entry, at, 0)
            ledger.file_start(entry)
        entry, started, before = self.running[path]
        self.running[path] = (entry, started, max(before, written))
        if written > before:
            ledger.advance(written - before)

    def _side(self, code, path: str) -> str:
        """Where a file failed: 'source' or 'target'. A permission problem is looked
        up on the local side."""
        if code in SOURCE_CODES:
            return 'source'
        if code != NO_PERMS:
            return 'target'
        local = os.path.join(self.local_root, path)
        if self.upload:
            return 'source' if not os.access(local, os.R_OK) else 'target'
        folder = os.path.dirname(local)
        while not os.path.isdir(folder) and folder != os.path.dirname(folder):
            folder = os.path.dirname(folder)
        return 'target' if not os.access(folder, os.W_OK) else 'source'

    # -- the end ------------------------------------------------------------------
    def _clean_up(self, interrupted: bool) -> None:
        """Removes what the files that did not finish left on the target, or, with
        resume_check, leaves it there for ascp to continue."""
        leftovers = [path for path in sorted(self.started - self.finished)
                     if not unsafe_path_reason(path)]
        for path in leftovers:
            self.batch.ledger.not_sent(path)
        if self.resume:
            for path in leftovers:
                log.info('kept the unfinished %s on the target for the next run to resume '
                         '(resume_check)', path + self.suffix)
            return
        if interrupted and self.entries and self.suffix:
            # ascp may have opened the next file's partial file before telling
            pending = [entry.path for entry in self.entries if entry.path not in self.reported]
            if pending and pending[0] not in leftovers:
                leftovers.append(pending[0])
        try:
            for path in leftovers:
                self._remove_unfinished(path)
        except (ConnectError, TransferError) as exc:   # the failure itself matters more
            log.warning('could not clean up on %s: %s', self.label, exc)
        if leftovers and self.upload:
            self.remote.close()

    def _remove_unfinished(self, path: str) -> None:
        """Removes the file ascp was writing as ``path`` + suffix, then its checkpoint
        (an earlier run with resume_check may have left one); the journal keeps a
        file that could not be removed for the next run. Raises ConnectError or
        TransferError when the FASP host cannot be reached."""
        written_as = path + self.suffix
        where = self.label if self.upload else 'the local target'
        for name in (written_as, path + CHECKPOINT_SUFFIX):
            try:
                if self.upload:
                    self.remote.remove(name)
                else:
                    os.remove(os.path.join(self.local_root, name))
            except FileNotFoundError:
                if name == written_as and self.upload and path in self.wrote:
                    log.warning('%s: no unfinished %s to remove: does the server name the '
                                'files it receives otherwise? (the target\'s temp states the '
                                "server's partial_file_suffix)", where, written_as)
            except OSError as exc:
                log.warning('could not remove %s from %s: %s', name, where, error_text(exc))
                if name == written_as:
                    return             # the journal keeps it for the next run
            else:
                log.info('removed the unfinished %s from the target', name)
        if self._journaled():
            self.batch.ledger.finished(written_as)

    def _conclude(self, result):
        """Outcomes for files ascp said nothing about, or the session's failure."""
        reason = result.reason()
        if self.root_error is not None:
            code, description = self.root_error
            raise TransferError(
                f'source directory {self.remote_root} on {self.label}: '
                f'{description or "not readable"} (ascp error {code})', retryable=False)
        code = result.error_code()
        file_level = bool(self.failed_codes) and \
            (code is None or code == SOME_FILE_ERRS or code in self.failed_codes)
        if result.ok() or file_level:
            for entry in self.entries or ():
                if entry.path not in self.reported:
                    yield FileOutcome(entry.path, entry.size,
                                      error=f'not transferred: {reason or "ascp said nothing"}')
            return
        error_class = ConnectError if code in CONNECT_CODES else TransferError
        where = self.label if error_class is ConnectError else f'FASP transfer with {self.label}'
        raise error_class(f'{where}: {reason}', retryable=result.retryable())

    def _log_start(self, order) -> None:
        rate = order.options.opts['target_rate_kbps']
        if self.upload:
            what = f'sending {len(self.entries)} file(s) to {self.label} {self.remote_root}'
        elif self.entries is not None:
            what = f'receiving {len(self.entries)} file(s) from {self.label} {self.remote_root}'
        else:
            what = f'receiving from {self.label} {self.remote_root}'
        log.info('FASP: %s with %s, target rate %d kbit/s', what, self.ascp_path, rate)

    def _log_summary(self, result) -> None:
        stats = result.stats()
        seconds = (stats.get('elapsed_usec') or 0) / 1e6
        count = stats.get('transfer_bytes') or 0
        log.info('FASP session with %s: %d file(s) transferred, %d failed, %d skipped, '
                 '%d bytes in %.2f s, average %s', self.label, stats['files_complete'],
                 stats['files_failed'], stats['files_skipped'], count, seconds,
                 _bitrate(count, seconds))
