"""The SFTP subsystem of an OpenSSH `ssh` child process, as a channel for paramiko.

paramiko's SFTP client then speaks SFTP over the child's stdin and stdout, while
`ssh` (in C, in its own process) does the encryption: the same split as OpenSSH's
own `sftp`. Only key logins without a passphrase go this way (`ssh` runs in batch
mode and cannot be given a secret on its command line).

The child reads no ssh_config file, checks the host key strictly against the
configured known-hosts file only, uses only the configured key (no agent), never
updates a known-hosts file and never forwards anything.
"""

import errno
import fcntl
import os
import select
import subprocess
import threading

PIPE_SIZE = 1 << 20     # fewer wake-ups per megabyte than the default 64 KiB
READ_SIZE = PIPE_SIZE
TAKEN_IN_PLACE = 16 << 10   # a message this long is handed out without a copy of it
HELD_MOST = 256 << 10   # bytes held back by batched() before they are written anyway
EXIT_WAIT = 5.0


def ssh_program() -> str | None:
    """Where the OpenSSH client is (as shutil.which finds it, without loading
    shutil's compression modules before the login), or None when it is not
    installed."""
    for folder in os.get_exec_path():
        path = os.path.join(folder, 'ssh')
        if os.access(path, os.X_OK) and not os.path.isdir(path):
            return path
    return None


def ssh_argv(program: str, server) -> list[str]:
    """The command line of an `ssh` child that opens the SFTP subsystem of the host
    ``server`` (an SftpHost). No secret is ever part of it."""
    options = {
        'BatchMode': 'yes',
        'StrictHostKeyChecking': 'yes',
        'UserKnownHostsFile': server.known_hosts,
        'GlobalKnownHostsFile': 'none',
        'UpdateHostKeys': 'no',
        'CheckHostIP': 'no',
        'HashKnownHosts': 'no',
        'IdentitiesOnly': 'yes',
        'IdentityAgent': 'none',
        'IdentityFile': server.key_file,
        'PubkeyAuthentication': 'yes',
        'PasswordAuthentication': 'no',
        'KbdInteractiveAuthentication': 'no',
        'GSSAPIAuthentication': 'no',
        'ForwardAgent': 'no',
        'ForwardX11': 'no',
        'ClearAllForwardings': 'yes',
        'ControlPath': 'none',
        'ProxyCommand': 'none',
        # AES-GCM first: with AES-NI it costs ssh and sshd less CPU than the
        # default chacha20-poly1305, which counts on a machine with few cores.
        'Ciphers': '^aes128-gcm@openssh.com,aes256-gcm@openssh.com',
        'LogLevel': 'ERROR',
        'Port': str(server.port),
        'User': server.user,
    }
    timeout = server.timeout
    if timeout:
        options['ConnectTimeout'] = str(max(1, round(timeout)))
    argv = [program, '-F', 'none', '-T', '-x', '-a', '-e', 'none', '-s']
    for name, value in options.items():
        argv += ['-o', f'{name}={value}']
    # '--' so that a host name can never be taken for an option
    return [*argv, '--', server.host, 'sftp']


def unusable(program: str | None, server, known) -> str | None:
    """Why an `ssh` child cannot log in to ``server`` (an SftpHost) whose host keys
    are ``known`` (a hostkeys.KnownHosts), or None. What only paramiko tells (a
    key file it cannot load) is the endpoint's to check."""
    from filetransfer.endpoints.sftp import hostkeys

    key_file = server.key_file
    if program is None:
        return 'the OpenSSH client (ssh) is not installed'
    if not key_file:
        return 'ssh logs in with a key only, and this host has no key_file'
    if server.key_pass:
        return 'ssh cannot be given the passphrase of the key (key_pass)'
    if server.key_type == 'DSA':
        return 'ssh no longer takes DSA keys'
    try:
        info = os.stat(key_file)
    except OSError as exc:
        return f'cannot read key file {key_file}: {exc.strerror or exc}'
    if info.st_uid == os.getuid() and info.st_mode & 0o077:
        return f'ssh refuses a key file that others may read ({key_file}: chmod 600)'
    if not known.keys_for(hostkeys.host_name(server.host, server.port)):
        return f'the host is not in {server.known_hosts}'
    return None


def start_early(spec) -> 'SshPipe | None':
    """The `ssh` child of an SFTP endpoint of ``spec`` (a config.EndpointSpec),
    started before the endpoint's module loads (paramiko: some 100 ms), so that
    the login goes on meanwhile; None when ssh will not be used. The endpoint
    adopts it when it chooses the same command line, and ends it otherwise."""
    from filetransfer.endpoints.sftp import hostkeys

    server = spec.host
    if server.transport == 'paramiko':
        return None
    program = ssh_program()
    try:
        if unusable(program, server, hostkeys.KnownHosts.read(server.known_hosts)):
            return None
        return SshPipe(ssh_argv(program, server))
    except (OSError, ValueError):
        return None      # the endpoint finds it again, and says it


