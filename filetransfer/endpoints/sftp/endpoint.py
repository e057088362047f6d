"""A directory on an SFTP server, through paramiko.

The server's host key must be in the known-hosts file (see hostkeys.py);
an unknown or changed key is refused, never added. Logins use a private key
(`key_file`, its type detected from the file when `key_type` is not given) and/or a
password. `timeout` bounds the connection set-up and every later request.

When the OpenSSH client `ssh` is installed and the host logs in with a key that
needs no passphrase, the SFTP session runs over an `ssh -s sftp` child process
(`filetransfer.endpoints.sshpipe`), which encrypts in C: much faster than paramiko's
own transport, which stays in use otherwise (`transport` host option). Requests are
as large as the server allows (its limits@openssh.com answer) and pipelined, up to
a bounded amount of data in flight each way. Several threads may move files over
the one session at once (`shared()`, requests.SharedClient), sharing that bound.

A replaced target file is swapped in with the posix-rename@openssh.com extension
(atomic); servers without it get a rename that moves the old file aside first.
Symbolic links on a source are followed when they lead to a regular file; linked
directories are not entered.
"""

import contextlib
import copy
import dataclasses
import errno
import io
import logging
import posixpath
import re
import shlex
import socket
import stat
import threading
import time

import paramiko

from filetransfer.endpoints.sftp import hostkeys
from filetransfer.errors import ConnectError, TransferError, error_text
from filetransfer.smallfile import UnsuitableFile, read_small_file
from filetransfer.endpoints.sftp import sshpipe, tcp, turns
from filetransfer.endpoints.sftp.requests import (IN_FLIGHT, READING, REQUEST_SIZE, WRITING,
                                                  WRITING_NEW, DirectoryListing,
                                                  LimitsRequest, PipelinedReader,
                                                  PipelinedStats, PipelinedWriter,
                                                  SharedClient, batched, mkdir_request,
                                                  open_file, realpath_request, stat_request)
from filetransfer.endpoints.base import (Capabilities, FileEntry, StreamEndpoint, chunk_buffer,
                                         listed_name_problem, open_refused, refuse_unsafe)
from filetransfer.endpoints.remote import (Listed, kind_of, make_remote_dirs, moved_path,
                                           open_root, record_made, relative_dir,
                                           remove_after_interrupt,
                                           replace_by_steps, walk_tree)

log = logging.getLogger(__name__)
hostkeys.quiet_paramiko_logging()

MAX_REQUEST_SIZE = 255 << 10  # the most asked for, even from a server that allows more
HANDLES_SPARE = 2             # of the handles a server allows, those kept from files at once
# The SSH channel window must hold all the data in flight, else the server stalls.
CHANNEL_WINDOW = IN_FLIGHT
CLEANUP_TIMEOUT = 10.0
# Sub-directories whose listing a walk starts before it enters them (all on the
# one session, so their round trips overlap).
LISTINGS_AHEAD = 16
AEAD_CIPHERS = ('aes128-gcm@openssh.com', 'aes256-gcm@openssh.com')
_KEY_CLASSES = {'RSA': 'RSAKey', 'ECDSA': 'ECDSAKey', 'Ed25519': 'Ed25519Key', 'DSA': 'DSSKey'}


def _reason(exc: BaseException) -> str:
    if isinstance(exc, paramiko.SSHException) and isinstance(exc.__context__, EOFError):
        exc = exc.__context__          # paramiko's 'Server connection dropped: ' (no reason)
    return error_text(exc)


# what paramiko makes of the server's refusal of a request (_convert_status)
_REFUSALS = (OSError, FileNotFoundError, PermissionError)


@contextlib.contextmanager
def _open_refused(writing: bool):
    """The server's refusal of an open raises OpenRefused: any refusal of an open
    for writing, and for reading one without a reason (no errno: SFTP's plain
    failure, which is also what OpenSSH's sftp-server answers when it has no file
    descriptor left). A lost or silent connection is not a refusal."""
    try:
        yield
    except OSError as exc:
        if type(exc) in _REFUSALS and (writing or exc.errno is None):
            raise open_refused(exc) from None
        raise


class _Guard:
    """SftpEndpoint._guard: a class rather than a generator, as it surrounds each
    request (a fifth of the cost)."""

    __slots__ = ('endpoint',)

    def __init__(self, endpoint):
        if endpoint._sftp is None:
            raise TransferError(f'{endpoint.where}: not connected (closed after an '
                                'interruption)')
        self.endpoint = endpoint

    def __enter__(self) -> None:
        pass

    def __exit__(self, kind, exc, traceback) -> bool:
        if exc is not None:
            self.endpoint._guarded(exc)
        return False


def _interruption(exc: BaseException) -> bool:
    """Whether ``exc`` is a SIGTERM or Ctrl-C (not an error, nor a generator being
    closed early)."""
    return not isinstance(exc, (Exception, GeneratorExit))


