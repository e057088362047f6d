"""Several files at once: the `connections` option.

Each worker thread takes the next file of the pass and copies it with the same
code as a one-connection pass, over its own source and target endpoints (the first
worker uses those the pass opened; the others open theirs, and a connection the
server refuses only means fewer workers). Small files are limited by round trips,
not by bandwidth, so several in flight move many more per second.

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
from filetransfer.errors import ConnectError

log = logging.getLogger(__name__)


class Stopped(BaseException):
    """Raised in a worker's transfer when the pass stops; never leaves this module."""


def copy_files(copier, ledger, refused, source, target, entries, workers: int) -> None:
    """Copies ``entries`` with up to ``workers`` files at once; raises what the
    first failing worker raised (TransferError, Terminated, ...)."""
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

    def work(number):
        try:
            with contextlib.ExitStack() as stack:
                if number == 0:
                    ends = source, target
                else:
                    ends = _open_more(stack, copier, number)
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
    for number in range(workers):
        threading.Thread(target=work, args=(number,), name=f'connection-{number + 1}',
                         daemon=True).start()
    try:
        for event in finished:
            event.wait()
    except BaseException:           # SIGTERM, Ctrl-C: the workers clean up, then out
        stop.set()
        for event in finished:
            signals.wait_for(event)
        raise
    if failures:
        raise failures[0]


def _open_more(stack, copier, number):
    """The source and target endpoints of an extra worker, or None when the
    server will not take another connection."""
    try:
        source = stack.enter_context(endpoints.create(copier.source_spec))
        target = stack.enter_context(endpoints.create(copier.target_spec))
    except ConnectError as exc:
        log.warning('connection %d not opened, going on with fewer: %s', number + 1, exc)
        return None
    return source, target

