"""SFTP servers made of paramiko's server classes, in threads of the test process,
for what OpenSSH will not do:

- `HostileSftpServer`: its directory lists the given entries, whatever their names,
  and every file reads as ``HOSTILE_DATA``.
- `LoopingSftpServer`: its directory holds a file and directories that are the
  directory itself, at any depth: a loop.
- `PlainSftpServer`: a local directory served with plain SFTP version 3 semantics:
  no posix-rename@openssh.com, and a rename never replaces an existing file; it
  can lose data past a size while saying it wrote it.

All record the requests clients make (``requests``: (operation, path) pairs) and
log in with a password. `ParamikoSftpServer.stall` makes a server stop reading
what its clients send, as a server that hangs.
"""

import errno
import os
import socket
import threading
import time

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

HOSTILE_DATA = b'evil!'


class _Auth(paramiko.ServerInterface):
    def __init__(self, user, password):
        self.user, self.password = user, password

    def get_allowed_auths(self, username):
        return 'password'

    def check_auth_password(self, username, password):
        if (username, password) == (self.user, self.password):
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def check_channel_request(self, kind, chanid):
        if kind == 'session':
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED


class _Handle(paramiko.SFTPHandle):
    def read(self, offset, length):
        return HOSTILE_DATA[offset:offset + length]


def _attributes(name, is_dir):
    attr = paramiko.SFTPAttributes()
    attr.filename = name
    attr.st_mode = (0o40755 if is_dir else 0o100644)
    attr.st_size = 0 if is_dir else len(HOSTILE_DATA)
    attr.st_mtime = attr.st_atime = 1_700_000_000
    attr.st_uid = attr.st_gid = 0
    return attr


class _StallingSocket:
    """A connection of the server whose reading `stall` stops for good: what the
    client sends then fills the network buffers, and its writes block."""

    def __init__(self, sock):
        self.sock = sock
        self.stalled = threading.Event()

    def recv(self, size):
        if self.stalled.is_set():
            time.sleep(0.1)
            raise socket.timeout('stalled')     # paramiko tries again
        return self.sock.recv(size)

    def unread(self) -> int:
        """The bytes the client sent that the server has not read yet."""
        import fcntl
        import struct
        import termios
        raw = fcntl.ioctl(self.sock.fileno(), termios.FIONREAD, b'\0' * 4)
        return struct.unpack('i', raw)[0]

    def __getattr__(self, name):
        return getattr(self.sock, name)


class ParamikoSftpServer:
    """Listens on 127.0.0.1; ``interface()`` returns the SFTPServerInterface class.
    ``window``: the bytes a client may send on a channel before the server says
    it has taken them (paramiko's default when None)."""

    def __init__(self, root: str, window: int | None = None):
        self.root = root
        self.window = window
        self.user, self.password = 'sftpuser', 'sftp-password'
        self.requests = []          # (operation, path) asked by clients
        key = ed25519.Ed25519PrivateKey.generate()
        key_path = os.path.join(root, 'sftp_host_key')
        with open(key_path, 'wb') as fh:
            fh.write(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.OpenSSH,
                                       serialization.NoEncryption()))
        self.host_key = paramiko.Ed25519Key.from_private_key_file(key_path)
        self.listener = socket.socket()
        self.listener.bind(('127.0.0.1', 0))
        self.listener.listen()
        self.port = self.listener.getsockname()[1]
        self.known_hosts = os.path.join(root, 'sftp_known_hosts')
        with open(self.known_hosts, 'w') as fh:
            fh.write(f'[127.0.0.1]:{self.port} {self.host_key.get_name()} '
                     f'{self.host_key.get_base64()}\n')
        self._transports = []
        self.connections = []          # _StallingSocket of every client
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._stopped:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            connection = _StallingSocket(sock)
            self.connections.append(connection)
            options = {'default_window_size': self.window} if self.window else {}
            transport = paramiko.Transport(connection, **options)
            transport.add_server_key(self.host_key)
            transport.set_subsystem_handler('sftp', paramiko.SFTPServer,
                                            sftp_si=self.interface())
            self._transports.append(transport)
            try:
                transport.start_server(server=_Auth(self.user, self.password))
            except (paramiko.SSHException, EOFError, OSError):
                transport.close()

    def drop(self):
        """Ends the connections of the clients connected now (the client reads the
        end of the stream), as a server that goes away."""
        for connection in self.connections:
            connection.shutdown(socket.SHUT_WR)
        for transport in self._transports:
            transport.close()

    def stall(self):
        """Stops reading from the clients connected now (later ones are served)."""
        for connection in self.connections:
            connection.stalled.set()

    def stop(self):
        self._stopped = True
        self.listener.close()
        for transport in self._transports:
            transport.close()


    def interface(self):
        raise NotImplementedError


