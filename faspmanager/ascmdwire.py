"""ascmd's wire format: text requests in, type-length-value results out.

A request is one line: ``as_<op>`` and its arguments, each in double quotes with ``\\``
and ``"`` escaped by a backslash (``as_ls "/in/a \\"b\\""``). An answer is a stream of
TLVs: 1 type byte, a 4-byte big-endian length, then the value. A result's value is a
list of TLVs itself, one per field (a directory listing: one TLV per entry, each a
stat's field list). Types and fields count from 1, in the order below; integers are
big-endian (int32, int64), times int64 seconds since the epoch, strings end with a NUL.
"""

from __future__ import annotations

import enum
import struct

# Result types (the type byte of a top-level TLV).
class Result(enum.IntEnum):
    FILE = 1        # one stat: as_ls of a file
    DIR = 2         # a list of stats: as_ls of a directory
    SIZE = 3        # as_du
    ERROR = 4       # errno and text
    INFO = 5        # the server's platform, version, locale...
    SUCCESS = 6     # as_rm, as_mkdir, as_mv, as_cp
    EXIT = 7
    DF = 8          # mount points
    MD5SUM = 9


# Each record's fields in wire order (field number = index + 1) with their kind.
STAT_FIELDS = (('name', 'str'), ('size', 'int64'), ('mode', 'int32'), ('zmode', 'str'),
               ('uid', 'int32'), ('zuid', 'str'), ('gid', 'int32'), ('zgid', 'str'),
               ('ctime', 'int64'), ('zctime', 'str'), ('mtime', 'int64'), ('zmtime', 'str'),
               ('atime', 'int64'), ('zatime', 'str'), ('symlink', 'str'), ('errno', 'int32'),
               ('errstr', 'str'))
INFO_FIELDS = (('platform', 'str'), ('version', 'str'), ('lang', 'str'), ('territory', 'str'),
               ('codeset', 'str'), ('lc_ctype', 'str'), ('lc_numeric', 'str'),
               ('lc_time', 'str'), ('lc_all', 'str'), ('dev', 'strs'), ('browse_caps', 'str'),
               ('protocol', 'str'))
SIZE_FIELDS = (('size', 'int64'), ('fcount', 'int32'), ('dcount', 'int32'),
               ('failed_fcount', 'int32'), ('failed_dcount', 'int32'))
ERROR_FIELDS = (('errno', 'int32'), ('errstr', 'str'))
MD5SUM_FIELDS = (('md5sum', 'str'),)

HEADER = struct.Struct('>BI')
MAX_VALUE = 1 << 30          # no sane answer is larger; guards memory


class WireError(ValueError):
    """Bytes that are not ascmd's format."""


def quote(arg: str) -> str:
    """One argument of a request line."""
    if '\n' in arg or '\r' in arg or '\0' in arg:
        raise ValueError(f'ascmd cannot take a line break or NUL in an argument: {arg!r}')
    return '"' + arg.replace('\\', '\\\\').replace('"', '\\"') + '"'


def request(op: str, *args: str) -> bytes:
    """A request line, e.g. ``request('ls', '/in')`` -> ``as_ls "/in"\\n``."""
    return ' '.join([f'as_{op}', *(quote(arg) for arg in args)]).encode(
        'utf-8', 'surrogateescape') + b'\n'


def split_request(line: str) -> list[str]:
    """The words of a request line: quoted (with backslash escapes) or bare, separated
    by spaces or tabs. Raises WireError on an unterminated quote."""
    words, i = [], 0
    while i < len(line):
        if line[i] in ' \t':
            i += 1
            continue
        if line[i] != '"':
            end = i
            while end < len(line) and line[end] not in ' \t':
                end += 1
            words.append(line[i:end])
            i = end
            continue
        out, i = [], i + 1
        while True:
            if i >= len(line):
                raise WireError('unterminated quote')
            char = line[i]
            if char == '\\' and i + 1 < len(line):
                out.append(line[i + 1])
                i += 2
            elif char == '"':
                i += 1
                break
            else:
                out.append(char)
                i += 1
        words.append(''.join(out))
    return words


def tlv(kind: int, value: bytes) -> bytes:
    return HEADER.pack(kind, len(value)) + value


def _value(kind: str, value) -> bytes:
    if kind == 'int32':
        return struct.pack('>I', value & 0xFFFFFFFF)
    if kind == 'int64':
        return struct.pack('>Q', value & 0xFFFFFFFFFFFFFFFF)
    return value.encode('utf-8', 'surrogateescape') + b'\0'


def encode_record(fields, record: dict) -> bytes:
    """A record's field list; fields missing from ``record`` (or None) are left out."""
    out = []
    for number, (name, kind) in enumerate(fields, 1):
        value = record.get(name)
        if value is None:
            continue
        for item in (value if kind == 'strs' else [value]):
            out.append(tlv(number, _value('str' if kind == 'strs' else kind, item)))
    return b''.join(out)


def encode_result(result: Result, payload=None) -> bytes:
    """A top-level result: FILE, INFO, SIZE, ERROR, MD5SUM take a record (dict), DIR a
    list of stat records, SUCCESS and EXIT nothing."""
    if result is Result.DIR:
        value = b''.join(tlv(Result.FILE, encode_record(STAT_FIELDS, entry))
                         for entry in payload)
    elif result in (Result.SUCCESS, Result.EXIT):
        value = b''
    else:
        value = encode_record(RECORD_FIELDS[result], payload)
    return tlv(result, value)


def split(data: bytes) -> list[tuple[int, bytes]]:
    """A buffer's TLVs as (type, value) pairs."""
    items, pos = [], 0
    while pos < len(data):
        if len(data) - pos < HEADER.size:
            raise WireError('truncated TLV header')
        kind, length = HEADER.unpack_from(data, pos)
        pos += HEADER.size
        if length > len(data) - pos:
            raise WireError('truncated TLV value')
        items.append((kind, data[pos:pos + length]))
        pos += length
    return items


def decode_record(fields, value: bytes) -> dict:
    """A field list as a dict (unknown field numbers are ignored)."""
    record: dict = {}
    for number, raw in split(value):
        if not 1 <= number <= len(fields):
            continue
        name, kind = fields[number - 1]
        if kind in ('int32', 'int64'):
            size = 4 if kind == 'int32' else 8
            if len(raw) != size:
                raise WireError(f'field {name}: {len(raw)} bytes for an {kind}')
            record[name] = int.from_bytes(raw, 'big')
        else:
            text = raw.split(b'\0', 1)[0].decode('utf-8', 'surrogateescape')
            if kind == 'strs':
                record.setdefault(name, []).append(text)
            else:
                record[name] = text
    return record


def decode_result(kind: int, value: bytes):
    """(Result, payload) of a top-level TLV: a record, a list of stat records (DIR),
    or None. Raises WireError for an unknown type."""
    try:
        result = Result(kind)
    except ValueError:
        raise WireError(f'unknown ascmd result type {kind}') from None
    if result is Result.DIR:
        return result, [decode_record(STAT_FIELDS, entry) for _, entry in split(value)]
    if result in (Result.SUCCESS, Result.EXIT):
        return result, None
    if result is Result.DF:
        return result, value          # not interpreted
    return result, decode_record(RECORD_FIELDS[result], value)


RECORD_FIELDS = {Result.FILE: STAT_FIELDS, Result.INFO: INFO_FIELDS, Result.SIZE: SIZE_FIELDS,
                 Result.ERROR: ERROR_FIELDS, Result.MD5SUM: MD5SUM_FIELDS}
