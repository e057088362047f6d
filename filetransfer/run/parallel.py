"""Several files at once: the `connections` option.

Each worker takes the next file of the pass and copies it with the same code as a
one-connection pass, over its own source and target endpoints (the first worker
uses those the pass opened). Small files are limited by round trips, not by
bandwidth, so several in flight move many more per second. An endpoint that can
carry several files at once on its connection (``capabilities.shared``: SFTP)
gives the other workers endpoints on it (`shared()`): no new login. Others (FTP,
which cannot ask for a second file before the first is through) open a connection
per worker, and a connection the server refuses only means fewer workers.

The workers are tasks taking turns in the main thread where the pass allows it
(`turns_endpoint`: SFTP with a local other side; one that waits for the server lets
the others go on), else a thread each. Turns move many small files at about twice
the rate: no answer is handed from thread to thread (5,000 files of 4 KiB
uploaded 64 at once: 1.6-1.8 s against 3.5-3.6 s, on 127.0.0.1; 1.5-1.7 s once the
files' requests were also written together).

`connections = auto` (the default) chooses by the number of files, the
protocols and, over SFTP, the round trip to the server (`workers`, AUTO_RULES):
fewer than 4 files move one at a time; more share an SFTP session (a file more in
flight costs a task or a thread, not a login; over a long round trip that is what
keeps small files moving): in turns up to 128 at once, and far from the server one
more per 0.1 ms of the round trip, up to 512; with threads up to 64, and threads
downloading 4 near the server (where they only take turns: 5,000 small files took
5-55 % longer with 64 than with 4, on disk and in RAM); FTP and FTPS get a
connection per 4 files, up to 8. Each file at once holds a local file open: auto
stays within half of the process's limit of open files (RLIMIT_NOFILE).

A file the server will not open, for no reason given, while other files are being
copied (a server that limits the files a session holds open, without saying so) goes
again later, and its worker ends: each refusal leaves one file fewer at once, until
the server takes them all; a file refused while it is the only one fails as any
other (`given_back`).

SIGTERM and Ctrl-C stop the workers: a file being written is abandoned and
removed as in a one-connection pass (its progress callback raises `Stopped`), a
file being put in place is finished first. With threads, the signal lands in the
main thread, which only waits; with turns, it is held until the workers have
stopped at their next step (never in the middle of a request: the session stays
in step). A lost connection in one worker stops the others the same way and ends
the try with that error; the files already in place count as done.
"""

import collections
import contextlib
import functools
import logging
import resource
import threading

from filetransfer import endpoints
from filetransfer import signals
from filetransfer.config.types import AUTO
from filetransfer.errors import ConnectError
from filetransfer.run.filecopy import Crowded

log = logging.getLogger(__name__)

# auto: (files per worker, most workers) by protocol; local directories need none
AUTO_RULES = {'FTP': (4, 8), 'FTPS': (4, 8), 'SFTP': (1, 64)}
# auto, SFTP in turns: a file more at once costs a task, and over a long round trip
# more files wait at once (100 files of 4 KiB over 50 ms: 1.13-1.20 s with 128,
# 1.22-1.35 s with 64; 5,000 near the server: the same)
AUTO_SFTP_IN_TURNS = 128
# ... and far from the server, one more per this much of the round trip, up to the
# most (500 files of 4 KiB over 50 ms, up / down: 1.56-1.75 / 1.45-1.60 s with 128,
# 1.27-1.37 / 1.23-1.31 s with 512; 5,000 near the server moved 128 at once: 3 %
# fewer instructions and 8 MiB less memory than 512)
AUTO_SFTP_IN_TURNS_FAR = 512
AUTO_SECONDS_PER_FILE_IN_TURNS = 0.0001
AUTO_FEWEST = 4      # fewer files move one at a time, in the order listed
# auto, SFTP: 4 files at once, and one more per this much of the round trip
AUTO_NEAR = 4
AUTO_SECONDS_PER_FILE = 0.0005


