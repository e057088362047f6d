"""The single-instance lock of a job: a file lock in ``locks_dir``."""

import contextlib
import os

from filetransfer.errors import SingleInstanceError
from filetransfer.privatedirs import make_private_dirs


@contextlib.contextmanager
def single_instance(locks_dir: str, name: str):
    """Holds the lock ``name`` for the block; raises SingleInstanceError when another
    process holds it. The lock goes away with the process, even on SIGKILL."""
    from filelock import FileLock, Timeout   # only jobs that lock pay for the import

    path = os.path.join(locks_dir, name + '.lock')     # a name may hold '/': sub-directories
    make_private_dirs(os.path.dirname(path))
    lock = FileLock(path, timeout=0, mode=0o600,
                    thread_local=False, preserve_lock_file=True)
    try:
        lock.acquire()
    except Timeout:
        raise SingleInstanceError(f'lock {name!r} is held by another running instance') from None
    try:
        yield
    finally:
        lock.release()
