"""Value types of config options.

Each type is a callable taking the raw string and returning the parsed value; it
raises ``ValueError`` whose text says what was expected. The loader adds the file,
section, option and the raw value to that text. An empty value is handed to the type
like any other (it is the empty string, not "unset"), as FileTransfer 0.11 does.

Where FileTransfer 0.11 took a doubtful value leniently (an unknown log level, a
negative timeout), the type returns `Adjusted`: the value used and why; the loader
logs it as a warning at every run and `filetransfer check` reports it.
"""

import math
import re
from typing import Any, NamedTuple


class Adjusted(NamedTuple):
    """A value taken leniently: ``value`` is used, ``note`` says how and why."""

    value: Any
    note: str

_TRUE = {'yes', 'true', 'on', '1'}
_FALSE = {'no', 'false', 'off', '0'}


def text(raw: str) -> str:
    return raw


def path(raw: str) -> str:
    """A file or directory path (relative ones to the working directory); an empty
    value is the working directory."""
    if '\0' in raw:
        raise ValueError('expected a path without NUL characters')
    return raw or '.'


def source_path(raw: str) -> str:
    """The source directory; an empty one is kept (the run fails: no such directory)."""
    if '\0' in raw:
        raise ValueError('expected a path without NUL characters')
    return raw


def target_path(raw: str) -> str:
    """The target directory; an empty value is refused: files of sub-directories
    would land in the working directory."""
    if not raw:
        raise ValueError('expected a directory, got an empty value')
    return path(raw)


def extension(raw: str) -> str:
    """A file name extension: empty, or starting with a dot."""
    if raw and not raw.startswith('.'):
        raise ValueError("expected an extension starting with '.' (or nothing)")
    if '/' in raw or '\0' in raw:
        raise ValueError('expected an extension without "/"')
    return raw


def boolean(raw: str) -> bool:
    word = raw.lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError('expected yes/no')