def workers(setting, specs, count: int, round_trip: float | None = None,
            in_turns: bool = False) -> int:
    """How many files to move at once: ``setting`` (1-16, or AUTO) for ``count``
    files between the endpoints of ``specs`` (config.EndpointSpec). AUTO takes the
    rule of each remote side's protocol (AUTO_RULES), the least of them; another
    protocol (FASP) gets one. An SFTP session's files at once grow with
    ``round_trip`` (seconds, as measured at set-up; None: not known, the most) with
    threads; in turns (``in_turns``) at least AUTO_SFTP_IN_TURNS, more far away
    (`_most_in_turns`)."""
    if setting != AUTO:
        return max(1, min(setting, count))
    if count < AUTO_FEWEST:
        return 1
    if in_turns:
        rules = {**AUTO_RULES, 'SFTP': (1, _most_in_turns(round_trip))}
        round_trip = None
    else:
        rules = AUTO_RULES
    chosen = [min(_most(spec.type, most, round_trip), count // per) for spec, (per, most) in
              ((spec, rules.get(spec.type, (1, 1))) for spec in specs
               if spec.host is not None)]
    return max(1, min(min(chosen, default=1), _open_files_allowed()))


def _most_in_turns(round_trip: float | None) -> int:
    if round_trip is None:
        return AUTO_SFTP_IN_TURNS
    return max(AUTO_SFTP_IN_TURNS,
               min(AUTO_SFTP_IN_TURNS_FAR, int(round_trip / AUTO_SECONDS_PER_FILE_IN_TURNS)))


def _open_files_allowed() -> int:
    """Half the files this process may hold open (the soft RLIMIT_NOFILE): a file
    moving holds one, the rest is left to the logs, the journal and the connections."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return soft // 2 if soft != resource.RLIM_INFINITY else 1 << 20


def _most(protocol: str, most: int, round_trip: float | None) -> int:
    if protocol != 'SFTP' or round_trip is None:
        return most
    return min(most, AUTO_NEAR + int(round_trip / AUTO_SECONDS_PER_FILE))


class Stopped(BaseException):
    """Raised in a worker's transfer when the pass stops; never leaves this module."""


def turns_endpoint(copier, ledger, source, target):
    """The endpoint on whose connection the files of the pass may take turns in
    this thread (`Endpoint.in_turns`), or None: a thread per file. Turns need that
    capability of the remote side and a local other side whose work per file
    never blocks for long (while it blocks, every file waits): not a download
    whose files are each made durable (an fsync each: delete, archive_dir,
    remember), nor checksums (the server's command for each file uploaded, a
    file read back and hashed for each downloaded)."""
    remote, local = (target, source) if target.spec.host is not None else (source, target)
    if not remote.capabilities.turns or local.spec.host is not None \
            or copier.verify == 'checksum':
        return None
    if remote is source and (copier.delete or copier.archive or ledger.sent is not None):
        return None
    return remote


def copy_files(copier, ledger, refused, source, target, entries, workers: int,
               turns=None) -> None:
    """Copies ``entries`` with up to ``workers`` files at once: as tasks taking
    turns on the connection of ``turns`` (`turns_endpoint`), else a thread each;
    raises what the first failing worker raised (TransferError, Terminated, ...)."""
    pending = iter(entries)
    again = collections.deque()     # files a crowded server would not open
    moving = 0                      # files being copied now
    taking = threading.Lock()
    stop = threading.Event()
    failures = []

    def stopping():
        # signals.stop_requested: a SIGTERM held while files take turns (or while a
        # thread puts a file in place)
        return stop.is_set() or signals.stop_requested()

    def next_entry():
        nonlocal moving
        with taking:
            if stopping():
                return None
            entry = again.popleft() if again else next(pending, None)
            moving += entry is not None
            return entry

    def copied():
        nonlocal moving
        with taking:
            moving -= 1

    def given_back(entry) -> bool:
        # A server that limits the files a session holds open refuses one more
        # (OpenRefused): while other files move, the file goes again later and its
        # worker ends, so that one fewer moves at once; a file refused alone fails
        # as any other. Given back under the lock while another file is being
        # copied: that file's worker takes it next.
        with taking:
            if moving < 2:
                return False
            again.append(entry)
            return True

    def watch(count):
        if stopping():
            raise Stopped()

    # The endpoints sharing the pass's connections (no new login) are made before
    # any worker starts: each file's share of a session (SFTP: the bytes in flight,
    # so the memory it holds) is then right from the first file on.
    sharing = {number: [end.shared() if end.capabilities.shared else None
                        for end in (source, target)] for number in range(1, workers)}

    def work(number):
        try:
            with contextlib.ExitStack() as stack:
                if number == 0:
                    ends = source, target
                else:
                    ends = _open_more(stack, copier, number, sharing.pop(number))
                    if ends is None:
                        return
                copy = copier.file_copy(*ends, ledger, refused)
                while (entry := next_entry()) is not None:
                    try:
                        copy.copy(entry, watch, given_back)
                    except Crowded as exc:
                        log.log(logging.DEBUG if again_said else logging.INFO,
                                '%s: not opened while other files were (%s): it goes '
                                'again later, with fewer files at once', entry.path, exc)
                        again_said.append(entry)
                        return
                    finally:
                        copied()
        except Stopped:
            pass
        except BaseException as exc:   # reported by the main thread
            failures.append(exc)
            stop.set()
        finally:
            finished[number].set()

    again_said = []
    finished = [threading.Event() for _ in range(workers)]
    try:
        if turns is not None:
            # signals held: the workers see them (stopping) at their next step
            with signals.deferred(), signals.ctrl_c_held():
                turns.in_turns([functools.partial(work, number) for number in range(workers)])
        else:
            _run_threads(work, finished, stop)
    finally:
        for ends in sharing.values():       # those of workers never started
            for end in ends:
                if end is not None:
                    end.close()
    if failures:
        raise failures[0]


def _run_threads(work, finished: list, stop: threading.Event) -> None:
    """Runs ``work(number)`` in a thread per event of ``finished`` (set by each
    when it ends) and waits for them; a signal's exception stops them, then is
    raised."""
    # Events, not Thread.join(): a join interrupted by a signal handler's exception
    # can take a running thread for finished (seen with CPython 3.11).
    started = 0
    try:
        with signals.deferred():    # a signal now comes once all are started
            for number in range(len(finished)):
                threading.Thread(target=work, args=(number,), daemon=True,
                                 name=f'connection-{number + 1}').start()
                started += 1
        for event in finished:
            event.wait()
    except BaseException:           # SIGTERM, Ctrl-C: the workers clean up, then out
        stop.set()
        for event in finished[:started]:
            signals.wait_for(event)
        raise


def _open_more(stack, copier, number, sharing):
    """The source and target endpoints of an extra worker: those of ``sharing`` (on
    the pass's connection) where an endpoint shares its own, else new
    ones; None when the server will not take another connection (a warning when
    the number was set, a line of the log when auto chose it)."""
    for end in sharing:
        if end is not None:
            stack.enter_context(contextlib.closing(end))
    more = []
    try:
        for shared, spec in zip(sharing, (copier.source_spec, copier.target_spec)):
            more.append(shared if shared is not None
                        else stack.enter_context(endpoints.create(spec)))
    except ConnectError as exc:
        log.log(logging.INFO if copier.connections == AUTO else logging.WARNING,
                'connection %d not opened, going on with fewer: %s', number + 1, exc)
        return None
    return more
