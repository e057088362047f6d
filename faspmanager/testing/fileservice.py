"""The emulator's server side: the ``ascp`` that an emulated Aspera server runs over SSH,
and the client's view of it.

Real ascp runs ascp on the server and moves the data over FASP; the emulator runs
``ascp`` on the server too (aspshell lets it through), but that one serves file
operations over the SSH channel (stat, list, read, write, rename...) with paths in the
user's docroot space, and tells the client the server's configuration (partial-file
suffix, minimum rate). Frames both ways: a 4-byte big-endian header length, a 4-byte
data length, the JSON header, the data. The emulator uses it where the account allows
no SFTP (see sshconnect).
"""

from __future__ import annotations

import json
import os
import posixpath
import stat as stat_module
import struct
import sys

from .fs import Entry
from .hsts import DocrootError, Paths, ServerConfig

COMMAND = 'ascp --emulated-server'     # what the client runs on the server
FRAME = struct.Struct('>II')
VERSION = 1


def write_frame(out, header: dict, data: bytes = b'') -> None:
    raw = json.dumps(header).encode()
    out.write(FRAME.pack(len(raw), len(data)) + raw + data)
    out.flush()


def read_frame(read) -> tuple[dict, bytes] | None:
    """A frame from ``read(n)`` (returns fewer bytes only at the end), None at the end."""
    head = read(FRAME.size)
    if len(head) < FRAME.size:
        return None
    header_size, data_size = FRAME.unpack(head)
    raw = read(header_size)
    data = read(data_size) if data_size else b''
    if len(raw) < header_size or len(data) < data_size:
        return None
    return json.loads(raw), data


# --- the server -------------------------------------------------------------------------

class FileService:
    """Answers one client's requests with this machine's files, inside ``paths``."""

    def __init__(self, config: ServerConfig, paths: Paths):
        self.config, self.paths = config, paths
        self.handles: dict[int, int] = {}

    def answer(self, header: dict, data: bytes) -> tuple[dict, bytes]:
        try:
            reply = getattr(self, f'op_{header["op"]}')(header, data)
        except DocrootError as exc:
            return {'errno': exc.errno, 'error': exc.strerror, 'bad_path': True}, b''
        except OSError as exc:
            return {'errno': exc.errno, 'error': exc.strerror or str(exc)}, b''
        return reply if isinstance(reply, tuple) else (reply or {}, b'')

    def _local(self, header: dict, key: str = 'path') -> str:
        return self.paths.local(header[key])

    def op_hello(self, header, data):
        return {'version': VERSION, 'docroot': self.paths.docroot is not None,
                'partial_file_suffix': self.config.partial_file_suffix,
                'min_rate_kbps': self.config.min_rate_kbps}

    def op_stat(self, header, data):
        try:
            local = self._local(header)
            st = os.stat(local) if header.get('follow', True) else os.lstat(local)
        except (FileNotFoundError, NotADirectoryError):
            return {'entry': None}
        return {'entry': [st.st_size, st.st_mtime, st.st_atime, stat_module.S_ISDIR(st.st_mode),
                          stat_module.S_ISREG(st.st_mode), stat_module.S_ISLNK(st.st_mode)]}

    def op_listdir(self, header, data):
        return {'names': sorted(os.listdir(self._local(header)))}

    def op_read(self, header, data):
        fd = os.open(self._local(header), os.O_RDONLY)
        try:
            return {}, os.pread(fd, header['size'], header['offset'])
        finally:
            os.close(fd)

    def op_open_write(self, header, data):
        flags = os.O_WRONLY | os.O_CREAT | (0 if header.get('keep') else os.O_TRUNC)
        fd = os.open(self._local(header), flags, 0o644)
        self.handles[fd] = fd
        return {'handle': fd}

    def op_write(self, header, data):
        fd = self.handles[header['handle']]
        view, offset = memoryview(data), header['offset']
        while view:
            written = os.pwrite(fd, view, offset)
            view, offset = view[written:], offset + written

    def op_close(self, header, data):
        os.close(self.handles.pop(header['handle']))

    def op_makedirs(self, header, data):
        os.makedirs(self._local(header), exist_ok=True)

    def op_rename(self, header, data):
        os.replace(self._local(header, 'src'), self._local(header, 'dst'))

    def op_remove(self, header, data):
        os.remove(self._local(header))

    def op_rmdir(self, header, data):
        os.rmdir(self._local(header))

    def op_utime(self, header, data):
        os.utime(self._local(header), (header['atime'], header['mtime']))