class HostileSftpServer(ParamikoSftpServer):
    """``entries``: (name, is_dir) pairs shown in the listing of ``path`` (other
    directories are empty)."""

    def __init__(self, root: str, entries, path: str = '/data'):
        super().__init__(root)
        self.path = path
        self.entries = list(entries)

    def interface(self):
        return _hostile_interface(self)


def _hostile_interface(server: HostileSftpServer):
    class Interface(paramiko.SFTPServerInterface):
        def list_folder(self, path):
            server.requests.append(('list', path))
            if os.path.normpath(path) != server.path:
                return []
            return [_attributes(name, is_dir) for name, is_dir in server.entries]

        def stat(self, path):
            server.requests.append(('stat', path))
            known = {name: is_dir for name, is_dir in server.entries}
            return _attributes(os.path.basename(path), known.get(os.path.basename(path), True))

        lstat = stat

        def open(self, path, flags, attr):
            server.requests.append(('open', path))
            return _Handle(flags)

        def remove(self, path):
            server.requests.append(('remove', path))
            return paramiko.SFTP_OK

        def canonicalize(self, path):
            return os.path.normpath('/' + path).replace('//', '/')

    return Interface


class LoopingSftpServer(ParamikoSftpServer):
    """``path`` holds the file ``LOOP_FILE`` and the directories ``names``, each of
    which is ``path`` itself again (as a server shows a symbolic link to a parent
    directory when it follows links in listings). Its realpath leads back to
    ``path``, as a server's realpath of such a link does, unless ``hide_loops``:
    then nothing tells the loop from an endless tree."""

    def __init__(self, root: str, names, path: str = '/data', hide_loops: bool = False):
        super().__init__(root)
        self.path = path
        self.names = list(names)
        self.hide_loops = hide_loops

    def interface(self):
        return _looping_interface(self)


LOOP_FILE = 'file.txt'


def _looping_interface(server: LoopingSftpServer):
    def normal(path):
        return os.path.normpath('/' + path.lstrip('/'))

    def inside(path):
        path = normal(path)
        return path == server.path or path.startswith(server.path + '/')

    class Interface(paramiko.SFTPServerInterface):
        def list_folder(self, path):
            server.requests.append(('list', path))
            if not inside(path):
                return paramiko.SFTP_NO_SUCH_FILE
            return [_attributes(LOOP_FILE, False)] + \
                [_attributes(name, True) for name in server.names]

        def stat(self, path):
            server.requests.append(('stat', path))
            if not inside(path):
                return paramiko.SFTP_NO_SUCH_FILE
            return _attributes(os.path.basename(path), os.path.basename(path) != LOOP_FILE)

        lstat = stat

        def open(self, path, flags, attr):
            server.requests.append(('open', path))
            return _Handle(flags)

        def canonicalize(self, path):
            path = normal(path)
            if inside(path) and not server.hide_loops:
                name = os.path.basename(path)
                return os.path.join(server.path, LOOP_FILE) if name == LOOP_FILE else server.path
            return path

    return Interface