def _stop(transport) -> None:
    """Stops a connection at once, sending nothing and waiting for nothing. After
    an interruption in the middle of a request, paramiko may hold a lock for good
    (it takes some before the try that releases them) or wait for a server that
    stopped reading; once the transport is stopped its closes return at once."""
    if isinstance(transport, paramiko.Transport):
        with contextlib.suppress(OSError):
            transport.sock.shutdown(socket.SHUT_RDWR)
        transport.stop_thread()       # takes no lock, and joins nothing once stopped
    else:
        transport.kill()


def load_key(path: str, key_type: str | None, passphrase: str | None):
    """Loads a private key; its type is detected when ``key_type`` is None.

    Raises ValueError with a message for the user (never containing the passphrase)."""
    dss = getattr(paramiko, _KEY_CLASSES['DSA'], None)   # gone since paramiko 4
    no_dsa = (f'the installed paramiko {paramiko.__version__} cannot load DSA keys; '
              'use an RSA, ECDSA or Ed25519 key')
    if key_type == 'DSA' and dss is None:
        raise ValueError(f'key_type DSA: {no_dsa}')
    try:
        data = read_small_file(path)
    except OSError as exc:
        raise ValueError(f'cannot read key file {path}: {_reason(exc)}') from None
    if key_type == 'DSA':
        return _read_key(lambda: dss.from_private_key(_text(data), passphrase), path)
    try:
        secret = passphrase.encode() if passphrase is not None else None
        key = _read_key(lambda: _private_key(data, secret), path)
    except paramiko.UnknownKeyType:
        if dss is not None and key_type is None:
            return _read_key(lambda: dss.from_private_key(_text(data), passphrase), path)
        raise ValueError(f'key file {path}: unsupported key type ({no_dsa})') from None
    found = next((name for name, cls in _KEY_CLASSES.items()
                  if isinstance(key, getattr(paramiko, cls, ()))), None)
    if key_type and found != key_type:
        raise ValueError(f'key file {path} holds a key of type {found}, '
                         f'but key_type is {key_type}')
    return key


def _text(data: bytes) -> io.StringIO:
    return io.StringIO(data.decode('utf-8', 'replace'))