def serve(config: ServerConfig, user: str, stdin=None, stdout=None) -> int:
    """The server loop on stdin/stdout until the client goes."""
    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout.buffer
    service = FileService(config, config.paths_for(user))
    while True:
        frame = read_frame(stdin.read)
        if frame is None:
            return 0
        write_frame(stdout, *service.answer(*frame))


# --- the client -------------------------------------------------------------------------

class ExecFS:
    """The remote side of a transfer through the emulated server: the same operations
    as ``fs.SftpFS``. ``server`` holds the server's hello (its configuration)."""

    name = 'remote'
    join = staticmethod(posixpath.join)
    dirname = staticmethod(posixpath.dirname)
    basename = staticmethod(posixpath.basename)

    def __init__(self, client, channel, reader, server: dict):
        self.client, self.channel, self.server = client, channel, server
        self._read = reader.read

    @classmethod
    def open(cls, client, timeout: float) -> 'ExecFS | None':
        """The emulated server's file service, or None when the account runs no such
        thing (no hello comes back)."""
        channel = client.get_transport().open_session(timeout=timeout)
        channel.settimeout(timeout)
        channel.exec_command(COMMAND)
        reader = channel.makefile('rb')
        try:
            write_frame(_ChannelWriter(channel), {'op': 'hello'})
            frame = read_frame(reader.read)
        except (OSError, ValueError):
            frame = None
        if frame is None or 'version' not in frame[0]:
            channel.close()
            return None
        channel.settimeout(None)
        return cls(client, channel, reader, frame[0])

    def _call(self, op: str, data: bytes = b'', **fields):
        write_frame(_ChannelWriter(self.channel), {'op': op, **fields}, data)
        frame = read_frame(self._read)
        if frame is None:
            raise EOFError('the emulated server closed the channel')
        header, payload = frame
        if 'errno' in header:
            path = fields.get('path', fields.get('src'))
            if header.get('bad_path'):
                raise DocrootError(path)
            raise OSError(header['errno'], header['error'], path)
        return header, payload

    def stat(self, path: str, follow: bool = True) -> Entry | None:
        entry = self._call('stat', path=path, follow=follow)[0]['entry']
        return Entry(*entry) if entry is not None else None

    def listdir(self, path: str) -> list[str]:
        return self._call('listdir', path=path)[0]['names']

    def open_read(self, path: str):
        return _Reader(self, path)

    def open_write(self, path: str, keep: bool):
        return _Writer(self, path, self._call('open_write', path=path, keep=keep)[0]['handle'])

    def makedirs(self, path: str) -> None:
        if path and path not in ('.', '/'):
            self._call('makedirs', path=path)

    def rename(self, src: str, dst: str) -> None:
        self._call('rename', src=src, dst=dst)

    def remove(self, path: str) -> None:
        self._call('remove', path=path)

    def rmdir(self, path: str) -> None:
        self._call('rmdir', path=path)

    def utime(self, path: str, atime: float, mtime: float) -> None:
        self._call('utime', path=path, atime=atime, mtime=mtime)

    def close(self) -> None:
        try:
            self.channel.close()
        finally:
            self.client.close()


class _ChannelWriter:
    def __init__(self, channel):
        self.channel = channel

    def write(self, data: bytes) -> None:
        self.channel.sendall(data)

    def flush(self) -> None:
        pass


class _Reader:
    def __init__(self, fs: ExecFS, path: str):
        self.fs, self.path, self.pos = fs, path, 0

    def seek(self, pos: int) -> None:
        self.pos = pos

    def read(self, size: int) -> bytes:
        data = self.fs._call('read', path=self.path, offset=self.pos, size=size)[1]
        self.pos += len(data)
        return data

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Writer:
    def __init__(self, fs: ExecFS, path: str, handle: int):
        self.fs, self.path, self.handle, self.pos = fs, path, handle, 0

    def seek(self, pos: int) -> None:
        self.pos = pos

    def write(self, data: bytes) -> int:
        self.fs._call('write', bytes(data), handle=self.handle, offset=self.pos)
        self.pos += len(data)
        return len(data)

    def close(self) -> None:
        if self.handle is not None:
            handle, self.handle = self.handle, None
            self.fs._call('close', handle=handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
