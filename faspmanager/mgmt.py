"""FASPMGR messages of ascp's management port: parsing and formatting. Pure functions
and an incremental parser over a byte stream; no sockets here.

A message is a header line ``FASPMGR <version>``, lines ``Key: Value`` and an empty
line. ascp reports with version 2; the stream commands (PUT, WRITE, CLOSE) use version 4,
and a WRITE is followed by exactly ``Size`` payload bytes and ``\\n\\n``. Values carrying a
newline are escaped with ESC (0x1B): ``ESC n`` is LF, ``ESC r`` is CR, ``ESC ESC`` is ESC.
"""

from __future__ import annotations

import logging
import re

from .errors import ProtocolError

log = logging.getLogger('faspmanager.mgmt')

HEADER = 'FASPMGR'
VERSION = 2
STREAM_VERSION = 4
MAX_LINE = 1 << 20          # no sane header line is longer; guards memory
ESC = '\x1b'

# Field types (aspera-cli's management parser lists, plus the counters of DONE,
# ARGSTOP and FILEERROR).
INT_FIELDS = frozenset('''
    Bytescont FaspFileArgIndex StartByte EndByte Rate MinRate Port Priority RateCap MinRateCap
    TCPPort CreatePolicy TimePolicy DatagramSize XoptFlags VLinkVersion PeerVLinkVersion
    DSPipelineDepth PeerDSPipelineDepth ReadBlockSize WriteBlockSize ClusterNumNodes
    ClusterNodeId Size Written Loss FileBytes PreTransferBytes PartialPreTransferBytes
    TransferBytes PMTU Elapsedusec Delay Code ArgScansAttempted ArgScansCompleted
    PathScansAttempted PathScansFailed PathScansIrregular PathScansExcluded DirScansCompleted
    FileScansCompleted DirCreatesAttempted DirCreatesFailed DirCreatesPassed
    TransfersAttempted TransfersFailed TransfersPassed TransfersSkipped PreTransferFiles
    PreTransferDirs PreTransferSpecial PreTransferFailed PreTransferExcluded
    ArgTransfersAttempted ArgTransfersFailed ArgTransfersPassed ArgTransfersSkipped
    Offset ChunkSize RetryTimeout XferRetry ServiceLevel BWMeasurement
'''.split())
BOOL_FIELDS = frozenset('''
    Encryption Remote RateLock MinRateLock PolicyLock FilesEncrypt FilesDecrypt
    VLinkLocalEnabled VLinkRemoteEnabled MoveRange Keepalive TestLogin UseProxy Precalc
    RTTAutocorrect Stalled
'''.split())

_INT = re.compile(r'-?\d+\Z')
_HEADER = re.compile(r'FASPMGR (\d+)\Z')


def escape(value: str) -> str:
    """A value made safe for one line."""
    return value.replace(ESC, ESC + ESC).replace('\n', ESC + 'n').replace('\r', ESC + 'r')


def unescape(value: str) -> str:
    """The inverse of escape(); unknown ESC sequences stay as they are."""
    if ESC not in value:
        return value
    out, i = [], 0
    while i < len(value):
        char = value[i]
        if char == ESC and i + 1 < len(value) and value[i + 1] in (ESC, 'n', 'r'):
            out.append({ESC: ESC, 'n': '\n', 'r': '\r'}[value[i + 1]])
            i += 2
        else:
            out.append(char)
            i += 1
    return ''.join(out)


def typed(key: str, value: str):
    """A field's value as int or bool when the field is of that type and the text
    says so (``Rate: 50%`` stays a string); otherwise the string."""
    if key in INT_FIELDS and _INT.match(value):
        return int(value)
    if key in BOOL_FIELDS and value in ('Yes', 'No'):
        return value == 'Yes'
    return value


