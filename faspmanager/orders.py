"""Transfer orders: what to transfer, between which hosts, with which options. An order
turns itself into ascp's command line (``ascp_opts()``, never a secret) and ascp's
environment (``ascp_env()``, the secrets)."""

from __future__ import annotations

import ipaddress
import os
import tempfile
import weakref

from .errors import AuthenticationError, InvalidPathError
from .options import ENV_PASSWORD, TransferOptions, ascp_args, ascp_env, reveal

# Up to this many sources go on the command line; more go to a --file-list file.
MAX_ARGV_SOURCES = 10


def _paths(value, what: str) -> list[str]:
    paths = [value] if isinstance(value, (str, os.PathLike)) else list(value or ())
    paths = [os.fspath(path) for path in paths]
    if not paths:
        raise InvalidPathError(f'no {what} given')
    for path in paths:
        if not isinstance(path, str) or not path:
            raise InvalidPathError(f'{what}: expected non-empty path strings, got {path!r}')
        if '\n' in path or '\r' in path or '\0' in path:
            raise InvalidPathError(f'{what}: a path with a line break or NUL cannot be '
                                   f'passed to ascp: {path!r}')
    return paths


def _arg(path: str) -> str:
    """A path that ascp cannot take for an option."""
    return './' + path if path.startswith('-') else path


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


class BaseTransferOrder:
    """What every order has: a direction, a remote endpoint with its credentials, and
    options. Subclasses name the endpoint's attributes (``dest_*`` or ``source_*``)
    and add the sources."""

    _direction = 'send'      # ascp --mode: 'send' (upload) or 'recv' (download)
    _side = 'dest'           # prefix of the remote endpoint's attribute names

    def _init_remote(self, user, host, password, identity, options) -> None:
        side = self._side
        if not isinstance(user, str) or not user:
            raise ValueError(f'{side}_user: a remote user is required')
        if not isinstance(host, str) or not host:
            raise ValueError(f'{side}_host: a remote host is required')
        if password is None and identity is None:
            raise AuthenticationError(f'neither {side}_pass nor {side}_identity given for '
                                      f'{user}@{host}')
        if options is None:
            options = TransferOptions()
        if not isinstance(options, TransferOptions):
            raise ValueError(f'options must be a TransferOptions, got {type(options).__name__}')
        setattr(self, f'{side}_user', user)
        setattr(self, f'{side}_host', host)
        setattr(self, f'{side}_pass', password)
        setattr(self, f'{side}_identity', identity)
        self.options = options
        self._finalizer = None

    def _remote(self) -> tuple:
        side = self._side
        return tuple(getattr(self, f'{side}_{name}') for name in ('user', 'host', 'pass',
                                                                  'identity'))

    # --- what the session needs -------------------------------------------------

    def ascp_opts(self) -> list[str]:
        """Returns the options to pass to ascp when performing the transfer."""
        user, host, _, identity = self._remote()
        args = [f'--mode={self._direction}', f'--host={host}', f'--user={user}']
        if _is_ipv6(host):
            args.append('-6')
        if identity is not None:
            args += ['-i', os.fspath(identity)]
        args.append('-q')
        args += ascp_args(self.options, self._direction)
        args += self._source_args()
        args.append(_arg(self.options.opts['destination_root']))
        return args

    def ascp_env(self) -> dict[str, str]:
        """The environment variables that carry this order's secrets to ascp."""
        env = ascp_env(self.options)
        password = self._remote()[2]
        if password is not None:
            env[ENV_PASSWORD] = reveal(password)
        return env

    def cleanup(self) -> None:
        """Removes the list file ``ascp_opts()`` may have written."""
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer = None

    def _source_args(self) -> list[str]:
        return []

    def _write_list(self, flag: str, lines: list[str]) -> list[str]:
        """A --file-list/--file-pair-list file (private to the user, removed by
        cleanup() or when the order is garbage-collected)."""
        self.cleanup()
        fd, path = tempfile.mkstemp(prefix='faspmanager-', suffix='.list')
        with os.fdopen(fd, 'w', encoding='utf-8', errors='surrogateescape', newline='\n') as fh:
            fh.write(''.join(line + '\n' for line in lines))
        self._finalizer = weakref.finalize(self, _remove, path)
        return [f'{flag}={path}']

    def __repr__(self):
        user, host, password, identity = self._remote()
        return (f'{type(self).__name__}({user}@{host}, '
                f'password={"***" if password is not None else None}, '
                f'identity={identity!r}, options={self.options!r})')


