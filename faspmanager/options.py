"""Transfer options, their enums, and THE table mapping each option to ascp's flag.

Every option is one row of ``OPTIONS``: its name, the kind of value it takes, its default
and how it reaches ascp (a switch, ``-X VALUE``, ``--long=VALUE``, an environment
variable, or a rule of its own). ``ascp_args()`` and ``ascp_env()`` render a
``TransferOptions`` from that table; nothing else spells an ascp flag.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from typing import Any, Callable


class _Choice(enum.Enum):
    """An enum whose value is ascp's spelling; ``coerce`` also accepts that spelling,
    the member's name (any case) and the spelling of IBM's transfer spec (``aes-128``,
    ``sparse_csum``, ``sha256``...) for callers that hold plain strings."""

    @classmethod
    def coerce(cls, value):
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            spelled = TRANSFER_SPEC_SPELLINGS.get(cls, {}).get(value.lower(), value)
            for member in cls:
                if str(spelled) == str(member.value) or value.upper() == member.name:
                    return member
        elif isinstance(value, int) and not isinstance(value, bool):
            for member in cls:
                if member.value == value:
                    return member
        names = ', '.join(f'{cls.__name__}.{member.name}' for member in cls)
        raise ValueError(f'expected one of {names}, got {value!r}')

    def __str__(self):
        return str(self.value)


class CipherType(_Choice):
    """ascp's ``-c``: the key size, and the mode (CFB, the default, or GCM)."""
    AES_128 = 'aes128'
    AES_192 = 'aes192'
    AES_256 = 'aes256'
    AES_128_CFB = 'aes128cfb'
    AES_192_CFB = 'aes192cfb'
    AES_256_CFB = 'aes256cfb'
    AES_128_GCM = 'aes128gcm'
    AES_192_GCM = 'aes192gcm'
    AES_256_GCM = 'aes256gcm'


class FileChecksumType(_Choice):
    MD5 = 'md5'
    NONE = 'none'
    SHA1 = 'sha1'
    SHA_256 = 'sha-256'
    SHA_384 = 'sha-384'
    SHA_512 = 'sha-512'


class FileManifestFormat(_Choice):
    NONE = 'none'
    TEXT = 'text'


class OverwritePolicy(_Choice):
    ALWAYS = 'always'
    DIFF = 'diff'
    DIFF_AND_OLDER = 'diff+older'
    NEVER = 'never'
    OLDER = 'older'


class PreserveMode(_Choice):
    METAFILE = 'metafile'
    NATIVE = 'native'
    NONE = 'none'


class ResumeCheck(_Choice):
    """ascp's ``-k``: 0 always retransfer, 1 file attributes, 2 sparse checksum,
    3 full checksum."""
    OFF = 0
    FILE_ATTRIBUTES = 1
    SPARSE_CHECKSUM = 2
    FULL_CHECKSUM = 3


class SymlinkPolicy(_Choice):
    COPY = 'copy'
    COPY_FORCE = 'copy+force'
    FOLLOW = 'follow'
    SKIP = 'skip'


class TransferPolicy(_Choice):
    FAIR = 'fair'
    FIXED = 'fixed'
    HIGH = 'high'
    LOW = 'low'


# IBM's transfer spec spells some values differently from ascp: the spellings of its
# cipher, resume_policy (also transferd's) and file_checksum values, mapped to ascp's.
# cipher 'none' is not a cipher: TransferOptions turns it into encryption=False.
TRANSFER_SPEC_SPELLINGS = {
    CipherType: {f'aes-{bits}{mode}': f'aes{bits}{mode.lstrip("-")}'
                 for bits in (128, 192, 256) for mode in ('', '-cfb', '-gcm')},
    ResumeCheck: {'none': 0, 'attrs': 1, 'attributes': 1, 'sparse_csum': 2,
                  'sparse_checksum': 2, 'full_csum': 3, 'full_checksum': 3},
    FileChecksumType: {'sha256': 'sha-256', 'sha384': 'sha-384', 'sha512': 'sha-512',
                       'sha-1': 'sha1'},
}


class FileState(enum.Enum):
    FAILED = 'failed'
    FINISHED = 'finished'
    SKIPPED = 'skipped'
    TRANSFERRING = 'transferring'


class SessionState(enum.Enum):
    FAILED = 'failed'
    FINISHED = 'finished'
    NOTSTARTED = 'notstarted'
    RUNNING = 'running'