class Message:
    """One management message: ``type``, ``fields`` (str values, in order),
    ``version`` and, for WRITE, the ``payload`` bytes."""

    __slots__ = ('type', 'fields', 'version', 'payload')

    def __init__(self, type: str, fields: dict | None = None, version: int = VERSION,
                 payload: bytes | None = None):
        self.type = type
        self.fields = dict(fields or {})
        self.version = version
        self.payload = payload

    def get(self, key: str, default=None):
        """The field's typed value (see ``typed``), or ``default``."""
        value = self.fields.get(key)
        return default if value is None else typed(key, value)

    def text(self, key: str, default=None) -> str | None:
        """The field's raw text."""
        return self.fields.get(key, default)

    def typed_fields(self) -> dict:
        return {key: typed(key, value) for key, value in self.fields.items()}

    def __eq__(self, other):
        return (isinstance(other, Message) and self.type == other.type
                and self.fields == other.fields and self.version == other.version
                and self.payload == other.payload)

    def __repr__(self):
        extra = f', payload={len(self.payload)} bytes' if self.payload is not None else ''
        return f'Message({self.type!r}, {self.fields!r}, version={self.version}{extra})'


def _decode(raw: bytes) -> str:
    return raw.decode('utf-8', 'surrogateescape')


def _encode(text: str) -> bytes:
    return text.encode('utf-8', 'surrogateescape')


class Parser:
    """Turns a byte stream into Messages, whatever the chunking: ``feed()`` returns
    the messages completed by the new bytes. Raises ProtocolError on bytes that are
    not FASPMGR framing (the stream is then unusable)."""

    def __init__(self):
        self._buf = bytearray()
        self._msg: Message | None = None      # message being read (header seen)
        self._payload_left: int | None = None  # WRITE payload bytes still expected
        self._trailer = False                 # waiting for the \n\n after a payload

    @property
    def pending(self) -> bool:
        """True when a message has started but is not complete."""
        return self._msg is not None or bool(self._buf.strip(b'\n'))

    def feed(self, data: bytes) -> list[Message]:
        self._buf += data
        done: list[Message] = []
        while True:
            if self._payload_left is not None:
                if not self._take_payload():
                    break
                continue
            if self._trailer:
                if len(self._buf) < 2:
                    break
                if self._buf[:2] != b'\n\n':
                    raise ProtocolError('a WRITE payload must be followed by an empty line')
                del self._buf[:2]
                self._trailer = False
                done.append(self._finish())
                continue
            end = self._buf.find(b'\n')
            if end < 0:
                if len(self._buf) > MAX_LINE:
                    raise ProtocolError('management line too long')
                break
            line = _decode(bytes(self._buf[:end]))
            del self._buf[:end + 1]
            message = self._line(line.removesuffix('\r'))
            if message is not None:
                done.append(message)
        return done

    def _line(self, line: str) -> Message | None:
        header = _HEADER.match(line)
        if header:
            if self._msg is not None:
                log.warning('incomplete management message %s dropped', self._msg.type or '')
            self._msg = Message('', version=int(header.group(1)))
            return None
        if self._msg is None:
            if line == '':
                return None          # blank lines between messages are harmless
            raise ProtocolError(f'management data outside a message: {line[:80]!r}')
        if line == '':
            if self._msg.type == 'WRITE' and 'Size' in self._msg.fields:
                size = self._msg.get('Size')
                if not isinstance(size, int) or size < 0:
                    raise ProtocolError(f'bad WRITE size {self._msg.fields["Size"]!r}')
                self._msg.payload = bytearray()
                self._payload_left = size
                return None
            return self._finish()
        key, colon, value = line.partition(':')
        if not colon or not key:
            raise ProtocolError(f'management line without "Key:": {line[:80]!r}')
        value = unescape(value.removeprefix(' '))
        if key == 'Type':
            self._msg.type = value
        else:
            self._msg.fields[key] = value
        return None

    def _take_payload(self) -> bool:
        """Moves payload bytes out of the buffer; True once the payload is complete."""
        take = min(self._payload_left, len(self._buf))
        self._msg.payload += self._buf[:take]
        del self._buf[:take]
        self._payload_left -= take
        if self._payload_left:
            return False
        self._payload_left = None
        self._trailer = True
        return True

    def _finish(self) -> Message:
        message, self._msg = self._msg, None
        if message.payload is not None:
            message.payload = bytes(message.payload)
        if not message.type:
            raise ProtocolError('management message without a Type')
        return message


