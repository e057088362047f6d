"""Copying a network stream to a local file with the disk writes in a second thread.

Done in one thread, reading a download and writing it to disk wait for each other:
while a megabyte goes to the disk, nothing is read from the network. With the writes
in a thread of their own (Python lets go of the GIL during both system calls), the
two overlap. A few buffers are handed back and forth, so memory stays bounded.
"""

import queue
import threading

from .. import signals
from .base import CHUNK_SIZE

BUFFERS = 3


def copy(reader, out, progress=None) -> int:
    """Copies ``reader`` (readinto) to the file object ``out``; returns the number
    of bytes once all are written. A write error is raised as it was; an error or
    an interruption of the reading waits for the write under way, then passes."""
    free = queue.Queue()
    full = queue.Queue()
    for _ in range(BUFFERS):
        free.put(bytearray(CHUNK_SIZE))
    failures = []
    finished = threading.Event()

    def write_all():
        try:
            while (item := full.get()) is not None:
                buffer, count = item
                out.write(memoryview(buffer)[:count])
                free.put(buffer)
        except BaseException as exc:      # raised again by the reading thread
            failures.append(exc)
            free.put(None)
        finally:
            finished.set()

    threading.Thread(target=write_all, name='write-behind', daemon=True).start()
    total = 0
    try:
        while (buffer := free.get()) is not None:
            count = reader.readinto(buffer)
            if not count:
                break
            full.put((buffer, count))
            total += count
            if progress:
                progress(count)
    finally:
        full.put(None)
        signals.wait_for(finished)
    if failures:
        raise failures[0]
    return total