class TransferEventType(enum.Enum):
    """The management message types a listener hears about (value: the ``Type`` field).
    NOTIFICATION (rate changes, pre-calculation results) is an addition to the nine
    types of the reference API."""
    ARGSTOP = 'ARGSTOP'
    DONE = 'DONE'
    ERROR = 'ERROR'
    FILEERROR = 'FILEERROR'
    INIT = 'INIT'
    NOTIFICATION = 'NOTIFICATION'
    SESSION = 'SESSION'
    SKIP = 'SKIP'
    STATS = 'STATS'
    STOP = 'STOP'


# Adaptive field of RATE commands and SESSION/NOTIFICATION messages for each policy.
ADAPTIVE = {TransferPolicy.FAIR: 'Adaptive', TransferPolicy.HIGH: 'Adaptive',
            TransferPolicy.LOW: 'Trickle', TransferPolicy.FIXED: 'Fixed'}

DEFAULT_CHUNK_SIZE = 1048576
MAX_EXCLUDE_PATTERNS = 16


# ---------------------------------------------------------------------------------
# Value checks: each returns the normalized value or raises ValueError.

def _bool(value):
    if not isinstance(value, bool):
        raise ValueError(f'expected True or False, got {value!r}')
    return value


def _int(low=None, high=None):
    def check(value):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f'expected an integer, got {value!r}')
        if low is not None and value < low or high is not None and value > high:
            bounds = f'{low}..{high}' if high is not None else f'>= {low}'
            raise ValueError(f'expected an integer {bounds}, got {value}')
        return value
    return check


def _str(value):
    if not isinstance(value, str) or not value:
        raise ValueError(f'expected a non-empty string, got {value!r}')
    if '\0' in value:
        raise ValueError('a NUL character cannot be passed to ascp')
    return value


def _secret(value):
    """A str, or an object with ``reveal()`` (kept as given, revealed only for ascp)."""
    if callable(getattr(value, 'reveal', None)):
        return value
    if not isinstance(value, str) or not value:
        raise ValueError('expected a non-empty string')
    return value


def _str_list(value):
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ValueError(f'expected a list of strings, got {value!r}')
    return [_str(item) for item in value]


def _patterns(value):
    patterns = _str_list(value)
    if len(patterns) > MAX_EXCLUDE_PATTERNS:
        raise ValueError(f'at most {MAX_EXCLUDE_PATTERNS} patterns, got {len(patterns)}')
    return patterns