class SshPipe:
    """What paramiko's SFTPClient needs of a channel (send, recv, recv_ready,
    settimeout, close, get_name), over an `ssh` child's pipes. A read or write that
    waits longer than the timeout raises TimeoutError (socket.timeout), as a channel
    would."""

    def __init__(self, argv: list[str]):
        self.argv = argv
        self._stderr = _scratch_file()
        # A session of its own: a Ctrl-C meant for us must not kill ssh before the
        # job has cleaned up.
        try:
            self.process = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=self._stderr,
                                            bufsize=0, start_new_session=True)
        except OSError:
            self._stderr.close()
            raise
        self._out = self.process.stdin.fileno()
        self._in = self.process.stdout.fileno()
        for fd in (self._out, self._in):
            os.set_blocking(fd, False)     # a write never blocks past the timeout
            try:
                fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
            except OSError:      # capped by /proc/sys/fs/pipe-max-size; the default works
                pass
        self._timeout = None
        self._closed = False
        self._errors = None
        self._received = b''        # read from ssh, handed out up to _taken
        self._taken = 0
        self._batching = 0          # depth of batched() blocks
        self._held = []             # what send() was given in a batch, not written yet
        self._held_size = 0
        self._sending = threading.RLock()   # keeps what is sent in order

    # -- the channel interface paramiko uses -------------------------------------
    def settimeout(self, timeout: float | None) -> None:
        self._timeout = timeout

    def gettimeout(self) -> float | None:
        return self._timeout

    def get_name(self) -> str:
        return 'ssh'

    def batched(self) -> '_Batch':
        """Within the block, what is sent goes to ssh in one write at its end (or
        when HELD_MOST bytes wait): requests sent together then leave in one SSH
        packet. ssh's socket has Nagle's algorithm on, so requests written to it
        one by one wait for the acknowledgement of the first (up to the peer's
        delayed-ACK time, 40 ms on Linux) when ssh happens to read them apart."""
        return _Batch(self)

    def _write_held(self) -> None:
        with self._sending:
            data, self._held, self._held_size = b''.join(self._held), [], 0
            if data:
                self._write_all(data)

    def _write_all(self, data) -> None:
        view = memoryview(data)
        while view:
            written = self._write(view)
            if not written:
                raise EOFError()          # as paramiko's own writes say it
            view = view[written:]

    def send_parts(self, parts: list) -> None:
        """Sends ``parts`` (bytes or views) as one message: written together
        (writev) without joining them, or held, copied, in a batch."""
        with self._sending:
            if self._batching:
                self.send(b''.join(parts))
                return
            views = [memoryview(part) for part in parts]
            while views:
                try:
                    written = self._when_ready(self._out, lambda: os.writev(self._out, views))
                except BrokenPipeError:
                    raise EOFError() from None     # as paramiko's own writes say it
                while views and written >= len(views[0]):
                    written -= len(views.pop(0))
                if written:
                    views[0] = views[0][written:]

    def send(self, data) -> int:
        with self._sending:
            if not self._batching:
                return self._write(data)
            self._held.append(bytes(data))
            self._held_size += len(data)
            if self._held_size >= HELD_MOST:
                self._write_held()
            return len(data)

    def _write(self, data) -> int:
        try:
            return self._when_ready(self._out, lambda: os.write(self._out, data))
        except BrokenPipeError:
            return 0            # paramiko takes 0 for a closed channel

    def _when_ready(self, fd: int, operation):
        """``operation()`` (a read or write of ``fd``, which does not block) once
        ``fd`` is ready for it."""
        while True:
            self._wait(fd, writing=fd == self._out)
            try:
                return operation()
            except BlockingIOError:
                continue

    def recv(self, size: int) -> bytes:
        # paramiko reads each SFTP message in two parts (its length, then the rest):
        # reading all there is and handing it out in parts saves system calls
        if self._taken >= len(self._received):
            if self._held:             # an answer is awaited: what it answers must be out
                self._write_held()
            self._received = self._when_ready(
                self._in, lambda: os.read(self._in, max(size, READ_SIZE)))
            self._taken = 0
        end = self._taken + size
        data = self._received[self._taken:end]     # the whole of it: no copy
        self._taken = min(end, len(self._received))
        return data

    def take(self, size: int):
        """The next ``size`` bytes from ssh, all of them (EOFError at its end):
        SharedClient reads an SFTP message with three of these. A long one (the
        data of a file) comes as a memoryview, without a copy: a view of what was
        read, or read at once into a buffer of its own."""
        start = self._taken
        end = start + size
        if end <= len(self._received):
            self._taken = end
            if size < TAKEN_IN_PLACE:
                return self._received[start:end]
            return memoryview(self._received)[start:end]
        if size >= TAKEN_IN_PLACE:
            return self._take_into(size)
        parts = []
        while size:
            piece = self.recv(size)
            if not piece:
                raise EOFError()
            parts.append(piece)
            size -= len(piece)
        return b''.join(parts)

    def _take_into(self, size: int) -> memoryview:
        """`take` of a long message that was not read whole yet: what was read of
        it, then the rest read into the same buffer."""
        view = memoryview(bytearray(size))
        have = len(self._received) - self._taken
        view[:have] = memoryview(self._received)[self._taken:]
        self._taken = len(self._received)
        if self._held:             # an answer is awaited: what it answers must be out
            self._write_held()
        while have < size:
            count = self._when_ready(self._in, lambda: os.readv(self._in, [view[have:]]))
            if not count:
                raise EOFError()
            have += count
        return view

    def recv_ready(self) -> bool:
        return self._taken < len(self._received) or \
            bool(select.select([self._in], [], [], 0)[0])

    def _wait(self, fd: int, writing: bool) -> None:
        if self._closed:
            raise EOFError('the ssh connection is closed')
        if writing:
            ready = select.select([], [fd], [], self._timeout)[1]
        else:
            ready = select.select([fd], [], [], self._timeout)[0]
        if not ready:
            raise TimeoutError('timed out')

    # -- the child ----------------------------------------------------------------
    def is_active(self) -> bool:
        return not self._closed and self.process.poll() is None

    def errors(self) -> str:
        """What ssh wrote on its stderr (its error messages)."""
        if self._errors is not None:
            return self._errors
        self._stderr.seek(0)
        text = self._stderr.read(8192).decode('utf-8', errors='replace')
        return '\n'.join(line.strip() for line in text.splitlines() if line.strip())

    def kill(self) -> None:
        """Ends the child at once (after an interruption: what it still has to send
        is of no use, and a server that stopped reading would keep it waiting)."""
        if not self._closed and self.process.poll() is None:
            self.process.kill()
        self.close()

    def close(self) -> None:
        """Ends the SFTP session (EOF on ssh's stdin) and the child; idempotent."""
        if self._closed:
            return
        self._closed = True
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError as exc:
                if exc.errno != errno.EPIPE:
                    raise
        if not _ended(self.process, EXIT_WAIT):
            self.process.kill()
            self.process.wait()
        self._errors = self.errors()
        self._stderr.close()


