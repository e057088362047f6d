"""Several files at once: the `connections` option.

Each worker thread takes the next file of the pass and copies it with the same
code as a one-connection pass, over its own source and target endpoints (the first
worker uses those the pass opened). Small files are limited by round trips, not by
bandwidth, so several in flight move many more per second. An endpoint that can
carry several files at once on its connection (``capabilities.shared``: SFTP)
gives the other workers endpoints on it (`shared()`): no new login. Others (FTP,
which cannot ask for a second file before the first is through) open a connection
per worker, and a connection the server refuses only means fewer workers.

`connections = auto` (the default) chooses by the number of files, the
protocols and, for files downloaded over SFTP, the round trip to the server
(`workers`, AUTO_RULES): fewer than 4 files move one at a time; more share an
SFTP session, up to 64 at once (a file more in flight costs a thread, not a login;
over a long round trip that is what keeps small files moving), and downloads 4
near the server (where the threads only take turns: 5,000 small files took 5-55 %
longer with 64 than with 4, on disk and in RAM); FTP and FTPS get a connection per 4 files, up to 8.

The main thread only waits, so SIGTERM and Ctrl-C land there; it then stops the
workers: a file being written is abandoned and removed as in a one-connection
pass (its progress callback raises `Stopped`), a file being put in place is
finished first. A lost connection in one worker stops the others the same way and
ends the try with that error; the files already in place count as done.
"""

import contextlib
import logging
import threading

from filetransfer import endpoints
from filetransfer import signals
from filetransfer.config.types import AUTO
from filetransfer.errors import ConnectError

log = logging.getLogger(__name__)

# auto: (files per worker, most workers) by protocol; local directories need none
AUTO_RULES = {'FTP': (4, 8), 'FTPS': (4, 8), 'SFTP': (1, 64)}
AUTO_FEWEST = 4      # fewer files move one at a time, in the order listed
# auto, SFTP: 4 files at once, and one more per this much of the round trip
AUTO_NEAR = 4
AUTO_SECONDS_PER_FILE = 0.0005


def workers(setting, specs, count: int, round_trip: float | None = None) -> int:
    """How many files to move at once: ``setting`` (1-16, or AUTO) for ``count``
    files between the endpoints of ``specs`` (config.EndpointSpec). AUTO takes the
    rule of each remote side's protocol (AUTO_RULES), the least of them; another
    protocol (FASP) gets one. An SFTP session's files at once grow with
    ``round_trip`` (seconds, as measured at set-up; None: not known, the most)."""
    if setting != AUTO:
        return max(1, min(setting, count))
    if count < AUTO_FEWEST:
        return 1
    chosen = [min(_most(spec.type, most, round_trip), count // per) for spec, (per, most) in
              ((spec, AUTO_RULES.get(spec.type, (1, 1))) for spec in specs
               if spec.host is not None)]
    return max(1, min(chosen, default=1))


def _most(protocol: str, most: int, round_trip: float | None) -> int:
    if protocol != 'SFTP' or round_trip is None:
        return most
    return min(most, AUTO_NEAR + int(round_trip / AUTO_SECONDS_PER_FILE))


class Stopped(BaseException):
    """Raised in a worker's transfer when the pass stops; never leaves this module."""


def copy_files(copier, ledger, refused, source, target, entries, workers: int) -> None:
    """Copies ``entries`` with up to ``workers`` files at once; raises what the
    first failing worker raised (TransferError, Terminated, ...)."""
    _steady_malloc()
    pending = iter(entries)
    taking = threading.Lock()
    stop = threading.Event()
    failures = []

    def next_entry():
        with taking:
            return None if stop.is_set() else next(pending, None)

    def watch(count):
        if stop.is_set():
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
                    copy.copy(entry, watch)
        except Stopped:
            pass
        except BaseException as exc:   # reported by the main thread
            failures.append(exc)
            stop.set()
        finally:
            finished[number].set()

    # Events, not Thread.join(): a join interrupted by a signal handler's exception
    # can take a running thread for finished (seen with CPython 3.11).
    finished = [threading.Event() for _ in range(workers)]
    started = 0
    try:
        with signals.deferred():    # a signal now comes once all are started
            for number in range(workers):
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
    finally:
        for ends in sharing.values():       # those of workers never started
            for end in ends:
                if end is not None:
                    end.close()
    if failures:
        raise failures[0]


def _steady_malloc() -> None:
    """Has glibc's malloc keep to two arenas, and give every block of 128 KiB or
    more its own mapping, returned when freed. By default each thread that
    allocates may get an arena of its own (up to 8 per CPU), and the limit for a
    mapping of its own rises to the size of the largest block freed (up to 32
    MiB): the large buffers of files moving at once then stay in the arenas,
    which fragment. With 64 files at once that took the command's peak memory
    from about 49 MiB to 64-70 MiB in one run out of two (70 files of 2 MiB and
    3,000 small ones, downloaded over a 40 ms round trip); with the limit fixed,
    49-51 MiB in each of 8 runs. Elsewhere than glibc, nothing is done."""
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError):
        return
    mallopt(M_ARENA_MAX, 2)
    mallopt(M_MMAP_THRESHOLD, 128 << 10)   # fixed: no longer raised by frees


M_MMAP_THRESHOLD = -3     # glibc's malloc.h
M_ARENA_MAX = -8


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