def _raw_args(value):
    """A list of ascp arguments: str, bytes (decoded as the file system encodes argv,
    so they reach ascp unchanged) or integers."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ValueError(f'expected a list of ascp arguments, got {value!r}')
    args = []
    for item in value:
        if isinstance(item, bytes):
            item = os.fsdecode(item)
        elif isinstance(item, int) and not isinstance(item, bool):
            item = str(item)
        elif not isinstance(item, str):
            raise ValueError(f'expected str or bytes arguments, got {type(item).__name__} '
                             f'{item!r}')
        args.append(_str(item))
    return args


def _choice(enum_cls):
    return enum_cls.coerce


def _http_fallback(value):
    if not isinstance(value, HttpFallbackOptions):
        raise ValueError(f'expected an HttpFallbackOptions, got {value!r}')
    return value


# ---------------------------------------------------------------------------------
# THE table. ``render`` is one of:
#   'switch'       flag alone when the value is True
#   'short'        [flag, value]             (ascp's one-letter options)
#   'long'         [flag=value]              (ascp's long options)
#   'env'          environment variable named by ``flag`` (secrets: never argv)
#   'none'         not an ascp flag by itself (used by the orders or by another row)
#   'special'      rendered by a rule of its own in ascp_args()


@dataclass(frozen=True)
class Option:
    name: str
    check: Callable[[Any], Any]
    render: str
    flag: str | None = None
    default: Any = None
    secret: bool = False


OPTIONS: tuple[Option, ...] = (
    Option('alternate_config_filename', _str, 'short', '-f'),
    Option('apply_local_docroot', _bool, 'switch', '--apply-local-docroot', False),
    Option('auto_detect_capacity', _bool, 'special', '-wf', False),
    Option('check_ssh_fingerprint', _str, 'long', '--check-sshfp'),
    Option('chunk_size', _int(1), 'none', '--chunk-size', DEFAULT_CHUNK_SIZE),
    Option('cipher', _choice(CipherType), 'short', '-c'),
    Option('content_protection_passphrase', _secret, 'special', '--file-crypt', secret=True),
    Option('cookie', _secret, 'env', 'ASPERA_SCP_COOKIE', secret=True),
    Option('create_dirs', _bool, 'switch', '-d', False),
    Option('datagram_size', _int(296, 10000), 'short', '-Z'),
    Option('delete_before_transfer', _bool, 'switch', '--delete-before-transfer', False),
    Option('destination_root', _str, 'none', None, '.'),
    Option('encryption', _bool, 'special', '-T', True),
    Option('exclude_newer_than', _int(), 'long', '--exclude-newer-than'),
    Option('exclude_older_than', _int(), 'long', '--exclude-older-than'),
    Option('exclude_patterns', _patterns, 'special', '-E'),
    Option('extra_options', _raw_args, 'special'),
    Option('file_checksum', _choice(FileChecksumType), 'long', '--file-checksum'),
    Option('file_manifest_format', _choice(FileManifestFormat), 'long', '--file-manifest'),
    Option('file_manifest_path', _str, 'long', '--file-manifest-path'),
    Option('http_fallback_options', _http_fallback, 'special', '-y'),
    Option('ignore_host_key', _bool, 'switch', '--ignore-host-key', False),
    Option('local_log_dir', _str, 'short', '-L'),
    Option('min_rate_kbps', _int(0), 'special', '-m'),
    Option('move_after_transfer_path', _str, 'long', '--move-after-transfer'),
    Option('multi_session_threshold', _int(0), 'long', '--multi-session-threshold'),
    Option('overwrite_policy', _choice(OverwritePolicy), 'long', '--overwrite'),
    Option('partial_file_suffix', _str, 'long', '--partial-file-suffix'),
    Option('policy', _choice(TransferPolicy), 'long', '--policy', TransferPolicy.FAIR),
    Option('pre_post_command_path', _str, 'short', '-e'),
    Option('precalculate_job_size', _bool, 'switch', '--precalculate-job-size', False),
    Option('preserve_access_time', _bool, 'switch', '--preserve-access-time', False),
    Option('preserve_acls', _choice(PreserveMode), 'long', '--preserve-acls'),
    Option('preserve_creation_time', _bool, 'switch', '--preserve-creation-time', False),
    Option('preserve_dates', _bool, 'switch', '-p', False),
    Option('preserve_file_owner_gid', _bool, 'switch', '--preserve-file-owner-gid', False),
    Option('preserve_file_owner_uid', _bool, 'switch', '--preserve-file-owner-uid', False),
    Option('preserve_modification_time', _bool, 'switch', '--preserve-modification-time',
           False),
    Option('preserve_source_access_time', _bool, 'switch', '--preserve-source-access-time',
           False),
    Option('preserve_xattrs', _choice(PreserveMode), 'long', '--preserve-xattrs'),
    Option('read_size', _int(1), 'short', '-g'),
    Option('remote_log_dir', _str, 'short', '-R'),
    Option('remote_preserve_acls', _choice(PreserveMode), 'long', '--remote-preserve-acls'),
    Option('remote_preserve_xattrs', _choice(PreserveMode), 'long',
           '--remote-preserve-xattrs'),
    Option('remove_empty_directories', _bool, 'switch', '--remove-empty-directories', False),
    Option('remove_empty_source_dir', _bool, 'switch', '--remove-empty-source-directory',
           False),
    Option('remove_files_after_transfer', _bool, 'switch', '--remove-after-transfer', False),
    Option('resume_check', _choice(ResumeCheck), 'short', '-k'),
    Option('retransmission_request_max_size', _int(1, 1440), 'short', '-X'),
    Option('retry_timeout', _int(0), 'long', '--retry-timeout'),
    Option('save_before_overwrite', _bool, 'switch', '--save-before-overwrite', False),
    Option('skip_dir_traversal_dups', _bool, 'switch', '--skip-dir-traversal-dupes', False),
    Option('skip_special_files', _bool, 'switch', '--skip-special-files', False),
    Option('source_base', _str, 'long', '--src-base'),
    Option('source_prefix', _str, 'long', '--source-prefix'),
    Option('symlink_policy', _choice(SymlinkPolicy), 'long', '--symbolic-links'),
    Option('target_rate_kbps', _int(1), 'special', '-l', 10000),
    Option('tcp_port', _int(1, 65535), 'short', '-P', 22),
    Option('token', _secret, 'env', 'ASPERA_SCP_TOKEN', secret=True),
    Option('udp_port', _int(1, 65535), 'short', '-O', 33001),
    Option('write_size', _int(1), 'short', '-G'),
)

BY_NAME = {option.name: option for option in OPTIONS}
SECRET_OPTIONS = frozenset(option.name for option in OPTIONS if option.secret)


def reveal(value) -> str:
    """The plain text of a secret option value."""
    return value.reveal() if callable(getattr(value, 'reveal', None)) else value


class HttpFallbackOptions:
    """Options of the HTTP(S) fallback ascp uses when FASP's UDP connection fails."""

    def __init__(self, encode_all_as_jpeg=None, http_port=None, https_key_filename=None,
                 https_cert_filename=None, http_proxy_address_host=None,
                 http_proxy_address_port=None):
        def checked(name, value, check):
            try:
                return None if value is None else check(value)
            except ValueError as exc:
                raise ValueError(f'HttpFallbackOptions {name}: {exc}') from None

        self.encode_all_as_jpeg = checked('encode_all_as_jpeg', encode_all_as_jpeg, _bool)
        self.http_port = checked('http_port', http_port, _int(1, 65535))
        self.https_key_filename = checked('https_key_filename', https_key_filename, _str)
        self.https_cert_filename = checked('https_cert_filename', https_cert_filename, _str)
        self.http_proxy_address_host = checked('http_proxy_address_host',
                                               http_proxy_address_host, _str)
        self.http_proxy_address_port = checked('http_proxy_address_port',
                                               http_proxy_address_port, _int(1, 65535))
        if self.http_proxy_address_port is not None and self.http_proxy_address_host is None:
            raise ValueError('HttpFallbackOptions: http_proxy_address_port needs '
                             'http_proxy_address_host')

    def build_ascp_options(self) -> list[str]:
        """ascp's arguments turning the HTTP fallback on with these settings."""
        args = ['-y', '1']
        if self.http_port is not None:
            args += ['-t', str(self.http_port)]
        if self.https_key_filename is not None:
            args += ['-Y', self.https_key_filename]
        if self.https_cert_filename is not None:
            args += ['-I', self.https_cert_filename]
        if self.http_proxy_address_host is not None:
            proxy = self.http_proxy_address_host
            if self.http_proxy_address_port is not None:
                proxy += f':{self.http_proxy_address_port}'
            args += ['-x', proxy]
        if self.encode_all_as_jpeg:
            args += ['-j', '1']
        return args

    def __repr__(self):
        fields = ', '.join(f'{key}={value!r}' for key, value in vars(self).items()
                           if value is not None)
        return f'HttpFallbackOptions({fields})'


