"""A directory on the local file system.

Copies between local files use the kernel's copy path (copy_file_range, then
sendfile), so the data never passes through Python, and keep the holes of a sparse
file: only its data ranges (SEEK_DATA/SEEK_HOLE) are copied, the target's size is set
to the whole. Symbolic links on the source
are followed only when they resolve to a regular file inside the source directory;
links to directories are not entered (no loops), other links are skipped with a
warning.
"""

import errno
import logging
import os
import stat
import struct

from filetransfer.errors import ConnectError, TransferError
from filetransfer.endpoints.base import (CHUNK_SIZE, Capabilities, FileEntry, RootMissing,
                                         SourceChanged, SourceReadError, StreamEndpoint,
                                         change_of, copy_stream, open_refused,
                                         refuse_unsafe, unsafe_path_reason)

log = logging.getLogger(__name__)

KERNEL_CHUNK = 16 << 20
_NO_KERNEL_COPY = {errno.ENOSYS, errno.EXDEV, errno.EINVAL, errno.EOPNOTSUPP,
                   errno.ENOTSUP, errno.EBADF, errno.EPERM}


class LocalEndpoint(StreamEndpoint):
    capabilities = Capabilities(resume=True, cheap_stat=True, mtimes=True, set_mtime=True,
                                stats_at_once=True)

    def __init__(self, spec):
        super().__init__(spec)
        self.root = spec.path
        self._real_root = None
        self._root_folder = os.path.dirname(os.path.join(self.root, '-'))   # as _path() has it
        self._root_id = None       # (device, inode) of the root opened

    def open(self) -> None:
        if self.role == 'target' and self.creates_root:
            try:
                os.makedirs(self.root, exist_ok=True)
            except OSError as exc:
                raise ConnectError(f'cannot create target directory {self.root}: '
                                   f'{exc.strerror}') from None
        if not os.path.isdir(self.root):
            missing = not os.path.exists(self.root)
            what = 'does not exist' if missing else 'is not a directory'
            if missing and not self.creates_root:
                error = RootMissing
            else:      # a source as FileTransfer 0.11 reports it: a TransferError
                error = TransferError if self.role == 'source' else ConnectError
            raise error(f'{self.role} directory {self.root} {what}')
        self._real_root = os.path.realpath(self.root)
        self._root_id = _identity(self.root)

    def close(self) -> None:
        pass

    def _path(self, relpath: str) -> str:
        if relpath and self.in_temp_dir(relpath):     # temp = dir: may lead out of the root
            return os.path.normpath(os.path.join(self.root, relpath))
        refuse_unsafe(relpath)
        return os.path.join(self.root, relpath)

    # -- source side ----------------------------------------------------------
    def walk(self, descend):
        yield from self._walk('', descend)

    def _walk(self, reldir, descend):
        # Names, then an lstat of each relative to the open directory: a scandir
        # DirEntry would keep its stat cached until the whole directory is walked
        # (20,000 files: some 12 MB more at the peak, and slower).
        folder = self._path(reldir) if reldir else self.root
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            return self._unlisted(reldir, folder, exc)
        try:
            try:
                names = sorted(os.listdir(fd))
            except OSError as exc:
                return self._unlisted(reldir, folder, exc)
            prefix = reldir + '/' if reldir else ''
            for name in names:
                relpath = prefix + name
                try:
                    info = os.stat(name, dir_fd=fd, follow_symlinks=False)
                    if stat.S_ISREG(info.st_mode):        # the common case first
                        yield _entry(relpath, info)
                    elif stat.S_ISLNK(info.st_mode):
                        file_stat = self._linked_file(os.path.join(folder, name))
                        if file_stat is not None:
                            yield _entry(relpath, file_stat)
                    elif stat.S_ISDIR(info.st_mode) and descend(relpath):
                        yield from self._walk(relpath, descend)
                except OSError as exc:
                    log.warning('cannot read %s: %s', os.path.join(folder, name), exc.strerror)
        finally:
            os.close(fd)

    def _unlisted(self, reldir: str, folder: str, exc: OSError) -> None:
        """A directory that cannot be listed: the source's own is a TransferError,
        another is skipped with a warning."""
        if not reldir:
            raise TransferError(f'cannot list source directory {self.root}: '
                                f'{exc.strerror}') from None
        log.warning('cannot list directory %s: %s', folder, exc.strerror)

    def _linked_file(self, path):
        real = os.path.realpath(path)
        if os.path.commonpath([real, self._real_root]) != self._real_root:
            log.warning('skipping symbolic link %s: it points outside %s', path, self.root)
            return None
        try:
            file_stat = os.stat(real)
        except OSError:
            log.warning('skipping dangling symbolic link %s', path)
            return None
        if not stat.S_ISREG(file_stat.st_mode):
            return None
        return file_stat

    def stat(self, relpath: str) -> FileEntry | None:
        try:
            file_stat = os.stat(self._path(relpath))
        except (FileNotFoundError, NotADirectoryError):
            return None
        return _entry(relpath, file_stat) if stat.S_ISREG(file_stat.st_mode) else None

    def stat_many(self, relpaths: list[str]) -> dict:
        # Each directory opened once and its files looked at from it: no path to
        # walk and check again per file (20,000 files: some 40 ms less).
        found = {}
        by_dir = {}
        for relpath in relpaths:
            reldir, _, name = relpath.rpartition('/')
            if unsafe_path_reason(relpath) or self.in_temp_dir(relpath):
                found.update(super().stat_many([relpath]))    # as stat() takes it
            else:
                by_dir.setdefault(reldir, []).append((relpath, name))
        for reldir, files in by_dir.items():
            try:
                fd = os.open(self._path(reldir) if reldir else self.root,
                             os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except (FileNotFoundError, NotADirectoryError):
                found.update((relpath, None) for relpath, _ in files)
                continue
            except OSError:
                found.update(super().stat_many([relpath for relpath, _ in files]))
                continue
            try:
                for relpath, name in files:
                    try:
                        file_stat = os.stat(name, dir_fd=fd)
                    except (FileNotFoundError, NotADirectoryError):
                        found[relpath] = None
                    except OSError as exc:
                        found[relpath] = exc
                    else:
                        found[relpath] = _entry(relpath, file_stat) \
                            if stat.S_ISREG(file_stat.st_mode) else None
            finally:
                os.close(fd)
        return found

    def open_read(self, relpath: str, offset: int = 0, expected=None):
        # unbuffered: the descriptor's position is what was read (see _kernel_copy)
        fh = open(self._path(relpath), 'rb', buffering=0)
        try:
            if expected is not None:
                # What was opened, not what the path names now or named when it was
                # listed: a link swapped meanwhile cannot lead outside the source.
                change = change_of(expected, _entry(relpath, os.fstat(fh.fileno())))
                if change:
                    raise SourceChanged(errno.ESTALE, f'changed while being transferred ({change} '
                                                     'since it was listed)')
            if offset:
                fh.seek(offset)
        except BaseException:
            fh.close()
            raise
        return fh

    # -- target side ----------------------------------------------------------
    def write(self, relpath: str, reader, progress=None, *, offset=0,
              keep_partial=False, exclusive=False, durable=False, opening=None) -> int:
        path = self._path(relpath)
        self._makedirs(os.path.dirname(path))
        in_fd = _fileno(reader)
        if in_fd is not None:
            _refuse_same_file(in_fd, path)
        if opening:
            opening()
        try:
            opened = _open_for_writing(path, offset, exclusive)
        except FileExistsError:
            raise
        except OSError as exc:
            raise open_refused(exc) from None
        with opened as out:
            try:
                if offset:
                    out.truncate(offset)
                    out.seek(offset)
                copied = _kernel_copy(in_fd, out.fileno(), progress, reader) \
                    if in_fd is not None else None
                if copied is None:
                    copied = copy_stream(reader, out, progress)
                if durable:
                    out.flush()
                    _fsync(out.fileno())
                return copied
            except OSError:
                _unlink_quietly(path)
                raise
            except BaseException:
                if not keep_partial:
                    _unlink_quietly(path)
                raise

    def rename(self, relpath: str, new_relpath: str) -> None:
        new_path = self._path(new_relpath)
        self._makedirs(os.path.dirname(new_path))
        os.replace(self._path(relpath), new_path)

    def _makedirs(self, folder: str) -> None:
        """Creates a directory of the target and its missing parents (see
        `_refuse_outside`), each made one told to ``made_dirs``."""
        if self._is_root(folder):
            return
        self._refuse_outside(folder)
        missing = []
        while not os.path.isdir(folder) and folder != os.path.dirname(folder):
            missing.append(folder)
            folder = os.path.dirname(folder)
        for path in reversed(missing):
            try:
                os.mkdir(path)
            except FileExistsError:
                if not os.path.isdir(path):
                    raise
                continue
            relpath = os.path.relpath(path, self.root)
            if not relpath.startswith('..'):
                self.made_dirs.add(relpath.replace(os.sep, '/'))

    def _refuse_outside(self, folder: str) -> None:
        """Raises OSError when a symbolic link (planted in the directory) puts
        ``folder``, or the part of it that exists, outside the root (or outside the
        job's temp directory, for a folder in it)."""
        if self._is_root(folder):
            return
        existing = folder
        while not os.path.lexists(existing) and existing != os.path.dirname(existing):
            existing = os.path.dirname(existing)
        real = os.path.realpath(existing)
        root = self._real_root
        temp_dir = self._temp_dir()
        if temp_dir and _inside(os.path.abspath(folder), temp_dir):
            root = os.path.realpath(temp_dir)
            if _inside(root, real):
                return       # the temp directory is still to be created below ``real``
        if not _inside(real, root):
            raise OSError(errno.EXDEV, f'a symbolic link on the way leads outside the '
                                       f'{self.role}', existing)

    def _is_root(self, folder: str) -> bool:
        """Whether ``folder`` is the root and still the directory opened (one stat
        for the folder of most files; one swapped since is checked the long way)."""
        return (folder == self._root_folder and self._root_id is not None
                and _identity(folder) == self._root_id)

    def _temp_dir(self) -> str | None:
        """The job's temp directory (absolute) when it has one (``temp = dir:``)."""
        temp = getattr(self.spec.options, 'temp', None) if self.role == 'target' else None
        if temp is None or temp.mode != 'dir':
            return None
        return os.path.abspath(os.path.join(self.root, temp.value))

    def remove(self, relpath: str) -> None:
        path = self._path(relpath)
        self._refuse_outside(os.path.dirname(path))
        os.unlink(path)

    def sync(self, relpath: str) -> None:
        try:
            fd = os.open(os.path.dirname(self._path(relpath)),
                         os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:       # a drop box without read permission, say
            log.debug('cannot sync the directory of %s: %s', relpath, exc.strerror)
            return
        try:
            _fsync(fd)
        finally:
            os.close(fd)

    def remove_dir(self, relpath: str) -> None:
        path = self._path(relpath)
        self._refuse_outside(os.path.dirname(path))
        os.rmdir(path)

    def set_mtime(self, relpath: str, mtime: float) -> None:
        path = self._path(relpath)
        self._refuse_outside(os.path.dirname(path))
        os.utime(path, (mtime, mtime), follow_symlinks=False)

    def relative_dir(self, folder: str) -> str | None:
        real = os.path.realpath(os.path.join(self.root, folder))
        if os.path.commonpath([real, self._real_root]) != self._real_root:
            return None
        relative = os.path.relpath(real, self._real_root)
        return '' if relative == '.' else relative.replace(os.sep, '/')

    def move_into(self, relpath: str, folder: str, new_relpath: str) -> None:
        refuse_unsafe(new_relpath)
        new_path = os.path.join(os.path.normpath(os.path.join(self.root, folder)), new_relpath)
        os.makedirs(os.path.dirname(new_path), exist_ok=True)
        if os.path.lexists(new_path):
            raise FileExistsError(errno.EEXIST, 'a file exists under this name', new_path)
        os.rename(self._path(relpath), new_path)


def _identity(path: str) -> tuple | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _inside(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder


def _open_for_writing(path: str, offset: int, exclusive: bool):
    """Opens a file for writing, never through a symbolic link: a link where the
    file goes is replaced (as a rename would), except when the file is continued
    at ``offset`` or must not exist (``exclusive``)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    if exclusive:
        flags |= os.O_EXCL
    if not offset:
        flags |= os.O_TRUNC
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as exc:
        if exc.errno != errno.ELOOP or offset or exclusive:
            raise
        os.unlink(path)
        fd = os.open(path, flags, 0o666)
    # unbuffered: what comes is written in chunks already, and a buffered file costs
    # two more system calls per file (isatty, tell)
    return open(fd, 'wb', buffering=0)


# an fsync() that fails with these may have lost data
_SYNC_FAILURES = {errno.EIO, errno.ENOSPC, errno.EDQUOT}


def _fsync(fd: int) -> None:
    """fsync(); a file system that cannot do it (EINVAL, ENOTSUP...) is left to
    itself, a failure that may have lost data is raised."""
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno in _SYNC_FAILURES:
            raise
        log.debug('fsync not done: %s', exc.strerror)


def _unlink_quietly(path):
    try:
        os.unlink(path)
    except OSError as exc:
        log.warning('could not remove partial file %s: %s', path, exc.strerror)


def _fileno(reader):
    try:
        return reader.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def _refuse_same_file(in_fd, path):
    try:
        target = os.stat(path)
    except FileNotFoundError:
        return
    source = os.fstat(in_fd)
    if (source.st_dev, source.st_ino) == (target.st_dev, target.st_ino):
        raise OSError(errno.EINVAL, 'source and target are the same file', path)


def _kernel_copy(in_fd: int, out_fd: int, progress, reader):
    """Copies a regular file from its position to the target's with
    copy_file_range, else sendfile, else pread/write, skipping the source's holes
    (the target gets holes there too); None when ``in_fd`` is not a regular file
    (nothing written then): the caller reads it as a stream. All bytes, holes
    included, are counted by ``reader`` (a SourceReader) as if it had read them."""
    if not stat.S_ISREG(os.fstat(in_fd).st_mode):
        return None
    start = os.lseek(in_fd, 0, os.SEEK_CUR)
    out_start = _position(out_fd)   # None: not seekable, holes are written as zeros
    total = 0
    holes = False
    limit = getattr(reader, 'limit', None)
    copies = [_copy_file_range, _sendfile, _pread_write]
    while True:
        try:
            # one byte past the limit is enough to tell that the file grew
            most = KERNEL_CHUNK if limit is None else min(KERNEL_CHUNK, limit + 1 - total)
            hole = _hole_ahead(in_fd, start + total, most) if out_start is not None else 0
            if hole:
                count, holes = hole, True
            else:
                if holes:
                    os.lseek(out_fd, out_start + total, os.SEEK_SET)
                count = copies[0](in_fd, out_fd, start + total,
                                  _data_ahead(in_fd, start + total, most))
                if not count:
                    break
                del copies[1:]   # this one works: no other after it
        except OSError as exc:
            if len(copies) > 1 and exc.errno in _NO_KERNEL_COPY:
                copies.pop(0)
                continue
            _raise_read_error_if_source(in_fd, start + total)
            raise
        total += count
        if hasattr(reader, 'got'):
            reader.got(count)
        if progress:
            progress(count)
    if holes:   # the size is the whole, also when the file ends in a hole
        os.ftruncate(out_fd, out_start + total)
        os.lseek(out_fd, out_start + total, os.SEEK_SET)
    return total


def _position(fd: int) -> int | None:
    try:
        return os.lseek(fd, 0, os.SEEK_CUR)
    except OSError:
        return None


def _hole_ahead(fd: int, offset: int, most: int) -> int:
    """How many bytes from ``offset`` on (at most ``most``) are a hole of the file,
    before its end: 0 at data, at the end, or where the file system cannot tell."""
    try:
        data = os.lseek(fd, offset, os.SEEK_DATA)
    except OSError as exc:
        if exc.errno != errno.ENXIO:     # no SEEK_DATA here: all of it is data
            return 0
        data = os.fstat(fd).st_size      # no data after offset: a hole up to the end
    return max(0, min(data - offset, most))


def _data_ahead(fd: int, offset: int, most: int) -> int:
    """How many bytes from ``offset`` on (at most ``most``) are data before a hole."""
    try:
        hole = os.lseek(fd, offset, os.SEEK_HOLE)
    except OSError:
        return most
    return min(hole - offset, most) if hole > offset else most


def _copy_file_range(in_fd, out_fd, offset, count):
    return os.copy_file_range(in_fd, out_fd, count, offset)


def _sendfile(in_fd, out_fd, offset, count):
    return os.sendfile(out_fd, in_fd, offset, count)


def _pread_write(in_fd, out_fd, offset, count):
    data = os.pread(in_fd, min(count, CHUNK_SIZE), offset)
    view = memoryview(data)
    while view:
        view = view[os.write(out_fd, view):]
    return len(data)


def _raise_read_error_if_source(in_fd, offset):
    """After a failed kernel copy: if the source cannot be read there, it is a
    source error."""
    try:
        os.pread(in_fd, 1, offset)
    except OSError as exc:
        raise SourceReadError(exc) from exc


# A listing holds an identity per file until the run ends: packed, it takes 65 bytes
# instead of some 190 (a tuple of four ints); 100,000 files listed, 12 MiB less.
_IDENTITY = struct.Struct('<QQqq')


def _entry(relpath: str, file_stat: os.stat_result) -> FileEntry:
    found = (file_stat.st_dev, file_stat.st_ino, file_stat.st_mtime_ns, file_stat.st_ctime_ns)
    try:
        identity = _IDENTITY.pack(*found)
    except struct.error:      # a time past 2262 (ext4 takes up to 2446): kept unpacked
        identity = found
    return FileEntry(relpath, file_stat.st_size, file_stat.st_mtime, None, identity)