def _is_ipv6(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip('[]')).version == 6
    except ValueError:
        return False


class _FileOrder(BaseTransferOrder):
    """An order with its sources (and optional paired destinations) up front."""

    def _init_paths(self, source_paths, dest_paths) -> None:
        self.source_paths = _paths(source_paths, 'source_paths')
        self.dest_paths = None
        if dest_paths is not None:
            self.dest_paths = _paths(dest_paths, 'dest_paths')
            if len(self.dest_paths) != len(self.source_paths):
                raise InvalidPathError(f'{len(self.source_paths)} source path(s) but '
                                       f'{len(self.dest_paths)} destination path(s): they '
                                       f'must pair up')

    def _source_args(self) -> list[str]:
        if self.dest_paths is not None:
            pairs = [line for pair in zip(self.source_paths, self.dest_paths) for line in pair]
            return self._write_list('--file-pair-list', pairs)
        if len(self.source_paths) > MAX_ARGV_SOURCES:
            return self._write_list('--file-list', self.source_paths)
        return [_arg(path) for path in self.source_paths]


class FileUpload(_FileOrder):
    """Specification for a file upload: local ``source_paths`` to ``dest_host``
    (optionally to the paired ``dest_paths``, relative to the destination root)."""

    _direction, _side = 'send', 'dest'

    def __init__(self, source_paths, dest_user, dest_host, dest_paths=None, dest_pass=None,
                 dest_identity=None, options=None):
        self._init_remote(dest_user, dest_host, dest_pass, dest_identity, options)
        self._init_paths(source_paths, dest_paths)


class FileDownload(_FileOrder):
    """Specification for a file download: remote ``source_paths`` on ``source_host``
    to the local destination root (optionally to the paired ``dest_paths``)."""

    _direction, _side = 'recv', 'source'

    def __init__(self, source_paths, source_user, source_host, dest_paths=None,
                 source_pass=None, source_identity=None, options=None):
        self._init_remote(source_user, source_host, source_pass, source_identity, options)
        self._init_paths(source_paths, dest_paths)


class PersistentUpload(BaseTransferOrder):
    """Specification for a persistent upload: ascp runs with ``--keepalive`` and the
    files arrive later through ``PersistentSession.add_source``."""

    _direction, _side = 'send', 'dest'

    def __init__(self, dest_user, dest_host, dest_pass=None, dest_identity=None,
                 options=None):
        self._init_remote(dest_user, dest_host, dest_pass, dest_identity, options)

    def _source_args(self) -> list[str]:
        return ['--keepalive']


class PersistentDownload(BaseTransferOrder):
    """Specification for a persistent download (``--keepalive``, files through
    ``PersistentSession.add_source``)."""

    _direction, _side = 'recv', 'source'

    def __init__(self, source_user, source_host, source_pass=None, source_identity=None,
                 options=None):
        self._init_remote(source_user, source_host, source_pass, source_identity, options)

    def _source_args(self) -> list[str]:
        return ['--keepalive']


class StreamUpload(BaseTransferOrder):
    """Specification for stream-to-file uploads: ascp runs with ``--faspmgr-io`` and
    the data arrives through ``StreamSession.open_stream``."""

    _direction, _side = 'send', 'dest'

    def __init__(self, dest_user, dest_host, dest_pass=None, dest_identity=None,
                 options=None):
        self._init_remote(dest_user, dest_host, dest_pass, dest_identity, options)

    def _source_args(self) -> list[str]:
        return ['--faspmgr-io', f'--chunk-size={self.options.opts["chunk_size"]}']
