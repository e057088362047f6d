"""OpenSSH known-hosts files: checking a server's host key, adding and removing hosts.

A host is looked up as OpenSSH does: ``name`` for port 22, ``[name]:port`` for any
other port. Lines may list several comma-separated patterns with the wildcards
``*`` and ``?`` and negations ``!pattern``, or one hashed name (``|1|salt|hmac``,
as written by ``ssh-keygen -H``). Lines marked ``@revoked`` refuse a key for the
hosts they match; ``@cert-authority`` lines are kept but not used.

Editing a file keeps every line that does not concern the host (comments,
other hosts, wildcard lines) as it is, and replaces the file atomically.

paramiko is imported only by `fetch`, which talks to a server.
"""

import base64
import binascii
import logging
import os
import re
from dataclasses import dataclass, field

from filetransfer.errors import ConnectError
from filetransfer.smallfile import read_small_text, replace_text

DEFAULT_PORT = 22
HASH_MAGIC = '|1|'
# Host key algorithms asked for by `fetch`, one handshake each.
FETCH_ALGORITHMS = ('ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384',
                    'ecdsa-sha2-nistp521', 'rsa-sha2-512')
# Key type (as in known_hosts) -> host key algorithms that prove it in a handshake.
_ALGORITHMS_OF = {'ssh-rsa': ('rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa')}


@dataclass(frozen=True)
class HostKey:
    """A public host key: its type (``ssh-ed25519`` ...) and its wire blob (and its
    size in bits, when known)."""

    keytype: str
    blob: bytes
    bits: int = field(default=0, compare=False)

    @property
    def fingerprint(self) -> str:
        """``SHA256:...`` as OpenSSH prints it."""
        import hashlib    # here: OpenSSL's start-up is not on the way to a login

        digest = hashlib.sha256(self.blob).digest()
        return 'SHA256:' + base64.b64encode(digest).decode().rstrip('=')

    @property
    def md5_fingerprint(self) -> str:
        """The MD5 of the key as hex pairs joined by ':' (OpenSSH's old form)."""
        import hashlib

        return ':'.join(f'{byte:02x}' for byte in hashlib.md5(self.blob).digest())

    def line_fields(self) -> str:
        return f'{self.keytype} {base64.b64encode(self.blob).decode()}'

    def __str__(self):
        return f'{self.keytype} {self.fingerprint}'


def host_name(host: str, port: int | None = None) -> str:
    """The name of a host in known_hosts: ``host`` for port 22, else ``[host]:port``."""
    host = host.lower()
    if port is None or port == DEFAULT_PORT:
        return host
    return f'[{host}]:{port}'


def hash_name(name: str, salt: bytes | None = None) -> str:
    """The hashed form of a host name (``|1|salt|hmac-sha1``)."""
    import hashlib
    import hmac

    salt = os.urandom(20) if salt is None else salt
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return f'{HASH_MAGIC}{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}'


def _hashed_matches(pattern: str, name: str) -> bool:
    try:
        salt = base64.b64decode(pattern[len(HASH_MAGIC):].split('|')[0], validate=True)
    except (binascii.Error, ValueError):
        return False
    import hmac

    return hmac.compare_digest(hash_name(name, salt), pattern)


def _pattern_matches(pattern: str, name: str) -> bool:
    if pattern.startswith(HASH_MAGIC):
        return _hashed_matches(pattern, name)
    # Only '*' and '?' are wildcards ('[' is literal, as in '[host]:port').
    regex = ''.join('.*' if char == '*' else '.' if char == '?' else re.escape(char)
                    for char in pattern.lower())
    return re.fullmatch(regex, name, re.DOTALL) is not None


def _hosts_match(patterns: list[str], name: str) -> bool:
    """OpenSSH semantics: one negated match excludes the line, else any match counts."""
    matched = False
    for pattern in patterns:
        if pattern.startswith('!'):
            if _pattern_matches(pattern[1:], name):
                return False
        elif _pattern_matches(pattern, name):
            matched = True
    return matched


