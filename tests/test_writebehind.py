"""The disk writes of a download in a thread of their own (endpoints/writebehind.py),
on real files."""

import errno
import io
import os
import threading

import pytest

from filetransfer.endpoints import writebehind
from procs import wait_for


def writer_running() -> bool:
    return any(thread.name == 'write-behind' for thread in threading.enumerate())


def test_everything_arrives_in_order(tmp_path):
    data = os.urandom(5 * (1 << 20) + 123)
    seen = []
    with open(tmp_path / 'out', 'wb') as out:
        total = writebehind.copy(io.BytesIO(data), out, seen.append)
    assert total == len(data) == sum(seen)
    assert (tmp_path / 'out').read_bytes() == data


def test_a_write_error_is_raised_as_it_was():
    with open('/dev/full', 'wb', buffering=0) as out:
        with pytest.raises(OSError) as caught:
            writebehind.copy(io.BytesIO(os.urandom(4 << 20)), out)
    assert caught.value.errno == errno.ENOSPC
    wait_for(lambda: not writer_running())


class FailingReader(io.BytesIO):
    def readinto(self, buffer):
        if self.tell() >= 2 << 20:
            raise OSError(errno.EIO, 'source broke')
        return super().readinto(buffer)


def test_a_read_error_waits_for_the_write_under_way(tmp_path):
    with open(tmp_path / 'out', 'wb') as out:
        with pytest.raises(OSError, match='source broke'):
            writebehind.copy(FailingReader(os.urandom(4 << 20)), out)
    wait_for(lambda: not writer_running())
    assert (tmp_path / 'out').stat().st_size == 2 << 20      # what was read, written
