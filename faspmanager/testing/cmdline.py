"""ascp's command line as the emulator reads it: the options real ascp has (from its
``--help`` and IBM's tools), getopt_long style (``-l10000``, ``-l 10000``,
``--policy=fair``, ``--policy fair``, bundled switches such as ``-qd``). Anything else is
refused the way ascp refuses it."""

from __future__ import annotations

import getopt
import re
from dataclasses import dataclass, field

# One-letter options of ascp taking a value, and those that are switches.
SHORT_WITH_VALUE = 'lmPOZgGXCciWENkLRfeSMuytYIxj@w'
SHORT_SWITCHES = '6TdpqADh'

LONG_WITH_VALUE = (
    'policy host user mode check-sshfp ssh-arg proxy file-crypt file-list file-pair-list '
    'source-prefix source-prefix64 src-base src-base64 exclude-newer-than exclude-older-than '
    'symbolic-links overwrite partial-file-suffix file-checksum file-manifest '
    'file-manifest-path file-manifest-inprogress-suffix preserve-xattrs '
    'remote-preserve-xattrs preserve-acls remote-preserve-acls move-after-transfer tags '
    'tags64 chunk-size multi-session-threshold retry-timeout').split()
LONG_SWITCHES = (
    'ignore-host-key fail-bad-filepass preserve-modification-time preserve-access-time '
    'preserve-creation-time preserve-source-access-time preserve-file-owner-uid '
    'preserve-file-owner-gid remove-after-transfer remove-empty-directories '
    'remove-empty-source-directory remove-skipped delete-before-transfer skip-special-files '
    'save-before-overwrite skip-dir-traversal-dupes apply-local-docroot '
    'precalculate-job-size keepalive faspmgr-io ws-connect dest64 version help').split()

CHOICES = {
    '--mode': ('send', 'recv'),
    '--policy': ('fixed', 'high', 'fair', 'low'),
    '--overwrite': ('never', 'always', 'older', 'diff', 'diff+older'),
    '--symbolic-links': ('follow', 'copy', 'copy+force', 'skip'),
    '--file-checksum': ('sha-512', 'sha-384', 'sha-256', 'sha1', 'md5', 'none'),
    '--file-manifest': ('text', 'none'),
    '--file-crypt': ('encrypt', 'decrypt'),
    '--preserve-xattrs': ('native', 'metafile', 'none'),
    '--remote-preserve-xattrs': ('native', 'metafile', 'none'),
    '--preserve-acls': ('native', 'metafile', 'none'),
    '--remote-preserve-acls': ('native', 'metafile', 'none'),
    '-c': ('none', *(f'aes{sep}{bits}{mode}' for bits in (128, 192, 256)
                     for sep, mode in (('', ''), ('', 'cfb'), ('', 'gcm'), ('-', ''),
                                       ('-', '-cfb'), ('-', '-gcm')))),
    '-k': ('0', '1', '2', '3'),
    '-y': ('0', '1', 'F'),
    '-j': ('0', '1'),
    '-w': ('r', 'f'),
}
INTEGERS = ('-P', '-O', '-Z', '-g', '-G', '-X', '-t', '--chunk-size',
            '--multi-session-threshold', '--retry-timeout', '--exclude-newer-than',
            '--exclude-older-than')
REPEATABLE = ('-E', '-N', '-i', '--ssh-arg')

# -l/-m: kilobits per second, decimals allowed, K/M/G (any case) for kilo/mega/giga
# bits, P/p/% for a percentage of the detected capacity.
_RATE = re.compile(r'(\d+(?:\.\d+)?)([KkMmGgPp%]?)\Z')
_RATE_SCALE = {'': 1, 'K': 1, 'M': 1000, 'G': 1000000, 'P': 1, '%': 1}


class UsageError(Exception):
    """A command line real ascp would refuse (exit 1)."""


def parse_rate(text: str) -> tuple[float, bool]:
    """A ``-l``/``-m`` value -> (kilobits per second or percent, is_percent)."""
    match = _RATE.match(text)
    if not match:
        raise UsageError(f'invalid rate {text!r}')
    unit = match.group(2).upper()
    return float(match.group(1)) * _RATE_SCALE[unit], unit in ('P', '%')


def cipher_name(value: str) -> str:
    """A ``-c`` value as ascp reports it in its events (``aes-128``, ``aes-256-gcm``)."""
    match = re.match(r'aes-?(\d+)-?(cfb|gcm)?\Z', value)
    if not match:
        return value
    return f'aes-{match.group(1)}' + (f'-{match.group(2)}' if match.group(2) else '')


@dataclass
class Args:
    """The parsed command line: ``opts`` maps each option (``-l``, ``--policy``...)
    to its last value (True for switches), ``multi`` holds repeatable ones in order,
    ``rules`` the -E/-N rules in order, ``paths`` the positional arguments."""
    opts: dict = field(default_factory=dict)
    multi: dict = field(default_factory=dict)
    rules: list = field(default_factory=list)
    paths: list = field(default_factory=list)
    debug: int = 0

    def get(self, name, default=None):
        return self.opts.get(name, default)

    def has(self, name) -> bool:
        return name in self.opts


def _getopt_spec():
    short = ''.join(f'{c}:' for c in SHORT_WITH_VALUE) + SHORT_SWITCHES
    long = [f'{name}=' for name in LONG_WITH_VALUE] + LONG_SWITCHES
    return short, long


def parse(argv: list[str]) -> Args:
    """Parses ascp's arguments (without the program name); raises UsageError."""
    argv = ['--ssh-arg=-SSH' if arg == '-SSH' else arg for arg in argv]
    short, long = _getopt_spec()
    try:
        pairs, paths = getopt.gnu_getopt(argv, short, long)
    except getopt.GetoptError as exc:
        raise UsageError(_message(exc)) from None
    args = Args(paths=paths)
    for name, value in pairs:
        takes_value = name.lstrip('-') in SHORT_WITH_VALUE if len(name) == 2 else \
            name[2:] in LONG_WITH_VALUE
        if not takes_value:
            if name == '-D':
                args.debug += 1
            args.opts[name] = True
            continue
        _check_value(name, value)
        if name in ('-E', '-N'):
            args.rules.append((name, value))
        if name in REPEATABLE:
            args.multi.setdefault(name, []).append(value)
        args.opts[name] = value
    return args


def _message(exc: getopt.GetoptError) -> str:
    opt = exc.opt
    if 'not recognized' in exc.msg:
        return f"unrecognized option '{'-' if len(opt) == 1 else '--'}{opt}'"
    if 'requires argument' in exc.msg:
        return f"option '{'-' if len(opt) == 1 else '--'}{opt}' requires an argument"
    return exc.msg


def _check_value(name: str, value: str) -> None:
    if name in CHOICES and value not in CHOICES[name]:
        raise UsageError(f'invalid value {value!r} for {name} (expected one of '
                         f'{", ".join(CHOICES[name])})')
    if name in INTEGERS:
        try:
            number = int(value)
        except ValueError:
            raise UsageError(f'invalid number {value!r} for {name}') from None
        if name in ('-P', '-O', '-t') and not 0 < number < 65536:
            raise UsageError(f'invalid port {value!r} for {name}')
    if name in ('-l', '-m'):
        parse_rate(value)
    if name in ('-@', '-C') and not re.match(r'\d*:\d*\Z', value):
        raise UsageError(f'invalid range {value!r} for {name} (expected LOW:HIGH)')
    if name == '-M' and not re.match(r'(?:[^:]+:)?\d+\Z', value):
        raise UsageError(f'invalid management port {value!r}')