def _whole_number(raw: str, low: int, high: int | None, expected: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(expected) from None
    if value < low or high is not None and value > high:
        raise ValueError(expected)
    return value


def non_negative_int(raw: str) -> int:
    return _whole_number(raw, 0, None, 'expected a whole number >= 0')


def positive_int(raw: str) -> int:
    return _whole_number(raw, 1, None, 'expected a whole number > 0')


AUTO = 'auto'


def connections(raw: str) -> int | str:
    """1 to 16 files at once, or AUTO: as many as the files and the protocol call
    for (run/parallel.py)."""
    if raw.lower() == AUTO:
        return AUTO
    return _whole_number(raw, 1, 16, 'expected a whole number from 1 to 16, or auto')


def non_negative_float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError('expected a number >= 0') from None
    if not value >= 0 or value == float('inf'):
        raise ValueError('expected a number >= 0')
    return value


def lenient_count(raw: str) -> int:
    """A whole number; a negative one is 0, as for FileTransfer 0.11."""
    value = _whole_number(raw, -2 ** 63, None, 'expected a whole number >= 0')
    if value < 0:
        return Adjusted(0, 'a negative number counts as 0')
    return value


def lenient_seconds(raw: str) -> float:
    """Seconds (0: none); a negative number or nan is 0, as for FileTransfer 0.11."""
    try:
        value = float(raw)
    except ValueError:
        raise ValueError('expected a number >= 0') from None
    if value == float('inf'):
        raise ValueError('expected a finite number >= 0 (0 for no limit)')
    if math.isnan(value) or value < 0:
        return Adjusted(0.0, 'not a number >= 0: counts as 0 (none)')
    return value


def positive_float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError('expected a number > 0') from None
    if not value > 0 or value == float('inf'):
        raise ValueError('expected a number > 0')
    return value


_DURATION_RE = re.compile(r'^(\d{1,12})\s*([smhd]?)$', re.IGNORECASE)
DURATION_UNITS = {'d': 86400, 'h': 3600, 'm': 60, 's': 1}


def duration(raw: str) -> int:
    """A length of time in whole seconds: a number of seconds, or a number with the
    unit s, m, h or d (``90``, ``90s``, ``15m``, ``2h``, ``1d``); more than 0."""
    match = _DURATION_RE.match(raw)
    expected = 'expected a duration > 0: seconds, or a number with s, m, h or d (90, 15m, 2h, 1d)'
    if not match:
        raise ValueError(expected)
    seconds = int(match[1]) * DURATION_UNITS[(match[2] or 's').lower()]
    if not seconds:
        raise ValueError(expected)
    return seconds


def duration_text(seconds: float) -> str:
    """A duration in the largest unit that divides it (``900`` -> ``15m``)."""
    whole = int(seconds)
    if whole != seconds:
        return f'{seconds}s'
    for unit, size in DURATION_UNITS.items():
        if whole and whole % size == 0:
            return f'{whole // size}{unit}'
    return f'{whole}s'


def port(raw: str) -> int:
    return _whole_number(raw, 1, 65535, 'expected a port number 1-65535')


_HOST_RE = re.compile(r'^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<name>[^\s:\[\]/@\x00-\x1f\x7f]+))'
                      r'(?::(?P<port>\d+))?$')


def host_port(raw: str) -> tuple[str, int | None]:
    """``name[:port]`` or ``[ipv6]:port``; the port is None when not given. An empty
    value is an empty name (connecting to it fails)."""
    if not raw:
        return '', None
    match = _HOST_RE.match(raw)
    if not match:
        raise ValueError('expected name[:port]')
    number = match['port']
    return match['v6'] or match['name'], port(number) if number else None


def comma_list(raw: str) -> tuple[str, ...]:
    items = tuple(item.strip() for item in raw.split(','))
    if not all(items):
        raise ValueError('expected a comma-separated list without empty items')
    return items


def patterns(raw: str) -> tuple[str, ...]:
    """Comma-separated file name patterns; empty items are kept (each matches every
    file), an empty value is no pattern."""
    return tuple(item.strip() for item in raw.split(',')) if raw else ()


def job_id_problem(job_id: str) -> str | None:
    """Why ``job_id`` cannot name a job file below jobs_dir, or None."""
    if not job_id or job_id.startswith(('-', '/')) or '\0' in job_id:
        return 'expected a job file name, relative to jobs_dir'
    if '..' in job_id.split('/') or '' in job_id.split('/'):
        return 'expected a path inside jobs_dir (no "..", no empty part)'
    return None


def job_ids(raw: str) -> tuple[str, ...]:
    """Comma-separated job ids, or ``*`` alone for every job."""
    items = comma_list(raw)
    if '*' in items and len(items) > 1:
        raise ValueError("expected job ids or '*' alone")
    for item in items:
        if item != '*' and (job_id_problem(item) or item in ('.', '..')):
            raise ValueError('expected comma-separated job ids (job files in jobs_dir)')
    return items


# The names FileTransfer 0.11 takes, in any case; NOTSET lets every record through.
# The numbers are logging's (not imported: a job that ends before its run loads no logging).
_LEVELS = {'CRITICAL': 50, 'ERROR': 40, 'WARNING': 30, 'INFO': 20, 'DEBUG': 10, 'NOTSET': 1}


def log_level(raw: str) -> int:
    """A level name (any case); any other text is INFO, as for FileTransfer 0.11."""
    try:
        return _LEVELS[raw.upper()]
    except KeyError:
        return Adjusted(_LEVELS['INFO'], 'not a log level (DEBUG, INFO, WARNING, ERROR, '
                                         'CRITICAL or NOTSET): INFO is used')


# The width and precision of each %-conversion ('%%' has neither).
_FORMAT_NUMBERS_RE = re.compile(r'%(?:%|(?:\([^)]*\))?[#0+ -]*(\d*)(?:\.(\d*))?)')
_MAX_FORMAT_DIGITS = 4


def log_format(raw: str) -> str:
    """A logging format; an empty one logs the bare messages."""
    import logging      # here: a job that ends before its run loads no logging

    expected = 'expected a logging format such as %(asctime)s %(message)s'
    for numbers in _FORMAT_NUMBERS_RE.findall(raw):
        if any(len(number) > _MAX_FORMAT_DIGITS for number in numbers):
            raise ValueError(f'{expected}, with widths and precisions of at most '
                             f'{_MAX_FORMAT_DIGITS} digits')
    record = logging.LogRecord('filetransfer', logging.INFO, __file__, 0, 'message', None, None)
    try:
        logging.Formatter(raw).format(record)
    except Exception:   # formatting a sample record fails as a bad format would
        raise ValueError(expected) from None
    return raw


_LOCK_NAME_RE = re.compile(r'^[\w.-]+$')


def single_instance(raw: str) -> bool | str:
    """yes/no, or the name of a lock shared by every job naming it: any text, the
    lock file being LOCKS_DIR/NAME.lock (a name with '/' is in a sub-directory)."""
    if not raw:
        raise ValueError('expected yes/no or a lock name')
    try:
        return boolean(raw)
    except ValueError:
        pass
    if '\0' in raw or raw.startswith('/') or '..' in raw.split('/'):
        raise ValueError('expected yes/no or a lock name inside locks_dir (no "..", not '
                         'absolute)')
    if not _LOCK_NAME_RE.match(raw):
        return Adjusted(raw, f"a lock name with other characters than letters, digits, "
                             f"_ . -: the lock file is '{raw}.lock' in locks_dir")
    return raw


# One address: ADDR or DISPLAY <ADDR>, ADDR without spaces, quotes, commas, angle
# brackets and at most one '@' (a bare local name such as root is an address too).
_ADDR = r'[^\s<>,"@]+(?:@[^\s<>,"@]+)?'
_ADDRESS_RE = re.compile(rf'^(?:{_ADDR}|[^<>]*<{_ADDR}>)$')


def addresses(raw: str) -> tuple[str, ...]:
    """Comma-separated email addresses, each ``ADDR`` or ``NAME <ADDR>`` as email.utils
    reads them; empty items are left out. Items that would be read as other
    addresses than written (a quoted name with a comma, words outside <...>) are
    refused."""
    items = tuple(item.strip() for item in raw.split(',') if item.strip())
    for item in items:
        if not _ADDRESS_RE.match(item):
            raise ValueError('expected comma-separated addresses (user@domain or Name '
                             '<user@domain>); words outside <...> or a comma in a quoted '
                             'name would send the mail to other addresses than written')
    return items


def choice(*values: str):
    """One of ``values``, compared case-insensitively; returns the canonical spelling."""
    canonical = {value.lower(): value for value in values}

    def parse(raw: str) -> str:
        try:
            return canonical[raw.lower()]
        except KeyError:
            raise ValueError('expected one of ' + ', '.join(values)) from None

    parse.__name__ = 'choice'
    return parse


def temp(raw: str):
    from filetransfer.config.tempnames import TempNames
    return TempNames.parse(raw)


_URL_FORBIDDEN_RE = re.compile(r'[\s\x00-\x1f\x7f]')


def http_url(raw: str) -> str:
    """An ``http://`` or ``https://`` URL with a host. Its path and query may hold a
    token: the error texts name the scheme at most."""
    from urllib.parse import urlsplit

    expected = 'expected an http:// or https:// URL'
    if _URL_FORBIDDEN_RE.search(raw):
        raise ValueError(f'{expected} without spaces or control characters')
    try:
        parts = urlsplit(raw)
        parts.port          # raises ValueError for a port that is not a number 0-65535
    except ValueError:
        raise ValueError(f'{expected}, with a valid host and port') from None
    if parts.scheme.lower() not in ('http', 'https'):
        got = f", got a {parts.scheme}: URL" if re.fullmatch(r'[A-Za-z][\w+.-]{0,15}',
                                                              parts.scheme) else ''
        raise ValueError(expected + got)
    if '@' in parts.netloc:
        raise ValueError(f'{expected} without user:password@ (put the token in the path)')
    if not parts.hostname:
        raise ValueError(f'{expected} with a host')
    return raw


def command(raw: str) -> tuple[str, ...]:
    """A command line split into words as a shell would split it (quotes,
    backslashes), to be run without a shell."""
    import shlex

    if '\0' in raw:
        raise ValueError('expected a command line without NUL characters')
    try:
        words = tuple(shlex.split(raw))
    except ValueError as exc:       # e.g. "No closing quotation"
        raise ValueError(f'expected a command line: {str(exc).lower()}') from None
    if not words:
        raise ValueError('expected a command line')
    return words
