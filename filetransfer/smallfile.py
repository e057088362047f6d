"""Reading the small files a configuration names (private keys, known-hosts files,
mail templates) safely: only a regular file, and only up to a size limit, so that
a device, a FIFO or a huge file named by mistake is an error, not a hang or
exhausted memory. And replacing a small file atomically."""

import errno
import io
import os
import stat

MAX_SIZE = 1 << 20


class UnsuitableFile(OSError):
    """Not a regular file, or larger than the limit; ``strerror`` says which."""


def problem(info: os.stat_result, limit: int = MAX_SIZE) -> str | None:
    """Why a file of this status is no small regular file, or None when it is one."""
    if not stat.S_ISREG(info.st_mode):
        return 'not a regular file'
    if info.st_size > limit:
        return f'larger than {_size(limit)}'
    return None


def read_small_file(path: str, limit: int = MAX_SIZE) -> bytes:
    """The content of the regular file ``path`` (symbolic links followed).

    Raises UnsuitableFile for anything else or for a file larger than ``limit``
    bytes, and OSError when it cannot be opened or read."""
    # O_NONBLOCK: opening a FIFO must not wait for a writer.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        reason = problem(os.fstat(fd), limit)
        if reason:
            raise UnsuitableFile(errno.EINVAL, reason, path)
        chunks, size = [], 0
        while size <= limit:    # the file may grow while it is read
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise UnsuitableFile(errno.EFBIG, f'larger than {_size(limit)}', path)
        return b''.join(chunks)
    finally:
        os.close(fd)


def read_small_text(path: str, errors: str = 'strict', limit: int = MAX_SIZE) -> str:
    """``read_small_file`` as UTF-8 text, line ends read as ``open()`` reads them."""
    return io.TextIOWrapper(io.BytesIO(read_small_file(path, limit)), encoding='utf-8',
                            errors=errors).read()


def replace_text(path: str, text: str, mode: int, prefix: str = '.tmp.') -> None:
    """Replaces the file ``path`` with ``text`` (UTF-8) atomically: written to a temp
    file named ``prefix``... in the same directory, given ``mode``, then renamed, so a
    reader sees the old file or the new one, whole. Raises OSError."""
    import tempfile

    fd, temp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=prefix)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as fh:
            fh.write(text)
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


def _size(limit: int) -> str:
    return f'{limit >> 20} MiB' if limit and limit % (1 << 20) == 0 else f'{limit} bytes'