class PlainSftpServer(ParamikoSftpServer):
    """Serves the directory ``base`` (paths inside it, '/' = ``base``). With
    ``keep_at_most`` it answers every write with success but drops the data past
    that many bytes of a file (a server that loses data without saying so); with
    ``refuse_past`` = (size, status code) it answers a write past that size of a
    file with that status (a full disk, a quota). ``mute``: (operation, path in
    ``base``) pairs of the requests it does not answer until it stops (``stat``: a
    client waits there until the test interrupts it)."""

    def __init__(self, root: str, base: str, keep_at_most: int | None = None,
                 window: int | None = None, refuse_past: tuple | None = None,
                 mute: tuple = ()):
        super().__init__(root, window)
        self.base = base
        self.keep_at_most = keep_at_most
        self.refuse_past = refuse_past
        self.mute = mute
        self.unmuted = threading.Event()

    def stop(self):
        self.unmuted.set()
        super().stop()

    def interface(self):
        return _plain_interface(self)


def _plain_interface(server: PlainSftpServer):
    def local(path):
        return os.path.join(server.base, os.path.normpath('/' + path).lstrip('/'))

    def status(exc):
        return paramiko.SFTPServer.convert_errno(exc.errno)

    def attributes(path, name=None):
        attr = paramiko.SFTPAttributes.from_stat(os.lstat(path))
        attr.filename = name or os.path.basename(path)
        return attr

    class Handle(paramiko.SFTPHandle):
        def write(self, offset, data):
            if server.refuse_past and offset + len(data) > server.refuse_past[0]:
                return server.refuse_past[1]
            limit = server.keep_at_most
            if limit is not None and offset + len(data) > limit:
                data = data[:max(0, limit - offset)]
                if not data:
                    return paramiko.SFTP_OK
            return super().write(offset, data)

    class Interface(paramiko.SFTPServerInterface):
        def list_folder(self, path):
            server.requests.append(('list', path))
            try:
                folder = local(path)
                return [attributes(os.path.join(folder, name), name)
                        for name in os.listdir(folder)]
            except OSError as exc:
                return status(exc)

        def stat(self, path):
            server.requests.append(('stat', path))
            if ('stat', os.path.relpath(local(path), server.base)) in server.mute:
                server.unmuted.wait()
            try:
                return paramiko.SFTPAttributes.from_stat(os.stat(local(path)))
            except OSError as exc:
                return status(exc)

        def lstat(self, path):
            try:
                return attributes(local(path))
            except OSError as exc:
                return status(exc)

        def open(self, path, flags, attr):
            server.requests.append(('open', path))
            try:
                fd = os.open(local(path), flags, 0o644)
            except OSError as exc:
                return status(exc)
            handle = Handle(flags)
            mode = {os.O_RDONLY: 'rb', os.O_WRONLY: 'wb'}.get(flags & os.O_ACCMODE, 'r+b')
            handle.readfile = handle.writefile = os.fdopen(fd, mode)
            return handle

        def remove(self, path):
            server.requests.append(('remove', path))
            try:
                os.remove(local(path))
            except OSError as exc:
                return status(exc)
            return paramiko.SFTP_OK

        def rename(self, oldpath, newpath):
            server.requests.append(('rename', newpath))
            if os.path.lexists(local(newpath)):      # SFTP version 3: never replaces
                return paramiko.SFTPServer.convert_errno(errno.EEXIST)
            try:
                os.rename(local(oldpath), local(newpath))
            except OSError as exc:
                return status(exc)
            return paramiko.SFTP_OK

        def posix_rename(self, oldpath, newpath):
            server.requests.append(('posix_rename', newpath))
            return paramiko.SFTP_OP_UNSUPPORTED

        def mkdir(self, path, attr):
            server.requests.append(('mkdir', path))
            try:
                os.mkdir(local(path))
            except OSError as exc:
                return status(exc)
            return paramiko.SFTP_OK

        def canonicalize(self, path):
            return os.path.normpath('/' + path)

    return Interface