class TransferOptions:
    """Optional settings of a transfer (rate, ports, overwrite policy, ...).

    ``TransferOptions(**kwargs)`` takes any of ``valid_options()``; an unknown name or
    an invalid value raises ValueError naming the option. Enum options take the enum
    member (or ascp's spelling of it, or the member's name). Secrets (``token``,
    ``cookie``, ``content_protection_passphrase``) may be strings or objects with a
    ``reveal()`` method; they reach ascp through its environment only.
    ``opts`` holds every option, defaults included.
    """

    DEFAULT_CHUNK_SIZE = DEFAULT_CHUNK_SIZE
    DEFAULT_DESTINATION_ROOT = '.'
    DEFAULT_POLICY = TransferPolicy.FAIR

    def __init__(self, **kwargs):
        opts = self.defaults()
        kwargs = _without_cipher_none(kwargs)
        if kwargs.get('auto_detect_capacity') and kwargs.get('target_rate_kbps') is None:
            opts['target_rate_kbps'] = 100      # a percentage of the detected capacity
        for name, value in kwargs.items():
            option = BY_NAME.get(name)
            if option is None:
                raise ValueError(f'unknown transfer option {name!r}')
            if value is None:        # None: the default
                continue
            try:
                opts[name] = option.check(value)
            except ValueError as exc:
                if option.secret:      # never echo a secret value
                    raise ValueError(f'transfer option {name}: invalid value') from None
                raise ValueError(f'transfer option {name}: {exc}') from None
        _check_combinations(opts)
        self.opts = opts

    @staticmethod
    def defaults() -> dict:
        """Every option name with its default value (None: not passed to ascp)."""
        return {option.name: option.default for option in OPTIONS}

    @staticmethod
    def valid_options() -> list[str]:
        """The names of all transfer options."""
        return [option.name for option in OPTIONS]

    def __getitem__(self, name):
        return self.opts[name]

    def __repr__(self):
        shown = []
        for name, value in self.opts.items():
            if value is None or value == BY_NAME[name].default:
                continue
            shown.append(f"{name}='***'" if name in SECRET_OPTIONS else f'{name}={value!r}')
        return f'TransferOptions({", ".join(shown)})'


