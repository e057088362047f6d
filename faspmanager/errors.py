"""The exceptions of faspmanager and ascp's error codes (the ``Code`` field of the
management port's ERROR and FILEERROR messages)."""

from __future__ import annotations

import enum


class AuthenticationError(ValueError):
    """An order names neither a password nor an identity (private key) file."""


class InvalidPathError(ValueError):
    """Source and destination paths of an order do not pair up, or a path cannot be
    passed to ascp."""


class SessionStateError(ValueError):
    """A session method was called in a state that does not allow it (not started,
    already started, already finished or closed)."""


class StreamStateError(ValueError):
    """A stream method was called in a state that does not allow it (not open)."""


class SessionStartError(RuntimeError):
    """ascp could not be started, or it did not connect to the management port."""


class ProtocolError(ValueError):
    """Bytes on the management port that are not a FASPMGR message."""


class ErrorCode(enum.IntEnum):
    """ascp's management error codes (faspmgmt.h, codes 1-49; aspera-cli, 0 and 50-66)."""

    UNKNOWN = 0
    FASP_PROTO = 1
    ASCP = 2
    AMBIGUOUS_TARGET = 3
    NO_SUCH_FILE = 4
    NO_PERMS = 5
    NOT_DIR = 6
    IS_DIR = 7
    USAGE = 8
    LIC_DUP = 9
    LIC_RATE_EXCEEDED = 10
    INTERNAL_ERROR = 11
    TRANSFER_ERROR = 12
    TRANSFER_TIMEOUT = 13
    CONNECTION_ERROR = 14
    CONNECTION_TIMEOUT = 15
    CONNECTION_LOST = 16
    RCVR_SEND_ERROR = 17
    RCVR_RECV_ERROR = 18
    AUTH = 19
    NOTHING = 20
    NOT_REGULAR = 21
    FILE_TABLE_OVR = 22
    TOO_MANY_FILES = 23
    FILE_TOO_BIG = 24
    NO_SPACE_LEFT = 25
    READ_ONLY_FS = 26
    SOME_FILE_ERRS = 27
    USER_CANCEL = 28
    LIC_NOLIC = 29
    LIC_EXPIRED = 30
    SOCK_SETUP = 31
    OUT_OF_MEMORY = 32
    THREAD_SPAWN = 33
    UNAUTHORIZED = 34
    DISK_READ = 35
    DISK_WRITE = 36
    AUTHORIZATION = 37
    LIC_ILLEGAL = 38
    PEER_ABORTED_SESSION = 39
    DATA_TRANSFER_TIMEOUT = 40
    BAD_PATH = 41
    ALREADY_EXISTS = 42
    STAT_FAILS = 43
    PMTU_BRTT_ERROR = 44
    BWMEAS_ERROR = 45
    VLINK_ERROR = 46
    CONNECTION_ERROR_HTTP = 47
    FILE_ENCRYPTION_ERROR = 48
    FILE_DECRYPTION_PASS = 49
    BAD_CONFIGURATION = 50
    INSECURE_CONNECTION = 51
    START_VALIDATION_FAILED = 52
    STOP_VALIDATION_FAILED = 53
    THRESHOLD_VALIDATION_FAILED = 54
    FILEPATH_TOO_LONG = 55
    ILLEGAL_CHARS_IN_PATH = 56
    CHUNK_MUST_MATCH_ALIGNMENT = 57
    VALIDATION_SESSION_ABORT = 58
    REMOTE_STORAGE_ERROR = 59
    LUA_SCRIPT_ABORTED_SESSION = 60
    SSEAR_RETRYABLE = 61
    SSEAR_FATAL = 62
    LINK_LOOP = 63
    CANNOT_RENAME_PARTIAL_FILES = 64
    CIPHER_NON_COMPAT_FIPS = 65
    PEER_REQUIRES_FIPS = 66


DESCRIPTIONS = {
    0: 'Unknown error', 1: 'Generic fasp protocol error', 2: 'Generic ascp error',
    3: 'Target incorrectly specified', 4: 'No such file or directory',
    5: 'Insufficient permission', 6: 'Target is not a directory',
    7: 'Is a directory, regular file expected', 8: 'Incorrect usage',
    9: 'Duplicate license', 10: 'Rate exceeds the license cap', 11: 'Internal error',
    12: 'Error establishing control connection', 13: 'Timeout establishing control connection',
    14: 'Error establishing data connection', 15: 'Timeout establishing data connection',
    16: 'Connection lost', 17: 'Receiver fails to send feedback',
    18: 'Receiver fails to receive data', 19: 'Authentication failure',
    20: 'Nothing to transfer', 21: 'Not a regular file', 22: 'File table overflow',
    23: 'Too many files open', 24: 'File too big for file system', 25: 'No space left on disk',
    26: 'Read-only file system', 27: 'Some individual files failed', 28: 'Cancelled by user',
    29: 'License not found', 30: 'License expired', 31: 'Socket setup failure',
    32: 'Out of memory', 33: 'Cannot spawn thread', 34: 'Unauthorized by external auth server',
    35: 'Disk read error', 36: 'Disk write error', 37: 'Authorization failure',
    38: 'Operation not permitted by license', 39: 'Remote peer terminated session',
    40: 'Transfer stalled, timed out', 41: 'Path violates docroot containment',
    42: 'File or directory already exists', 43: 'Cannot stat file',
    44: 'UDP session initiation fatal error', 45: 'Bandwidth measurement fatal error',
    46: 'Virtual link error', 47: 'Error establishing HTTP connection',
    48: 'File encryption error', 49: 'File decryption error, bad passphrase',
    50: 'Invalid aspera.conf', 51: 'Remote host key check failure',
    52: 'File start validation failed', 53: 'File stop validation failed',
    54: 'File threshold validation failed', 55: 'Path too long for file system',
    56: 'Illegal characters in path', 57: 'Chunk size or start not aligned',
    58: 'Session aborted due to validation error', 59: 'Remote storage error',
    60: 'Session aborted by script', 61: 'Retryable encryption-at-rest error',
    62: 'Fatal encryption-at-rest error', 63: 'Symbolic link loop',
    64: 'Cannot rename partial file', 65: 'Cipher not allowed in FIPS mode',
    66: 'Peer requires a FIPS cipher',
}

# ascp's own list (as_mgmt_err_is_retryable, copied by aspera-cli); 47 and 69 follow the
# newer aspera-cli.
RETRYABLE_CODES = frozenset({12, 13, 14, 15, 16, 17, 18, 23, 32, 33, 35, 36, 37, 39, 40,
                             44, 45, 47, 61, 69})


def is_retryable(code: int | None, description: str | None = None) -> bool:
    """Whether a failure with this ascp error code is worth retrying later.

    Code 14 is not retryable when ascp says the target address is not available
    (a configuration problem, not a transient one)."""
    if code is None:
        return False
    if code == ErrorCode.CONNECTION_ERROR and description and \
            'target address not available' in description.lower():
        return False
    return int(code) in RETRYABLE_CODES


def describe(code: int) -> str:
    """A short English description of an ascp error code."""
    return DESCRIPTIONS.get(int(code), f'Error code {int(code)}')