@dataclass
class _Line:
    text: str                       # the line as read, without its newline
    marker: str | None = None       # '@revoked', '@cert-authority'
    patterns: list | None = None    # None: a comment, blank or unreadable line
    key: HostKey | None = None
    rest: str = ''                  # key type, key and comment, as read


def _parse_line(text: str) -> _Line:
    line = _Line(text)
    fields = text.split()
    if not fields or fields[0].startswith('#'):
        return line
    if fields[0].startswith('@'):
        line.marker, fields = fields[0], fields[1:]
    if len(fields) < 3:
        return _Line(text)
    try:
        blob = base64.b64decode(fields[2], validate=True)
    except (binascii.Error, ValueError):
        return _Line(text)
    line.patterns = fields[0].split(',')
    line.key = HostKey(fields[1], blob)
    line.rest = text.split(None, 1 if line.marker is None else 2)[-1]
    return line


class KnownHosts:
    """The parsed lines of a known-hosts file."""

    def __init__(self, path: str, lines: list[_Line]):
        self.path = path
        self.lines = lines

    @classmethod
    def read(cls, path: str, missing_ok: bool = False) -> 'KnownHosts':
        """Reads ``path``; raises OSError (FileNotFoundError only unless ``missing_ok``;
        smallfile.UnsuitableFile for a file that is not regular or too large)."""
        try:
            texts = read_small_text(path, errors='replace').splitlines()
        except FileNotFoundError:
            if not missing_ok:
                raise
            texts = []
        return cls(path, [_parse_line(text) for text in texts])

    def _matching(self, name: str):
        return [line for line in self.lines
                if line.patterns is not None and _hosts_match(line.patterns, name)]

    def keys_for(self, name: str) -> list[HostKey]:
        """The accepted keys of a host (not revoked, not CA keys)."""
        return [line.key for line in self._matching(name) if line.marker is None]

    def check(self, host: str, port: int, key: HostKey) -> str | None:
        """None when ``key`` is a known key of the host, else why it is refused
        (unknown, changed or revoked) and how to fix it."""
        name = host_name(host, port)
        matching = self._matching(name)
        if any(line.marker == '@revoked' and line.key == key for line in matching):
            return (f'the host key of {name} ({key}) is marked @revoked in {self.path}; '
                    'it must not be used')
        known = [line.key for line in matching if line.marker is None]
        if key in known:
            return None
        fix = f'filetransfer -k{_port_option(port)} {host} {self.path}'
        if not known:
            return (f'the host key of {name} is unknown: {key} is not in {self.path}; '
                    f'if that fingerprint is right, add it with: {fix}')
        same_type = [found for found in known if found.keytype == key.keytype]
        has = ', '.join(str(found) for found in (same_type or known))
        return (f'the host key of {name} has CHANGED: the server presented {key}, '
                f'{self.path} has {has}; this can be an attack (someone between you '
                'and the server). If the server\'s key was replaced on purpose, '
                f'replace the entry with: {fix}')

    def remove_host(self, name: str) -> int:
        """Drops the host's own entries (exact or hashed names; wildcard lines and
        marker lines stay). Returns how many names were removed."""
        removed = 0
        kept = []
        for line in self.lines:
            if line.patterns is None or line.marker is not None:
                kept.append(line)
                continue
            others = [pattern for pattern in line.patterns if not _names_host(pattern, name)]
            removed += len(line.patterns) - len(others)
            if len(others) == len(line.patterns):
                kept.append(line)
            elif others:
                line.patterns = others
                line.text = f'{",".join(others)} {line.rest}'
                kept.append(line)
        self.lines = kept
        return removed

    def add(self, name: str, keys: list[HostKey], hashed: bool = False) -> None:
        for key in keys:
            shown = hash_name(name) if hashed else name
            self.lines.append(_Line(f'{shown} {key.line_fields()}', None, [shown], key,
                                    key.line_fields()))

    def write(self) -> None:
        """Replaces the file atomically, keeping its mode (0644 for a new file)."""
        try:
            mode = os.stat(self.path).st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o644
        replace_text(self.path, ''.join(line.text + '\n' for line in self.lines), mode,
                     prefix='.known_hosts.')


