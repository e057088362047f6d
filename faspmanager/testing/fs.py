"""The two sides of an emulated transfer: the local file system and a remote one
reached over SFTP (paramiko). Both offer the same few operations."""

from __future__ import annotations

import errno
import os
import posixpath
import stat as stat_module
from dataclasses import dataclass


@dataclass
class Entry:
    size: int
    mtime: float
    atime: float
    is_dir: bool
    is_reg: bool
    is_link: bool = False


class LocalFS:
    """This machine's files."""

    name = 'local'
    join = staticmethod(os.path.join)
    dirname = staticmethod(os.path.dirname)
    basename = staticmethod(os.path.basename)

    def stat(self, path: str, follow: bool = True) -> Entry | None:
        try:
            st = os.stat(path) if follow else os.lstat(path)
        except FileNotFoundError:
            return None
        except NotADirectoryError:
            return None
        return Entry(st.st_size, st.st_mtime, st.st_atime, stat_module.S_ISDIR(st.st_mode),
                     stat_module.S_ISREG(st.st_mode), stat_module.S_ISLNK(st.st_mode))

    def listdir(self, path: str) -> list[str]:
        return sorted(os.listdir(path))

    def open_read(self, path: str):
        return open(path, 'rb')

    def open_write(self, path: str, keep: bool):
        """A file open for writing: truncated, or (``keep``) kept for writes at offsets."""
        if keep:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
            return os.fdopen(fd, 'r+b')
        return open(path, 'wb')

    def makedirs(self, path: str) -> None:
        if path:
            os.makedirs(path, exist_ok=True)

    def rename(self, src: str, dst: str) -> None:
        os.replace(src, dst)

    def remove(self, path: str) -> None:
        os.remove(path)

    def rmdir(self, path: str) -> None:
        os.rmdir(path)

    def utime(self, path: str, atime: float, mtime: float) -> None:
        os.utime(path, (atime, mtime))

    def close(self) -> None:
        pass


class SftpFS:
    """A remote host's files over SFTP; relative paths are relative to the login
    directory, like ascp's."""

    name = 'remote'
    join = staticmethod(posixpath.join)
    dirname = staticmethod(posixpath.dirname)
    basename = staticmethod(posixpath.basename)

    def __init__(self, client, sftp):
        self.client, self.sftp = client, sftp

    def stat(self, path: str, follow: bool = True) -> Entry | None:
        try:
            st = self.sftp.stat(path) if follow else self.sftp.lstat(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise
        mode = st.st_mode or 0
        return Entry(st.st_size or 0, st.st_mtime or 0, st.st_atime or 0,
                     stat_module.S_ISDIR(mode), stat_module.S_ISREG(mode),
                     stat_module.S_ISLNK(mode))

    def listdir(self, path: str) -> list[str]:
        return sorted(self.sftp.listdir(path))

    def open_read(self, path: str):
        return _SftpReader(self.sftp.open(path, 'rb'))

    def open_write(self, path: str, keep: bool):
        if keep and self.stat(path) is not None:
            handle = self.sftp.open(path, 'r+b')
        else:
            handle = self.sftp.open(path, 'wb')
        handle.set_pipelined(True)
        return handle

    def makedirs(self, path: str) -> None:
        if not path or path in ('.', '/'):
            return
        if self.stat(path) is not None:
            return
        self.makedirs(posixpath.dirname(path.rstrip('/')))
        try:
            self.sftp.mkdir(path)
        except OSError:
            if self.stat(path) is None:
                raise

    def rename(self, src: str, dst: str) -> None:
        self.sftp.posix_rename(src, dst)

    def remove(self, path: str) -> None:
        self.sftp.remove(path)

    def rmdir(self, path: str) -> None:
        self.sftp.rmdir(path)

    def utime(self, path: str, atime: float, mtime: float) -> None:
        self.sftp.utime(path, (atime, mtime))

    def close(self) -> None:
        try:
            self.sftp.close()
        finally:
            self.client.close()


class _SftpReader:
    """Reads ahead with many requests in flight (paramiko's readv) into a bounded
    buffer: fast like prefetching, without holding a whole file in memory when the
    reader is slow (rate-limited)."""

    PIECE = 32768
    WINDOW = 4 * 1024 * 1024

    def __init__(self, handle):
        self.handle, self.pos = handle, 0
        self.size = handle.stat().st_size or 0
        self.buffer, self.buffer_at = b'', 0

    def seek(self, pos: int) -> None:
        self.pos = pos

    def read(self, size: int) -> bytes:
        start = self.pos - self.buffer_at
        if not 0 <= start < len(self.buffer) or start + size > len(self.buffer):
            self._fill(max(size, self.WINDOW))
            start = 0
        data = self.buffer[start:start + size]
        self.pos += len(data)
        return data

    def _fill(self, want: int) -> None:
        end = min(self.size, self.pos + want)
        pieces = [(offset, min(self.PIECE, end - offset))
                  for offset in range(self.pos, end, self.PIECE)]
        self.buffer = b''.join(self.handle.readv(pieces)) if pieces else b''
        self.buffer_at = self.pos

    def close(self) -> None:
        self.handle.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