def _scratch_file():
    """An anonymous file in memory for ssh's messages (tempfile's module, with what
    it loads, is not on the way to a login)."""
    try:
        return open(os.memfd_create('ssh-errors', os.MFD_CLOEXEC), 'w+b')
    except (AttributeError, OSError):     # not Linux
        import tempfile

        return tempfile.TemporaryFile()


def _ended(process: subprocess.Popen, timeout: float) -> bool:
    """Waits up to ``timeout`` seconds for ``process`` to end (and reaps it);
    whether it did. Woken by the end itself where the system can say it (a pidfd):
    Popen.wait(timeout) looks in steps that grow to 50 ms, a good part of a round
    trip that ssh's goodbye to the server takes."""
    try:
        pidfd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):       # not Linux 5.3+, or already reaped
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True
    try:
        if not select.select([pidfd], [], [], timeout)[0]:
            return False
    finally:
        os.close(pidfd)
    process.wait()
    return True


_UNREACHABLE = ('ssh: connect to host', 'ssh: Could not resolve hostname',
                'Connection timed out during banner exchange', 'Connection refused')
_REFUSED = ('Host key verification failed', 'Permission denied', 'Too many authentication')


def unreachable(errors: str) -> bool:
    """Whether ssh's messages say the server could not be reached at all."""
    return any(marker in errors for marker in _UNREACHABLE)


def refused(errors: str) -> bool:
    """Whether ssh's messages say the host key or the login was refused: trying
    again cannot help."""
    return any(marker in errors for marker in _REFUSED)


class _Batch:
    """SshPipe.batched: a class rather than a generator, as each file's requests
    go in one or two (a fifth of the cost)."""

    __slots__ = ('pipe',)

    def __init__(self, pipe: SshPipe):
        self.pipe = pipe

    def __enter__(self) -> None:
        self.pipe._batching += 1

    def __exit__(self, *exc_info) -> bool:
        pipe = self.pipe
        pipe._batching -= 1
        if not pipe._batching:
            pipe._write_held()
        return False
