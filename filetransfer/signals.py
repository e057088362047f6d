"""SIGTERM raises Terminated, so a job cleans up and exits with code 5."""

import signal
import threading

from .errors import Terminated


def _raise_terminated(signum, frame):
    raise Terminated('terminated by signal %s' % signal.Signals(signum).name)


def set_sigterm_handler() -> None:
    """Makes SIGTERM raise `Terminated` in the main thread.

    Raises ValueError when called from another thread.
    """
    if threading.current_thread() is not threading.main_thread():
        raise ValueError('set_sigterm_handler() must be called from the main thread')
    signal.signal(signal.SIGTERM, _raise_terminated)
