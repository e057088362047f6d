"""SIGTERM raises Terminated, so a job cleans up and exits with code 5.

These rules keep that clean-up and the exit code true:

- Only the first SIGTERM raises: a second one (systemd and the daemon send one, an
  impatient operator may send more) must not cut short the removal of the unfinished
  file, the release of the lock or the notification mail.
- In a `deferred` block (a file that is complete being renamed into place, its
  source deleted and the file booked) a SIGTERM takes effect at the end of the block,
  so a file is never left in place with its source kept (it would be sent again).
- Once a run is `settled` (every file dealt with), a SIGTERM no longer changes its
  outcome: the report and the mail go out and the exit code stays.
- A process that runs one job and exits with its outcome (the command, a job process
  of the daemon) calls `keep_outcome_until_exit`: whatever ends the run decides the
  outcome, and a SIGTERM from then on is only logged, up to `before_exit`.
"""

import contextlib
import signal
import threading

from filetransfer.errors import Terminated


class _State:
    raised = False       # Terminated was raised for a SIGTERM
    pending = None       # the name of a SIGTERM that waits (deferred or settled)
    depth = 0            # nesting of deferred blocks
    in_run = False       # inside one_run()
    settled = False      # the run's outcome is decided
    ctrl_c = None        # inside ctrl_c_held(): the Ctrl-Cs that came
    until_exit = False   # settled stays so after one_run(), for the process's life
    told = False         # a SIGTERM that changed nothing was logged


_state = _State()
# Deferred blocks may run in worker threads while the handler runs in the main
# thread; reentrant because the handler may interrupt the main thread holding it.
_depth_lock = threading.RLock()


def _on_sigterm(signum, frame):
    name = signal.Signals(signum).name
    with _depth_lock:
        if _state.raised or _state.depth or _state.settled:
            _state.pending = _state.pending or name
            return
        _state.raised = True
    raise Terminated(f'terminated by signal {name}')


def set_sigterm_handler() -> None:
    """Makes SIGTERM raise `Terminated` in the main thread (once; see the module
    doc).

    Raises ValueError when called from another thread.
    """
    if threading.current_thread() is not threading.main_thread():
        raise ValueError('set_sigterm_handler() must be called from the main thread')
    reset()
    _state.until_exit = False
    signal.signal(signal.SIGTERM, _on_sigterm)


def reset() -> None:
    """Forgets earlier SIGTERMs and settled runs."""
    _state.raised, _state.pending, _state.depth, _state.settled = False, None, 0, False
    _state.told = False


@contextlib.contextmanager
def one_run():
    """The span of one run of a job: `settle` has an effect only inside it. At
    its end a SIGTERM that came once the run was settled is logged, and from then
    on a SIGTERM raises again."""
    reset()
    _state.in_run = True
    try:
        yield
    finally:
        if _state.settled and _state.pending and not _state.raised:
            _tell('%s came after the transfer was complete; the outcome stands')
        _state.in_run = False
        if _state.until_exit:
            _state.settled = True     # returned or raised: the outcome is decided
        else:
            reset()


def keep_outcome_until_exit() -> None:
    """For a process that runs one job and then exits with its outcome: once the run
    ends (or `settle` is called outside a run), a SIGTERM no longer raises, so
    nothing that follows (a report printed, the exit itself) can change the exit
    code. Call `before_exit` last."""
    _state.until_exit = True


def before_exit() -> None:
    """The last step before the process exits: SIGTERM is ignored from now on (at
    interpreter shutdown Python would restore its default action, which kills the
    process and loses the exit code); one that changed nothing is logged once."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if _state.pending and not _state.raised:
        _tell('%s came after the outcome was decided; it stands')


def _tell(message: str) -> None:
    if not _state.told:
        import logging      # a job that ends before its run (not ready) loads no logging

        logging.getLogger(__name__).warning(message, _state.pending)
    _state.told, _state.pending = True, None


@contextlib.contextmanager
def deferred():
    """A SIGTERM inside the block raises Terminated when the block ends (also
    when the block ends with another exception, which the Terminated then replaces)."""
    with _depth_lock:
        _state.depth += 1
    try:
        yield
    finally:
        name = None
        with _depth_lock:
            _state.depth -= 1
            if not _state.depth and _state.pending and not (_state.raised or _state.settled):
                name, _state.pending = _state.pending, None
                _state.raised = True
        if name:
            raise Terminated(f'terminated by signal {name}')


def stop_requested() -> bool:
    """Whether a SIGTERM (or a Ctrl-C, in `ctrl_c_held`) waits for the end of a
    `deferred` block: work that cannot be interrupted anywhere (files taking turns
    in the main thread) stops at its next step."""
    return bool(_state.ctrl_c) or (
        _state.pending is not None and not (_state.raised or _state.settled))


@contextlib.contextmanager
def ctrl_c_held():
    """In the main thread, with Python's own Ctrl-C handler: a Ctrl-C (SIGINT)
    inside the block raises KeyboardInterrupt when the block ends, not where it
    lands; `stop_requested` tells of it meanwhile."""
    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    came = _state.ctrl_c = []
    signal.signal(signal.SIGINT, lambda signum, frame: came.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _state.ctrl_c = None
        if came:
            raise KeyboardInterrupt()


def settle() -> None:
    """Inside `one_run` (anywhere after `keep_outcome_until_exit`): from now on a
    SIGTERM does not interrupt, the outcome of the run is decided (its report and
    mail still go out)."""
    if _state.in_run or _state.until_exit:
        _state.settled = True


def stop_main_thread() -> bool:
    """From another thread: stops the run in the main thread as a SIGTERM does (the
    same rules apply), when `set_sigterm_handler` was called; returns whether it was.
    A real signal, so a blocking call of the main thread is interrupted too."""
    if signal.getsignal(signal.SIGTERM) is not _on_sigterm:
        return False      # the default action would kill the process
    signal.pthread_kill(threading.main_thread().ident, signal.SIGTERM)
    return True


def wait_for(event: threading.Event) -> None:
    """Waits until ``event`` is set (a thread has stopped using what the caller is
    about to release), even when a signal handler raises meanwhile: the first such
    exception is raised once the event is set."""
    caught = None
    while not event.is_set():
        try:
            event.wait()
        except BaseException as exc:
            caught = caught or exc
    if caught is not None:
        raise caught