def _without_cipher_none(kwargs: dict) -> dict:
    """The transfer spec's ``cipher='none'`` as this API says it: encryption=False."""
    cipher = kwargs.get('cipher')
    if not (isinstance(cipher, str) and cipher.lower() == 'none'):
        return kwargs
    if kwargs.get('encryption') is True:
        raise ValueError("transfer options cipher='none' and encryption=True contradict "
                         "each other")
    return {**kwargs, 'cipher': None, 'encryption': False}


def _check_combinations(opts: dict) -> None:
    auto = opts['auto_detect_capacity']
    target, minimum = opts['target_rate_kbps'], opts['min_rate_kbps'] or 0
    if auto and (target > 100 or minimum > 100):
        raise ValueError('with auto_detect_capacity, target_rate_kbps and min_rate_kbps are '
                         'percentages of the detected capacity (at most 100)')
    if minimum > target:
        raise ValueError(f'transfer option min_rate_kbps ({minimum}) is above '
                         f'target_rate_kbps ({target})')
    if opts['remove_files_after_transfer'] and opts['move_after_transfer_path']:
        raise ValueError('transfer options remove_files_after_transfer and '
                         'move_after_transfer_path exclude each other')
    if opts['delete_before_transfer'] and opts['http_fallback_options'] is not None:
        raise ValueError('transfer option delete_before_transfer does not work with '
                         'http_fallback_options')
    if opts['cipher'] is not None and not opts['encryption']:
        raise ValueError('transfer option cipher needs encryption=True')


def ascp_args(options: TransferOptions, direction: str) -> list[str]:
    """ascp's arguments for these options, in table order; ``direction`` is 'send'
    or 'recv'. Secrets are never part of them (see ``ascp_env``)."""
    opts = options.opts
    args: list[str] = []
    for option in OPTIONS:
        value = opts[option.name]
        if option.render in ('none', 'env') or value is None:
            continue
        if option.render == 'switch':
            if value:
                args.append(option.flag)
        elif option.render == 'short':
            args += [option.flag, _text(value)]
        elif option.render == 'long':
            args.append(f'{option.flag}={_text(value)}')
        else:
            args += _special(option, value, opts, direction)
    return args


def _text(value) -> str:
    return str(value.value) if isinstance(value, enum.Enum) else str(value)


def _special(option: Option, value, opts: dict, direction: str) -> list[str]:
    name = option.name
    if name == 'auto_detect_capacity':
        return [option.flag] if value else []
    if name in ('target_rate_kbps', 'min_rate_kbps'):
        return [option.flag, f'{value}%' if opts['auto_detect_capacity'] else str(value)]
    if name == 'encryption':
        return [] if value else [option.flag]
    if name == 'content_protection_passphrase':
        return [f'{option.flag}={"encrypt" if direction == "send" else "decrypt"}']
    if name == 'exclude_patterns':
        return [item for pattern in value for item in (option.flag, pattern)]
    if name == 'http_fallback_options':
        return value.build_ascp_options()
    if name == 'extra_options':
        return list(value)
    raise AssertionError(f'no rendering rule for {name}')


# Environment variables carrying secrets to ascp.
ENV_PASSWORD = 'ASPERA_SCP_PASS'
ENV_TOKEN = 'ASPERA_SCP_TOKEN'
ENV_COOKIE = 'ASPERA_SCP_COOKIE'
ENV_FILEPASS = 'ASPERA_SCP_FILEPASS'
SECRET_ENV_VARS = (ENV_PASSWORD, ENV_TOKEN, ENV_COOKIE, ENV_FILEPASS)


def ascp_env(options: TransferOptions) -> dict[str, str]:
    """The environment variables these options give ascp (the secrets)."""
    opts = options.opts
    env = {}
    for option in OPTIONS:
        if option.render == 'env' and opts[option.name] is not None:
            env[option.flag] = reveal(opts[option.name])
    if opts['content_protection_passphrase'] is not None:
        env[ENV_FILEPASS] = reveal(opts['content_protection_passphrase'])
    return env
