"""The daemon's pidfile: its process id in a file, with a POSIX record lock on
the file held for as long as the daemon runs.

The lock, not the pid, tells whether the daemon runs: a pidfile whose lock
nobody holds is stale (its process died, even if the pid was reused since) and
is replaced. A record lock belongs to one process: forked children do not hold
it, and it goes away when the process ends, even by SIGKILL. Caveat of record
locks: closing any descriptor of the file releases the process's lock, so the
process holding it must never open the pidfile again (running_pid() is for
other processes).
"""

import errno
import fcntl
import os
import time

from filetransfer.privatedirs import make_private_dirs

_LOCKED = (errno.EACCES, errno.EAGAIN)


class AlreadyRunning(Exception):
    """Another process holds the pidfile."""

    def __init__(self, path: str, pid: int):
        super().__init__(f'already running (pid {pid}, pidfile {path})')
        self.path, self.pid = path, pid


def _read_pid(fd: int) -> int:
    data = os.pread(fd, 32, 0).strip()
    return int(data) if data.isdigit() else 0


def _owner_pid(fd: int) -> int:
    """The pid in a locked pidfile; its owner writes it right after locking, so
    an empty file gets a moment. 0 when it stays empty."""
    for _ in range(100):
        pid = _read_pid(fd)
        if pid:
            return pid
        time.sleep(0.01)
    return 0


def running_pid(path: str) -> int | None:
    """The pid of the process holding the pidfile ``path``; None when no process
    does (no file, or a stale one). Not for the process holding it (see above)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in _LOCKED:
                raise
        else:
            return None
        return _owner_pid(fd)
    finally:
        os.close(fd)


class PidFile:
    """The pidfile of this process."""

    def __init__(self, path: str):
        self.path = os.path.abspath(path)
        self.fd = None

    def acquire(self) -> int:
        """Locks the pidfile and writes our pid into it; returns the pid a stale
        pidfile held (0 if none). Raises AlreadyRunning, OSError."""
        make_private_dirs(os.path.dirname(self.path))
        for _ in range(10):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                pid = _owner_pid(fd) if exc.errno in _LOCKED else 0
                os.close(fd)
                if exc.errno in _LOCKED:
                    raise AlreadyRunning(self.path, pid) from None
                raise
            if not self._is_ours(fd):   # removed by its last owner after we opened it
                os.close(fd)
                continue
            stale = _read_pid(fd)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f'{os.getpid()}\n'.encode(), 0)
            self.fd = fd
            return stale
        raise OSError(errno.EAGAIN, 'the pidfile keeps being replaced', self.path)

    def _is_ours(self, fd) -> bool:
        try:
            return os.path.samestat(os.fstat(fd), os.stat(self.path))
        except FileNotFoundError:
            return False

    def release(self) -> None:
        """Removes the pidfile and releases the lock."""
        if self.fd is None:
            return
        if self._is_ours(self.fd):
            os.unlink(self.path)
        os.close(self.fd)
        self.fd = None
