"""`[target] resume`: continue an interrupted file from the bytes its temp file
already holds, instead of sending it all again.

The temp file of an interrupted file stays on the target (a lost connection,
SIGTERM, a killed run). When the next try or run writes that file, the temp file's
bytes are used if they are a prefix of the source: the temp file is not longer than
the source, and its last `CHECK_BYTES` (or all of it, when shorter) are the same
as the source's bytes at that place (compared by SHA-256). The source is then read
from just before that point: the bytes compared, then the rest, which is written
after the temp file's bytes. Anything else writes the file from its start.

The comparison relies on the source not having changed in the part before the
bytes compared; a source that is rewritten in place with the same bytes at the end
is not detected (the size check after the transfer catches a change of size).
Resume needs `temp` (a partial file under the final name would look complete to
its readers) and endpoints that can read and write from an offset (local, SFTP,
FTP servers with REST STREAM); a FASP host resumes with its own `resume` option.
"""

import logging

from filetransfer.endpoints.base import OffsetRefused
from filetransfer.errors import error_text

log = logging.getLogger(__name__)

CHECK_BYTES = 1 << 20


def possible(source, target) -> bool:
    """Whether both (open) endpoints can continue a file at an offset."""
    return source.capabilities.resume and target.capabilities.resume


def open_source(source, target, entry, written_as: str):
    """Opens the source file ``entry`` for writing it as ``written_as``: returns the
    file object and the offset to write from (0 unless the target's temp file can
    be continued). Raises OSError (reading the source) and TransferError."""
    # an endpoint can find out only while the run goes that it cannot continue files
    offset = _usable_prefix(target, entry, written_as) if possible(source, target) else 0
    if not offset:
        return source.open_read(entry.path, expected=entry), 0
    check = min(offset, CHECK_BYTES)
    theirs = _target_digest(target, entry, written_as, offset - check, check)
    if theirs is None:
        return source.open_read(entry.path, expected=entry), 0
    try:
        raw = source.open_read(entry.path, offset - check, expected=entry)
    except OffsetRefused:
        return source.open_read(entry.path, expected=entry), 0
    try:
        ours = _digest(raw, check)
    except BaseException:
        raw.close()
        raise
    if ours == theirs:
        log.info('resuming %s at byte %d of %d (the %d bytes before it match the source)',
                 entry.path, offset, entry.size, check)
        return raw, offset
    raw.close()
    log.info('not resuming %s: the bytes of %s before byte %d differ from the source; '
             'writing it from the start', entry.path, written_as, offset)
    return source.open_read(entry.path, expected=entry), 0


def _usable_prefix(target, entry, written_as) -> int:
    """The size of the temp file when it may be a prefix of the source, else 0."""
    try:
        found = target.stat(written_as)
    except OSError as exc:
        log.info('not resuming %s: cannot look at %s: %s', entry.path, written_as,
                 error_text(exc))
        return 0
    have = found.size if found else 0
    if not have:
        return 0
    if have > entry.size:
        log.info('not resuming %s: %s has more bytes (%d) than the source (%d)', entry.path,
                 written_as, have, entry.size)
        return 0
    return have


def _target_digest(target, entry, written_as, start, count):
    """The digest of the temp file from ``start`` to its end, which must be
    ``count`` bytes; None when it cannot be read or has another size."""
    try:
        with target.open_read(written_as, start) as fh:
            digest = _digest(fh, count)
            extra = fh.read(1)
    except OSError as exc:
        log.info('not resuming %s: cannot read %s: %s', entry.path, written_as,
                 exc.strerror or exc)
        return None
    if digest is None or extra:
        log.info('not resuming %s: %s changed meanwhile', entry.path, written_as)
        return None
    return digest


def _digest(fh, count: int):
    """SHA-256 of the next ``count`` bytes of ``fh``; None when it ends before."""
    import hashlib

    digest = hashlib.sha256()
    buffer = bytearray(min(count, CHECK_BYTES) or 1)
    view = memoryview(buffer)
    left = count
    while left:
        got = fh.readinto(view[:min(left, len(buffer))])
        if not got:
            return None
        digest.update(view[:got])
        left -= got
    return digest.digest()
