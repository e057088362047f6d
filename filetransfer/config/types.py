"""Value types of config options.

Each type is a callable taking the raw string and returning the parsed value; it
raises ``ValueError`` whose text says what was expected. The loader adds the file,
section, option and the raw value to that text.
"""

import re

_TRUE = {'yes', 'true', 'on', '1'}
_FALSE = {'no', 'false', 'off', '0'}


def text(raw: str) -> str:
    return raw


def path(raw: str) -> str:
    """A file or directory path (relative ones to the working directory)."""
    if '\0' in raw:
        raise ValueError('expected a path without NUL characters')
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


def connections(raw: str) -> int:
    return _whole_number(raw, 1, 16, 'expected a whole number from 1 to 16')


def non_negative_float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError('expected a number >= 0') from None
    if not value >= 0 or value == float('inf'):
        raise ValueError('expected a number >= 0')
    return value


def positive_float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError('expected a number > 0') from None
    if not value > 0 or value == float('inf'):
        raise ValueError('expected a number > 0')
    return value


def port(raw: str) -> int:
    return _whole_number(raw, 1, 65535, 'expected a port number 1-65535')


_HOST_RE = re.compile(r'^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<name>[^\s:\[\]/@\x00-\x1f\x7f]+))'
                      r'(?::(?P<port>\d+))?$')


def host_port(raw: str) -> tuple[str, int | None]:
    """``name[:port]`` or ``[ipv6]:port``; the port is None when not given."""
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


def job_ids(raw: str) -> tuple[str, ...]:
    """Comma-separated job ids, or ``*`` alone for every job."""
    items = comma_list(raw)
    if '*' in items and len(items) > 1:
        raise ValueError("expected job ids or '*' alone")
    for item in items:
        if item != '*' and ('/' in item or item in ('.', '..') or item.startswith('-')):
            raise ValueError('expected comma-separated job ids (file names without "/")')
    return items


def log_level(raw: str) -> int:
    import logging      # here: a job that ends before its run loads no logging

    level = logging.getLevelName(raw.upper())
    if not isinstance(level, int):
        raise ValueError('expected a log level (DEBUG, INFO, WARNING, ERROR, CRITICAL)')
    return level


# The width and precision of each %-conversion ('%%' has neither).
_FORMAT_NUMBERS_RE = re.compile(r'%(?:%|(?:\([^)]*\))?[#0+ -]*(\d*)(?:\.(\d*))?)')
_MAX_FORMAT_DIGITS = 4


def log_format(raw: str) -> str:
    import logging

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
    """yes/no, or the name of a lock shared by every job naming it."""
    try:
        return boolean(raw)
    except ValueError:
        pass
    if not _LOCK_NAME_RE.match(raw) or raw in ('.', '..'):
        raise ValueError('expected yes/no or a lock name (letters, digits, _ . -)')
    return raw


def file_name(raw: str) -> str:
    """A plain file name: no directory part."""
    if raw in ('.', '..') or '/' in raw or '\0' in raw:
        raise ValueError('expected a file name without "/"')
    return raw


_ADDRESS_RE = re.compile(r'^[^@\s,<>]+@[^@\s,<>]+$')


def address(raw: str) -> str:
    """One email address (``user@domain``)."""
    if not _ADDRESS_RE.match(raw):
        raise ValueError('expected an email address (user@domain)')
    return raw


def addresses(raw: str) -> tuple[str, ...]:
    """Comma-separated email addresses (``user@domain``)."""
    items = comma_list(raw)
    for item in items:
        if not _ADDRESS_RE.match(item):
            raise ValueError('expected comma-separated email addresses (user@domain)')
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