def _names_host(pattern: str, name: str) -> bool:
    """Whether a pattern is this host's own name (not a wildcard or negation)."""
    if pattern.startswith(HASH_MAGIC):
        return _hashed_matches(pattern, name)
    return pattern.lower() == name


def _port_option(port: int) -> str:
    return '' if port == DEFAULT_PORT else f' -p {port}'


def preferred_algorithms(known_types: list[str], available: tuple) -> list[str]:
    """Host key algorithms to offer: those proving the known key types first, so a
    server with several keys shows the one the known-hosts file has."""
    wanted = []
    for keytype in known_types:
        for algorithm in _ALGORITHMS_OF.get(keytype, (keytype,)):
            if algorithm in available and algorithm not in wanted:
                wanted.append(algorithm)
    return wanted + [algorithm for algorithm in available if algorithm not in wanted]


def quiet_paramiko_logging() -> None:
    """paramiko logs connection failures, with tracebacks from its own threads, on
    its logger. Its callers report them as exceptions, so when the program has no
    handler for them they must not reach stderr through logging's last resort."""
    logger = logging.getLogger('paramiko')
    if not any(isinstance(handler, logging.NullHandler) for handler in logger.handlers):
        logger.addHandler(logging.NullHandler())


def fetch(host: str, port: int = DEFAULT_PORT, timeout: float = 30.0) -> list[HostKey]:
    """The host keys a server offers (one handshake per key algorithm).

    Raises ConnectError when the server cannot be reached or offers no key."""
    keys = []
    for algorithm in FETCH_ALGORITHMS:
        key = _handshake_key(host, port, timeout, algorithm)
        if key is not None and key not in keys:
            keys.append(key)
    if not keys:
        raise ConnectError(f'{host_name(host, port)} offered no host key this program can use')
    return keys


def fetch_chosen(host: str, port: int = DEFAULT_PORT, timeout: float = 30.0) -> HostKey:
    """The host key an SSH handshake with the server chooses (the one a job's
    connection is shown first). Raises ConnectError."""
    key = _handshake_key(host, port, timeout)
    if key is None:
        raise ConnectError(f'{host_name(host, port)} offered no host key this program can use')
    return key


def _handshake_key(host: str, port: int, timeout: float,
                   algorithm: str | None = None) -> HostKey | None:
    """The key of one handshake (offering only ``algorithm`` when given); None when
    the server has no key of that algorithm. Raises ConnectError."""
    import socket

    import paramiko
    quiet_paramiko_logging()

    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise ConnectError(f'cannot connect to {host_name(host, port)}: '
                           f'{exc.strerror or exc}') from None
    transport = paramiko.Transport(sock)
    try:
        if algorithm is not None:
            transport.get_security_options().key_types = [algorithm]
        transport.banner_timeout = transport.handshake_timeout = timeout
        transport.start_client(timeout=timeout)
        server_key = transport.get_remote_server_key()
        return HostKey(server_key.get_name(), server_key.asbytes(), server_key.get_bits())
    except paramiko.SSHException as exc:
        if algorithm is not None and 'host key' in str(exc):   # "no acceptable host key"
            return None
        raise ConnectError(f'{host_name(host, port)}: SSH handshake failed: {exc}') from None
    except (OSError, EOFError) as exc:
        raise ConnectError(f'{host_name(host, port)}: SSH handshake failed: '
                           f'{exc or type(exc).__name__}') from None
    finally:
        transport.close()
