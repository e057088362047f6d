"""Helpers for tests that stop a running command at a known point."""

import os
import select
import signal
import time


def wait_for(predicate, timeout=30.0, interval=0.001, proc=None):
    """Polls until predicate() is true and returns its value; False when ``proc``
    exits first; fails on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(interval)
    raise AssertionError('timed out waiting for a condition')


def read_until(pipe, text, timeout=30) -> str:
    """Reads a pipe until ``text`` appeared; returns what was read."""
    shown = b''
    deadline = time.monotonic() + timeout
    while text.encode() not in shown:
        left = deadline - time.monotonic()
        assert left > 0 and select.select([pipe], [], [], left)[0], f'no {text!r} in {shown}'
        chunk = os.read(pipe.fileno(), 65536)
        assert chunk, f'the output ended without {text!r}: {shown}'
        shown += chunk
    return shown.decode()


def make_sparse(path, size, head=b'head-of-file') -> None:
    """A big file that costs no disk space to create, and real work to send to or
    from a server (a copy between local directories keeps its holes: see make_dense)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    _remove(path)          # a new file, not one linked to make_dense's
    with open(path, 'wb') as fh:
        fh.write(head)
        fh.truncate(size)
        fh.seek(size - 4)
        fh.write(b'tail')


DENSE_DIR = None   # where make_dense keeps one file per size for the run (conftest sets it)


def make_dense(path, size) -> None:
    """A big file with data in every block: a copy between local directories must
    move all of it (it skips the holes of a sparse file), so it can be caught in
    the middle. Written once per size and run, then hard-linked: a test may delete
    or rename it, never write into it."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    _remove(path)          # never write through an earlier link to the shared file
    if DENSE_DIR is None:
        return write_dense(path, size)
    master = os.path.join(DENSE_DIR, f'{size}.bin')
    if not os.path.exists(master):
        write_dense(master + '.new', size)
        os.replace(master + '.new', master)
    try:
        os.link(master, path)
    except OSError:     # another file system
        write_dense(path, size)


def write_dense(path, size) -> None:
    """A file like make_dense's, of its own (one a test may write into)."""
    block = (bytes(range(1, 256)) * ((4 << 20) // 255 + 1))[:4 << 20]
    _remove(path)
    with open(path, 'wb') as fh:
        for _ in range(size // len(block)):
            fh.write(block)
        fh.write(block[:size % len(block)])


def stop_while_writing(proc, partial_path, final_path):
    """Freezes ``proc`` (SIGSTOP) once ``partial_path`` exists and before
    ``final_path`` does. Returns False when the copy finished too fast to catch."""
    caught = wait_for(lambda: os.path.exists(partial_path) or os.path.exists(final_path),
                      proc=proc)
    if not caught:
        return False
    os.kill(proc.pid, signal.SIGSTOP)
    if os.path.exists(final_path) and partial_path != final_path:
        os.kill(proc.pid, signal.SIGCONT)
        return False
    return True


def _remove(path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