def parse(data: bytes) -> list[Message]:
    """All messages of a complete byte string (a last message needs its empty line)."""
    parser = Parser()
    messages = parser.feed(data)
    if parser.pending:
        raise ProtocolError('incomplete management message at the end')
    return messages


def format_message(msg_type: str, fields=(), version: int = VERSION,
                   payload: bytes | None = None) -> bytes:
    """A message's bytes. ``fields`` is a dict or (key, value) pairs; None values are
    left out, bools become Yes/No."""
    items = fields.items() if isinstance(fields, dict) else fields
    lines = [f'{HEADER} {version}', f'Type: {msg_type}']
    for key, value in items:
        if value is None:
            continue
        if not key or ':' in key or '\n' in key or key == 'Type':
            raise ValueError(f'bad management field name {key!r}')
        if isinstance(value, bool):
            value = 'Yes' if value else 'No'
        lines.append(f'{key}: {escape(str(value))}')
    data = _encode('\n'.join(lines) + '\n\n')
    if payload is not None:
        data += bytes(payload) + b'\n\n'
    return data


def encode(message: Message) -> bytes:
    """The bytes of a Message (the inverse of the parser)."""
    return format_message(message.type, message.fields, message.version, message.payload)


# --- commands sent to ascp --------------------------------------------------------

def rate_command(target_kbps: int, min_kbps: int | None = None,
                 adaptive: str | None = None) -> bytes:
    """Changes the target (and optionally minimum) rate of a running transfer."""
    return format_message('RATE', [('Rate', int(target_kbps)), ('MinRate', min_kbps),
                                   ('Adaptive', adaptive)])


def cancel_command() -> bytes:
    """Cancels a running transfer."""
    return format_message('CANCEL')


def start_command(source: str, destination: str | None = None,
                  start_byte: int | None = None, end_byte: int | None = None) -> bytes:
    """Adds a file to a persistent (--keepalive) session; the optional byte range
    ``[start_byte, end_byte)`` is sent as ``FileBytes: start:end``."""
    file_bytes = None
    if start_byte is not None or end_byte is not None:
        file_bytes = f'{"" if start_byte is None else int(start_byte)}:' \
                     f'{"" if end_byte is None else int(end_byte)}'
    return format_message('START', [('Source', source), ('Destination', destination),
                                    ('FileBytes', file_bytes)])


def parse_byte_range(text: str) -> tuple[int | None, int | None]:
    """``'10:20'`` -> (10, 20); either side may be empty."""
    low, colon, high = text.partition(':')
    try:
        if not colon:
            raise ValueError
        return (int(low) if low else None, int(high) if high else None)
    except ValueError:
        raise ProtocolError(f'bad byte range {text!r}') from None


def done_command(linger: bool = False) -> bytes:
    """Ends a persistent session: at once, or (``linger``) after the queued files."""
    return format_message('DONE', [('Operation', 'Linger' if linger else None)])


def put_command(destination: str) -> bytes:
    """Opens a destination file of a --faspmgr-io stream."""
    return format_message('PUT', [('Destination', destination)], STREAM_VERSION)


def write_command(destination: str, offset: int, data: bytes) -> bytes:
    """Writes ``data`` at ``offset`` of a stream's destination file."""
    return format_message('WRITE', [('Destination', destination), ('Offset', int(offset)),
                                    ('Size', len(data))], STREAM_VERSION, payload=data)


def close_command(destination: str) -> bytes:
    """Closes a stream's destination file."""
    return format_message('CLOSE', [('Destination', destination)], STREAM_VERSION)
