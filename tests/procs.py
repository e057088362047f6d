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
    """A big file that costs no disk space to create (but real work to copy)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as fh:
        fh.write(head)
        fh.truncate(size)
        fh.seek(size - 4)
        fh.write(b'tail')


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