def _private_key(data: bytes, password: bytes | None):
    """The key in a key file's content, its type detected as paramiko.PKey.from_path
    does (which would read the file itself, whatever kind of file it is)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    try:   # the OpenSSH format first, as OpenSSH does, then PEM
        loaded = serialization.load_ssh_private_key(data, password)
    except ValueError:
        loaded = serialization.load_pem_private_key(data, password)
    kinds = ((rsa.RSAPrivateKey, paramiko.RSAKey), (ec.EllipticCurvePrivateKey, paramiko.ECDSAKey),
             (ed25519.Ed25519PrivateKey, paramiko.Ed25519Key))
    cls = next((cls for kind, cls in kinds if isinstance(loaded, kind)), None)
    if cls is None:
        raise paramiko.UnknownKeyType(key_bytes=data, key_type=type(loaded))
    return cls.from_private_key(_text(data), password)


def _read_key(loader, path):
    try:
        return loader()
    except paramiko.UnknownKeyType:
        raise
    except paramiko.PasswordRequiredException:
        raise ValueError(f'cannot load key file {path}: it is encrypted: set key_pass') from None
    except TypeError as exc:   # cryptography: encrypted key without a passphrase, or vice versa
        hint = 'it is not encrypted, remove key_pass' if 'not encrypted' in str(exc) \
            else 'it is encrypted: set key_pass'
        raise ValueError(f'cannot load key file {path}: {hint}') from None
    except (ValueError, paramiko.SSHException):
        raise ValueError(f'cannot load key file {path}: wrong key_pass, or not a private '
                         'key in OpenSSH or PEM format') from None


class SftpEndpoint(StreamEndpoint):
    # checksum: the server's `sha256sum` through an SSH exec, where the account may
    # run commands (see checksum())
    # shared: more files at once in the same SFTP session (requests.SharedClient)
    # stats_at_once: STAT requests pipelined (requests.PipelinedStats)
    # turns: the files sharing the session run in one thread (turns.py)
    capabilities = Capabilities(resume=True, mtimes=True, set_mtime=True, checksum=True,
                                shared=True, stats_at_once=True, turns=turns.AVAILABLE)

    def __init__(self, spec, early: sshpipe.SshPipe | None = None):
        super().__init__(spec)
        self._early = early            # an ssh child started already (start_early)
        self._first_listing = None     # the root's listing, begun with its first look
        self._ahead = None             # (root, its looks and when they left) sent with its MKDIR
        self.server = server = spec.host       # an options.SftpHost
        self.host, self.port = server.host, server.port
        self.user = server.user
        self.timeout = server.timeout or None
        name = f'[{self.host}]' if ':' in self.host else self.host
        self.where = f'SFTP {name}:{self.port}'
        self.root = None
        self._root_attr = None
        self._transport = None
        self._sftp = None
        self._dirs = set()            # target directories known to exist
        self._posix_rename = True     # until the server refuses it
        self._fsync = True            # until the server says it has no fsync@openssh.com
        self._interrupted = False     # a SIGTERM or Ctrl-C came in the middle of a request
        self.request_size = REQUEST_SIZE
        self._commands = None         # the SSH connection that runs sha256sum (checksum())
        self._no_commands = None      # why the server runs no command for us, once known
        self._owner = self            # the endpoint that opened the session (shared())
        self._sharing = threading.Lock()
        self._users = 1               # the endpoints using the session (the owner's count)

    # -- life cycle -----------------------------------------------------------
    def open(self) -> None:
        self._interrupted = False
        early, self._early = self._early, None
        argv = None
        try:
            try:
                argv = self._openssh_command()
            finally:
                if early is not None and (argv is None or early.argv != argv):
                    early.kill()
                    early = None
            if argv:
                self._open_openssh(argv, early)
            if self._sftp is None:
                self._open_paramiko()
            with self._guard():
                limits = LimitsRequest(self._sftp)    # answered while the root is found
            self._open_root()
            with self._guard():
                said = limits.result()
            self.request_size = _request_size(said)
            if said is not None and said.handles:
                self.open_files_most = max(1, said.handles - HANDLES_SPARE)
            log.debug('%s: SFTP over %s, requests of %d bytes', self.where,
                      'paramiko' if isinstance(self._transport, paramiko.Transport) else 'ssh',
                      self.request_size)
        except BaseException as exc:
            self._interrupted = self._interrupted or _interruption(exc)
            self.close()
            raise

    def _open_paramiko(self) -> None:
        self.login()
        try:
            self._sftp = SharedClient.from_transport(self._transport, window_size=CHANNEL_WINDOW)
            self._sftp.get_channel().settimeout(self.timeout)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise self._no_sftp(exc) from None

    # -- the OpenSSH transport ------------------------------------------------
    def _openssh_command(self) -> list[str] | None:
        """The `ssh` command line when this connection goes through OpenSSH's
        client, else None (paramiko's transport)."""
        choice = self.server.transport
        if choice == 'paramiko':
            return None
        self._key()                # a key ssh cannot use is refused the same way
        self._read_host_keys()
        program = sshpipe.ssh_program()
        reason = sshpipe.unusable(program, self.server, self._known)
        if reason is None:
            return sshpipe.ssh_argv(program, self.server)
        if choice == 'openssh':
            raise ConnectError(f'{self.where}: transport = openssh, but {reason}', retryable=False)
        log.debug('%s: using paramiko, not ssh: %s', self.where, reason)
        return None

    def _open_openssh(self, argv: list[str], pipe: sshpipe.SshPipe | None = None) -> None:
        """Starts SFTP over an `ssh` child (``pipe``, when started already). When ssh
        fails for a reason other than an unreachable server, and the transport was
        not chosen explicitly, leaves ``self._sftp`` None so that paramiko's
        transport is tried (and says exactly what is wrong, when something is)."""
        try:
            pipe = pipe or sshpipe.SshPipe(argv)
        except OSError as exc:
            raise ConnectError(f'{self.where}: cannot run {argv[0]}: {_reason(exc)}') from None
        self._transport = pipe
        pipe.settimeout(self.timeout)
        try:
            self._sftp = SharedClient(pipe)
            return
        except (paramiko.SSHException, EOFError, OSError) as exc:
            pipe.close()
            errors = pipe.errors() or _reason(exc)
        self._transport = None
        last = errors.splitlines()[-1].removeprefix('ssh: ')
        if sshpipe.unreachable(errors):
            raise ConnectError(f'cannot connect to {self.where}: {last.rsplit(": ", 1)[-1]}')
        if self.server.transport == 'auto':
            log.info('%s: ssh failed (%s); trying paramiko', self.where, last)
            return
        raise ConnectError(f'{self.where}: ssh: {last}', retryable=not sshpipe.refused(errors))

    def login(self) -> None:
        """Connects, checks the server's host key and logs in; no SFTP yet.
        Raises ConnectError (not retryable when another try cannot help)."""
        key = self._key()
        self._read_host_keys()
        try:
            sock = tcp.connect(self.host, self.port, self.timeout)
        except OSError as exc:
            raise ConnectError(f'cannot connect to {self.where}: {_reason(exc)}') from None
        try:
            try:
                self._transport = paramiko.Transport(sock)
                self._handshake()
                self._authenticate(key)
            except (paramiko.SSHException, EOFError, OSError) as exc:
                raise ConnectError(f'{self.where}: SSH connection failed: '
                                   f'{_reason(exc)}') from None
        except BaseException as exc:
            self._interrupted = self._interrupted or _interruption(exc)
            self.close()
            raise

    def _no_sftp(self, exc) -> ConnectError:
        return ConnectError(f'{self.where}: SSH connection failed: {_reason(exc)}')

    def _key(self):
        path = self.server.key_file
        if not path:
            return None
        passphrase = self.server.key_pass
        try:
            return load_key(path, self.server.key_type,
                            passphrase.reveal() if passphrase else None)
        except ValueError as exc:
            raise ConnectError(f'{self.where}: {exc}', retryable=False) from None

    # The host-key policy: the known-hosts file, never adding a key.
    def _read_host_keys(self) -> None:
        path = self.server.known_hosts
        try:
            self._known = hostkeys.KnownHosts.read(path)
        except OSError as exc:
            port = '' if self.port == hostkeys.DEFAULT_PORT else f' -p {self.port}'
            hint = '' if isinstance(exc, UnsuitableFile) else \
                f' (create it with: filetransfer -k{port} {self.host} {path})'
            raise ConnectError(
                f'{self.where}: cannot read known_hosts file {path}: {_reason(exc)}'
                f'{hint}', retryable=False) from None

    def _preferred_key_types(self, offered: list) -> list:
        known_types = [key.keytype for key in
                       self._known.keys_for(hostkeys.host_name(self.host, self.port))]
        return hostkeys.preferred_algorithms(known_types, offered)

    def _host_key_problem(self, server_key) -> str | None:
        return self._known.check(self.host, self.port,
                                 hostkeys.HostKey(server_key.get_name(), server_key.asbytes()))

    def _handshake(self) -> None:
        transport = self._transport
        if self.timeout:
            transport.banner_timeout = transport.handshake_timeout = self.timeout
            transport.auth_timeout = self.timeout
        options = transport.get_security_options()
        options.key_types = self._preferred_key_types(options.key_types)
        # AES-GCM first: one pass over the data where CTR needs a second for the MAC
        # (measured about a third faster than paramiko's default aes128-ctr)
        gcm = tuple(name for name in AEAD_CIPHERS if name in options.ciphers)
        options.ciphers = gcm + tuple(name for name in options.ciphers if name not in gcm)
        started = time.monotonic()
        try:
            transport.start_client(timeout=self.timeout)
            server_key = transport.get_remote_server_key()
        except paramiko.SSHException:
            # start_client() gives up silently when its timeout expires; the next call fails
            if self.timeout and time.monotonic() - started >= self.timeout:
                raise ConnectError(f'{self.where}: the SSH handshake timed out '
                                   f'({self.timeout} s)') from None
            raise
        problem = self._host_key_problem(server_key)
        if problem:
            raise ConnectError(f'{self.where}: {problem}', retryable=False)

    def _authenticate(self, key) -> None:
        """Raises ConnectError, never retried: a refused login will be refused again
        (and repeating it can get the account locked)."""
        transport, user = self._transport, self.user
        password = self.server.password
        if key is not None:
            try:
                remaining = transport.auth_publickey(user, key)
            except paramiko.AuthenticationException:
                if not password:
                    raise self._refused(f'the key {self.server.key_file} was refused '
                                        f'for user {user}') from None
                log.info('%s: key refused for user %s, trying the password', self.where, user)
            else:
                if not remaining:
                    return
                if not password:
                    raise self._refused(f'the server wants more than the key for user '
                                        f'{user} ({", ".join(remaining)})')
        try:
            transport.auth_password(user, password.reveal())
        except paramiko.BadAuthenticationType as exc:
            if 'keyboard-interactive' not in exc.allowed_types:
                raise self._refused(f'password logins are not allowed for user {user} '
                                    f'(allowed: {", ".join(exc.allowed_types)})') from None
            self._interactive(password)
        except paramiko.AuthenticationException:
            raise self._refused(f'authentication failed for user {user} '
                                '(wrong password?)') from None

    def _interactive(self, password) -> None:
        def answer(title, instructions, prompts):
            return [password.reveal() for _ in prompts]
        try:
            self._transport.auth_interactive(self.user, answer)
        except paramiko.AuthenticationException:
            raise self._refused(f'authentication failed for user {self.user} '
                                '(wrong password?)') from None

    def _refused(self, text: str) -> ConnectError:
        return ConnectError(f'{self.where}: {text}', retryable=False)

    def _open_root(self) -> None:
        self.root = open_root(self, self.spec.path, self._makedirs, self._resolve)

    def _resolve(self, path: str) -> str:
        ahead, self._ahead = self._ahead, None
        looked_at, named, asked = ahead[1:] if ahead and ahead[0] == path \
            else self._look_at(path)
        root = named.result()
        self.round_trip = time.monotonic() - asked     # for connections = auto
        self._root_attr = looked_at.result()
        if not stat.S_ISDIR(self._root_attr.st_mode or 0):
            raise NotADirectoryError(errno.ENOTDIR, 'not a directory')
        self._dirs.add(root)
        return root

    def _look_at(self, path: str) -> tuple:
        """The root's STAT and REALPATH (and, for a source, the start of its
        listing), sent together: one round trip. Returns the two requests and when
        they left."""
        with batched(self._sftp):
            looked_at = stat_request(self._sftp, path)
            if self.role == 'source':
                self._first_listing = DirectoryListing(self._sftp, path)
            named = realpath_request(self._sftp, path)
        return looked_at, named, time.monotonic()

    def shared(self) -> 'SftpEndpoint':
        owner = self._owner
        if owner._sftp is None:
            raise TransferError(f'{self.where}: not connected')
        other = copy.copy(owner)     # the session, root and directories known to exist
        other.made_dirs = set()
        with owner._sharing:
            owner._users += 1
        return other

    def in_turns(self, tasks) -> None:
        owner = self._owner
        if owner._sftp is None:
            raise TransferError(f'{self.where}: not connected')
        # what the files send is written to the connection when all of them wait
        # (an ssh child then gets the requests of many files in one write); the
        # last of it (requests nobody waits for) may meet a connection lost
        with self._guard(), batched(owner._sftp):
            turns.Turns(owner._sftp).run(tasks)

    def _in_flight(self) -> int:
        """The bytes one file may have in flight now: the files moving at once over
        the session share IN_FLIGHT (the channel's window, and a bound on memory)."""
        return IN_FLIGHT // self._owner._users

    def _file_request_size(self) -> int:
        """The read or write size of a file starting now: no more than its share in
        flight (but the size every server serves), so that the memory a file holds
        stays within about twice its share however many move at once."""
        return min(self.request_size, max(REQUEST_SIZE, self._in_flight()))

    def close(self) -> None:
        if self._early is not None:           # never opened
            self._early.kill()
            self._early = None
        if self._owner is not self:           # the owner closes the session
            if self._sftp is not None:
                with self._owner._sharing:
                    self._owner._users -= 1
            self._sftp = self._transport = None
            return
        sftp, transport = self._sftp, self._transport
        self._sftp = self._transport = None
        commands, self._commands = self._commands, None
        if commands is not None and commands is not self:
            commands.close()
        if self._interrupted and transport is not None:
            _stop(transport)    # the closes below then send nothing and wait for nothing
        for thing in (sftp, transport):
            if thing is not None:
                try:
                    thing.close()
                except Exception as exc:   # closing a dead connection may fail; nothing to do
                    log.debug('%s: closing: %s', self.where, _reason(exc))

    # -- helpers --------------------------------------------------------------
    def _guard(self) -> '_Guard':
        """The context of every request: turns a broken connection into
        TransferError; a failed request on a working connection stays an OSError
        (one file's problem)."""
        return _Guard(self)

    def _guarded(self, exc: BaseException) -> None:
        """What `_Guard` does with ``exc``, raised by a request: raises the error
        it stands for, or returns (``exc`` goes on as it is)."""
        if isinstance(exc, socket.timeout):
            raise TransferError(f'{self.where}: no answer within the timeout '
                                f'({self.timeout} s)') from None
        if isinstance(exc, (EOFError, paramiko.SSHException, paramiko.SFTPError)):
            raise self._lost(exc) from None
        if isinstance(exc, OSError):
            if self._transport is None or not self._transport.is_active():
                raise self._lost(exc) from None
            return
        self._interrupted = self._interrupted or _interruption(exc)

    def _lost(self, exc: BaseException) -> TransferError:
        """The error for a connection that broke under a request, with the reason
        paramiko's transport saw when it ended ('Socket is closed' says nothing)."""
        ended = self._transport.get_exception() \
            if isinstance(self._transport, paramiko.Transport) else None
        return TransferError(f'{self.where}: connection lost: {_reason(ended or exc)}')

    def _remote(self, relpath: str) -> str:
        if relpath and self.in_temp_dir(relpath):
            return posixpath.normpath(posixpath.join(self.root, relpath))
        if relpath:
            refuse_unsafe(relpath)
        return posixpath.join(self.root, relpath) if relpath else self.root

    def _makedirs(self, path: str, absent: bool = False) -> None:
        """mkdir -p; raises OSError. ``absent``: the root, just found missing; its
        MKDIR goes with the looks that `_resolve` takes next (one round trip for
        the three where its parent exists)."""
        if absent and path not in self._dirs:
            with batched(self._sftp):
                made = mkdir_request(self._sftp, path)
                self._ahead = (path, *self._look_at(path))
            try:
                made.result()
            except OSError:
                self._ahead = None        # its parent first, then again
            else:
                record_made(self)(path)
                self._dirs.add(path)
                return
        make_remote_dirs(path, self._dirs, self._is_dir, self._sftp.mkdir, OSError,
                         record_made(self), absent)

    def _is_dir(self, path: str) -> bool:
        try:
            return stat.S_ISDIR(self._sftp.stat(path).st_mode or 0)
        except FileNotFoundError:
            return False
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return False
            raise

    # -- source side ----------------------------------------------------------
    def walk(self, descend):
        realpaths = {'': self.root}

        def realpath(relpath):
            if relpath not in realpaths:
                try:
                    realpaths[relpath] = self._sftp.normalize(self._remote(relpath))
                except OSError:
                    if not self._transport.is_active():
                        raise
                    realpaths[relpath] = None
            return realpaths[relpath]

        def same_directory(one, other):
            # SFTP attributes carry no identity: equal ones only make the server's
            # realpath worth asking (a link it lists as a directory resolves)
            if one[1].stamp != other[1].stamp:
                return False
            real = realpath(one[0])
            return real is not None and real == realpath(other[0])

        # relative directory -> its listing, under way (the root's since _resolve)
        started = {'': self._first_listing} if self._first_listing else {}
        self._first_listing = None

        def list_dir(reldir):
            listing = started.pop(reldir, None) or self._start_listing(reldir)
            entries = self._list_dir(reldir, listing)
            directories = [entry.name for entry in entries or () if entry.kind == 'dir']
            with batched(self._sftp):
                for name in sorted(directories):
                    if len(started) >= LISTINGS_AHEAD:
                        break
                    relpath = f'{reldir}/{name}' if reldir else name
                    if not listed_name_problem(name) and relpath not in started \
                            and descend(relpath):
                        started[relpath] = self._start_listing(relpath)
            return entries

        with self._guard():
            yield from walk_tree(self.where, _listed(self._root_attr), descend,
                                 list_dir, same_directory, self._settle)

    def _start_listing(self, reldir) -> DirectoryListing:
        return DirectoryListing(self._sftp, self._remote(reldir))

    def _list_dir(self, reldir, listing: DirectoryListing):
        path = listing.path
        try:
            return listing.entries()
        except OSError as exc:
            if not self._transport.is_active():
                raise
            if not reldir:
                raise TransferError(f'{self.where}: cannot list source directory '
                                   f'{path}: {_reason(exc)}') from None
            log.warning('%s: cannot list directory %s: %s', self.where, path, _reason(exc))
            return None

    def _settle(self, relpath, entry):
        """A symbolic link becomes the regular file it leads to, or is skipped."""
        if entry.kind != 'link':
            return entry
        try:
            attr = self._sftp.stat(self._remote(relpath))
        except OSError:
            if not self._transport.is_active():
                raise
            log.warning('%s: skipping dangling symbolic link %s', self.where, relpath)
            return None
        if not stat.S_ISREG(attr.st_mode or 0):
            log.info('%s: skipping symbolic link %s: not a regular file', self.where, relpath)
            return None
        return _listed(attr)._replace(name=entry.name)

    def open_read(self, relpath: str, offset: int = 0, expected=None):
        with self._guard(), _open_refused(writing=False):
            handle = open_file(self._sftp, self._remote(relpath), READING)
        return PipelinedReader(self._sftp, handle, self._guard, offset,
                               self._file_request_size(), self._in_flight,
                               expected.size if expected is not None else None)

    # -- target side ----------------------------------------------------------
    def write(self, relpath: str, reader, progress=None, *, offset=0,
              keep_partial=False, exclusive=False, durable=False, opening=None) -> int:
        path = self._remote(relpath)
        handle = None
        touched = False       # the open may have gone out: the file may be ours
        try:
            with self._guard():
                self._makedirs(posixpath.dirname(path))
                if opening:
                    opening()
                touched = True
                handle = self._open_for_writing(path, offset, exclusive)
                if offset:
                    handle.truncate(offset)
                    handle.seek(offset)
                total = self._send(path, handle, reader, progress, offset, durable)
            return total
        except TransferError:
            raise            # the connection is gone or hangs: nothing can be removed
        except Exception as exc:
            if handle is not None:
                if isinstance(exc, OSError) or not keep_partial:
                    self._remove_partial(path, handle)
                else:
                    self._close_kept(path, handle)
            raise
        except BaseException:
            if keep_partial or not touched:
                raise
            if threading.current_thread() is not threading.main_thread() \
                    or getattr(self._sftp, 'turns', None) is not None:
                # stopped by its progress callback, between requests (signals land
                # in the main thread, and while files take turns they stop the files
                # at their next step): the session, maybe shared, is in step
                if handle is not None:
                    self._remove_partial(path, handle)
                raise
            # Interrupted (SIGTERM, Ctrl-C) anywhere, maybe in the middle of a request:
            # this SFTP session may be out of step, so a new one removes the file.
            self._remove_after_interrupt(relpath)
            raise

    def _open_for_writing(self, path: str, offset: int, exclusive: bool):
        """The remote file opened for writing; with ``exclusive`` FileExistsError
        when there is one (servers answer a refused exclusive open with a plain
        failure, so it is looked up)."""
        try:
            with _open_refused(writing=True):
                if offset:        # paramiko's file object, which can truncate and seek
                    return self._sftp.open(path, 'r+b', bufsize=0)
                return open_file(self._sftp, path, WRITING_NEW if exclusive else WRITING)
        except OSError:
            if exclusive and self._transport.is_active() and self._exists(path):
                raise FileExistsError(errno.EEXIST, 'a file exists under this name') from None
            raise

    def _exists(self, path: str) -> bool:
        try:
            self._sftp.lstat(path)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return False
            raise
        return True

    def _send(self, path, handle, reader, progress, offset: int, durable: bool) -> int:
        """Writes what ``reader`` gives at ``offset`` on and closes ``handle``;
        returns once the server has confirmed every write and the size of the file."""
        request_size = self._file_request_size()
        writes = PipelinedWriter(self._sftp, handle, request_size, self._in_flight,
                                 sync=durable and self._owner._fsync)
        total = 0
        buffer = chunk_buffer(reader)
        size = min(len(buffer), max(request_size, self._in_flight()))
        if size > request_size:
            # whole requests only: a chunk's remainder would make a small write of its own
            size = size // request_size * request_size
        del buffer[size:]
        # Two buffers in turn: the last write of a chunk is sent with the next one,
        # so it must stay as it is while the other buffer is read into. The writes
        # go out as views of them, not copied.
        views = memoryview(buffer), memoryview(bytearray(size))
        turn = 0
        while True:
            view, turn = views[turn], 1 - turn
            count = reader.readinto(view)
            if not count:
                break
            for start in range(0, count, request_size):
                writes.send(offset + total + start, view[start:min(count, start + request_size)])
            total += count
            if progress:
                progress(count)
        stored = writes.finish()
        if writes.synced is not None:
            self._synced(*writes.synced)
        if stored is None:         # the server cannot stat an open file
            stored = self._size(path)
        if stored != offset + total:
            # a server may answer every write with success and still lose data
            # (a quota, a broken disk)
            raise OSError(errno.EIO, f'the server stored {stored} bytes of {offset + total}')
        return total

    def _synced(self, code: int, text: str) -> None:
        """Takes the answer to fsync@openssh.com. A server without it, or whose
        disk cannot do it, is told once and not asked again; as with OpenSSH's
        `sftp -f`, the file counts as written all the same."""
        session = self._owner
        if code == paramiko.sftp.SFTP_OK or not session._fsync:
            return
        session._fsync = False
        if code == paramiko.sftp.SFTP_OP_UNSUPPORTED:
            log.info('%s: the server cannot be asked to write files to its disk at once '
                     '(no fsync@openssh.com); files are left to it', self.where)
        else:
            log.warning('%s: the server could not write a file to its disk at once '
                        '(fsync@openssh.com: %s); it is not asked again', self.where,
                        text or f'status {code}')

    def _remove_partial(self, path, handle) -> None:
        """After a failed write on a working session: closes and removes the file."""
        try:
            with self._guard():
                try:
                    handle.close()
                except OSError:
                    pass   # the write error that brought us here is the one to report
                self._sftp.remove(path)
        except (OSError, TransferError) as exc:
            log.warning('%s: could not remove partial file %s: %s', self.where, path,
                        _reason(exc))

    def _close_kept(self, path, handle) -> None:
        """After a failed read of the source: closes the partial file, which stays."""
        try:
            with self._guard():
                handle.close()
        except (OSError, TransferError) as exc:
            log.warning('%s: could not close partial file %s: %s', self.where, path,
                        _reason(exc))

    def _remove_after_interrupt(self, relpath: str) -> None:
        """Removes ``relpath`` after an interruption. That may have come in the
        middle of a request or even of an SSH packet, so this connection cannot be
        trusted (a cut packet makes it hang or fail): it is dropped, and a new one
        removes the file."""
        self._interrupted = True
        self.close()
        remove_after_interrupt(self, relpath, CLEANUP_TIMEOUT)

    def rename(self, relpath: str, new_relpath: str) -> None:
        source, target = self._remote(relpath), self._remote(new_relpath)
        session = self._owner      # what the server refuses, the files sharing it learn
        tried = session._posix_rename
        with self._guard():
            self._makedirs(posixpath.dirname(target))
            if tried:
                try:
                    self._sftp.posix_rename(source, target)
                    return
                except OSError as exc:
                    if not self._transport.is_active():
                        raise
                    first = exc
            try:
                self._rename_replacing(source, target)
            except OSError:
                if tried:
                    raise first from None
                raise
            if tried and session._posix_rename:
                log.debug('%s: posix-rename refused (%s); renaming in steps', self.where,
                          _reason(first))
                session._posix_rename = False

    def _rename_replacing(self, source, target):
        try:
            self._sftp.rename(source, target)
        except OSError:
            if self._size(target) is None:
                raise
            replace_by_steps(self._sftp.rename, self._sftp.remove, source, target)

    def stat(self, relpath: str) -> FileEntry | None:
        with self._guard():
            try:
                attr = self._sftp.stat(self._remote(relpath))
            except OSError as exc:
                if exc.errno == errno.ENOENT:
                    return None
                raise
        if not stat.S_ISREG(attr.st_mode or 0):
            return None
        return FileEntry(relpath, attr.st_size or 0, attr.st_mtime)

    def stat_many(self, relpaths: list[str]) -> dict:
        with self._guard():
            answers = PipelinedStats(self._sftp, [self._remote(relpath)
                                                  for relpath in relpaths]).results()
        found = {}
        for relpath, attr in zip(relpaths, answers):
            if isinstance(attr, OSError):
                found[relpath] = None if attr.errno == errno.ENOENT else attr
            elif stat.S_ISREG(attr.st_mode or 0):
                found[relpath] = FileEntry(relpath, attr.st_size or 0, attr.st_mtime)
            else:
                found[relpath] = None
        return found

    def _size(self, path):
        try:
            attr = self._sftp.stat(path)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise
        return attr.st_size if stat.S_ISREG(attr.st_mode or 0) else None

    # -- both sides -----------------------------------------------------------
    def remove(self, relpath: str) -> None:
        with self._guard():
            self._sftp.remove(self._remote(relpath))

    def remove_dir(self, relpath: str) -> None:
        path = self._remote(relpath)
        with self._guard():
            self._sftp.rmdir(path)
        self._dirs.discard(path)

    def set_mtime(self, relpath: str, mtime: float) -> None:
        """SETSTAT; SFTP carries whole seconds."""
        with self._guard():
            self._sftp.utime(self._remote(relpath), (mtime, mtime))

    def relative_dir(self, folder: str) -> str | None:
        return relative_dir(self.root, folder)

    def move_into(self, relpath: str, folder: str, new_relpath: str) -> None:
        source, target = self._remote(relpath), moved_path(self.root, folder, new_relpath,
                                                            OSError)
        with self._guard():
            self._makedirs(posixpath.dirname(target))
            if self._exists(target):
                raise FileExistsError(errno.EEXIST, 'a file exists under this name', target)
            self._sftp.rename(source, target)    # SSH_FXP_RENAME replaces nothing

    def checksum(self, relpath: str) -> str | None:
        """The server's `sha256sum` of the file, run through an SSH exec: on this
        connection with paramiko's transport, else over a paramiko connection of its
        own (opened once). None when the account may run no such command (ProFTPD's
        mod_sftp runs none; an account limited to SFTP neither): the caller reads
        the file back."""
        if self._owner is not self:
            return self._owner.checksum(relpath)
        if self._no_commands:
            return None
        path = self._remote(relpath)
        try:
            channel = self._command_channel()
            try:
                channel.exec_command('sha256sum -- ' + shlex.quote(path))
                output = _read_limited(channel, 4096)
                status = channel.recv_exit_status()
            finally:
                channel.close()
        except (paramiko.SSHException, EOFError, OSError, ConnectError) as exc:
            return self._commands_refused(_reason(exc))
        match = _SHA256_LINE.match(output)
        if status == 0 and match:
            return match[1].decode()
        if status in (126, 127) or status == 0:
            return self._commands_refused(f'sha256sum: exit status {status}')
        log.debug('%s: sha256sum %s: exit status %d', self.where, path, status)
        return None

    def _command_channel(self):
        """A new session channel of the connection that runs commands."""
        with self._sharing:
            self._open_commands()
        channel = self._commands._transport.open_session(timeout=self.timeout)
        channel.settimeout(self.timeout)
        return channel

    def _open_commands(self) -> None:
        if self._commands is None:
            if isinstance(self._transport, paramiko.Transport):
                self._commands = self
            else:
                spec = dataclasses.replace(self.spec, host=dataclasses.replace(
                    self.server, transport='paramiko'))
                other = SftpEndpoint(spec)
                other.login()
                self._commands = other

    def _commands_refused(self, why: str) -> None:
        self._no_commands = why
        log.info('%s: no sha256sum on the server for this account (%s): files are read '
                 'back to be checked', self.where, why)
        return None


_SHA256_LINE = re.compile(rb'^\\?([0-9a-f]{64}) ')


def _read_limited(channel, most: int) -> bytes:
    """A command's output (stdout) up to ``most`` bytes; the rest is read and dropped."""
    chunks, size = [], 0
    while chunk := channel.recv(65536):
        if size < most:
            chunks.append(chunk)
        size += len(chunk)
    return b''.join(chunks)[:most]


def _request_size(limits) -> int:
    """The largest read and write the server takes (its limits@openssh.com answer),
    up to MAX_REQUEST_SIZE; the SFTP minimum when it does not say."""
    if limits is None:
        return REQUEST_SIZE
    largest = min(limits.read, limits.write)
    return min(MAX_REQUEST_SIZE, largest) if largest >= REQUEST_SIZE else REQUEST_SIZE


def _listed(attr) -> Listed:
    mode = attr.st_mode or 0
    return Listed(getattr(attr, 'filename', ''), kind_of(mode), attr.st_size, attr.st_mtime,
                  (mode, attr.st_uid, attr.st_gid, attr.st_size, attr.st_mtime))


def create(spec, early: sshpipe.SshPipe | None = None) -> StreamEndpoint:
    return SftpEndpoint(spec, early)
