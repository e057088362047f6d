"""Jobs set up to be broken on purpose: one job of a given protocol and direction
with a file large enough to be caught in the middle, and ways to stop the
command or its server at a known point."""

import json
import os
import signal
import subprocess
from dataclasses import dataclass, field

from filelock import FileLock, Timeout

from helpers import make_files
from procs import write_dense, make_dense, make_sparse, wait_for
from remote import ftp_host, sftp_host, write_hosts

BIG = 'big.bin'
SMALL = {'a.txt': b'A' * 100, 'b.txt': b'B' * 200}    # sorted before big.bin
TEMP_NAMES = {'dot': '.big.bin', 'ext:.part': 'big.bin.part', 'dir:.incoming': '.incoming/big.bin',
              None: 'big.bin'}


@dataclass
class Setup:
    """One job: ``source``/``target`` are the local paths of both directories (a
    server's directory for a remote side); ``server`` is the SshServer or FtpServer
    of the remote side (None for local to local)."""

    ws: object
    protocol: str
    direction: str             # 'up' (local to server) or 'down'
    source: str
    target: str
    server: object = None
    temp: str | None = 'dot'
    job_options: dict = field(default_factory=dict)

    def partial(self, name=BIG) -> str:
        """Where the file ``name`` is written before its rename."""
        written_as = TEMP_NAMES[self.temp].replace(BIG, name)
        return os.path.join(self.target, written_as)

    def final(self, name=BIG) -> str:
        return os.path.join(self.target, name)

    def leave_partial(self, data: bytes, name=BIG) -> None:
        """Leaves what a killed run of the job leaves: the temp file of ``name`` with
        ``data``, and the record of it in locks_dir."""
        path = self.partial(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as fh:
            fh.write(data)
        self.ws.record_partial(os.path.relpath(path, self.target).replace(os.sep, '/'))

    def lock_is_free(self) -> bool:
        lock = FileLock(os.path.join(self.ws.locks_dir, 'job1.lock'), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            return False
        lock.release()
        return True


def make_marked(path, size, step=1 << 18, dense=False) -> None:
    """A file whose every ``step`` bytes start with their own offset, so that a
    piece written at a wrong place shows; sparse between the marks (cheap, unlike
    random data), or with ``dense`` filled (see procs.make_dense)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if dense:
        write_dense(path, size)
    with open(path, 'r+b' if dense else 'wb') as fh:
        fh.truncate(size)
        for offset in range(0, size - 16, step):
            fh.seek(offset)
            fh.write(f'{offset:016x}'.encode())


def same_file(first, second) -> bool:
    import filecmp
    return filecmp.cmp(first, second, shallow=False)


def big_size(protocol: str) -> int:
    """A size a transfer of which takes long enough to be caught in the middle."""
    return {'local': 1 << 30, 'SFTP': 96 << 20}.get(protocol, 24 << 20)


def setup_job(ws, protocol, direction, tmp_path, *, sshd=None, ftp_server=None, temp='dot',
              job=None, source=None, target=None, host=None, big=None, ftp_options=None,
              small=True, marked=False) -> Setup:
    """Writes the hosts file and the job ``job1``: ``SMALL`` files and a sparse
    ``big.bin`` (``big`` bytes; `make_marked` with ``marked``; that content when
    ``big`` is bytes) on the
    source side. ``ftp_server`` is the fixture that starts FTP servers; FTP servers
    are throttled to 16 MiB/s unless ``ftp_options`` say otherwise."""
    server = None
    remote = {}
    if protocol == 'SFTP':
        server = sshd
        write_hosts(ws, srv=sftp_host(sshd, **(host or {})))
        remote_dir = str(tmp_path / 'remote')
        remote_path = remote_dir
    elif protocol in ('FTP', 'FTPS'):
        options = {'throttle': 16 << 20, **(ftp_options or {})}
        server = ftp_server(tls=protocol == 'FTPS', **options)
        write_hosts(ws, srv=ftp_host(server, **(host or {})))
        remote_dir = server.path('data')
        remote_path = 'data'
    else:
        remote_dir = str(tmp_path / 'remote')
        remote_path = remote_dir
    if protocol != 'local':
        remote = {'host_id': 'srv', 'path': remote_path}
    temp_option = {'temp': temp} if temp else {}
    if direction == 'up':
        source_dir, target_dir = ws.src, remote_dir
        source_options = dict(source or {})
        target_options = {**(remote or {'path': remote_dir}), **temp_option, **(target or {})}
    else:
        source_dir, target_dir = remote_dir, ws.dst
        source_options = {**(remote or {'path': remote_dir}), **(source or {})}
        target_options = {**temp_option, **(target or {})}
    os.makedirs(source_dir, exist_ok=True)
    if small:
        make_files(source_dir, SMALL)
    size = big if big is not None else big_size(protocol)
    if isinstance(size, bytes):
        make_files(source_dir, {BIG: size})
    elif size and marked:
        make_marked(os.path.join(source_dir, BIG), size, dense=protocol == 'local')
    elif size:   # a local copy skips holes: it is caught in the middle of a dense file only
        (make_dense if protocol == 'local' else make_sparse)(os.path.join(source_dir, BIG), size)
    job_options = {'single_instance': 'yes', **(job or {})}
    ws.write_job(job=job_options, source=source_options, target=target_options)
    return Setup(ws, protocol, direction, source_dir, target_dir, server, temp, job_options)


def stop_in_the_middle(proc, setup: Setup, least=1) -> bool:
    """Freezes ``proc`` (SIGSTOP) while big.bin is being written, once at least
    ``least`` bytes of it arrived. False when the copy finished too fast."""
    partial, final = setup.partial(), setup.final()

    def writing():
        try:
            return os.path.getsize(partial) >= least
        except OSError:
            return os.path.exists(final)

    if not wait_for(writing, proc=proc, timeout=60):
        return False
    os.kill(proc.pid, signal.SIGSTOP)
    if os.path.exists(final) and partial != final:
        os.kill(proc.pid, signal.SIGCONT)
        return False
    return True


def json_result(done: subprocess.CompletedProcess) -> dict:
    """The --json output of a run."""
    return json.loads(done.stdout)


def counts(data: dict) -> tuple:
    return data['files_cnt'], data['src_error_cnt'], data['tgt_error_cnt']


class GatedRelay:
    """A TCP relay on 127.0.0.1 to ``port`` that holds each connection until
    `open()`: a test knows the command is connected (``connected`` is set) and can
    act before the server answers. Stop it with `stop()`."""

    def __init__(self, port: int):
        import socket
        import threading

        self.target = port
        self.listener = socket.socket()
        self.listener.bind(('127.0.0.1', 0))
        self.listener.listen()
        self.port = self.listener.getsockname()[1]
        self.connected = threading.Event()
        self.gate = threading.Event()
        self.threads = []
        self._accept_thread = threading.Thread(target=self._accept, daemon=True)
        self._accept_thread.start()

    def _accept(self):
        import socket
        import threading

        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connected.set()
            if not self.gate.wait(60):
                client.close()
                continue
            server = socket.create_connection(('127.0.0.1', self.target))
            for one, other in ((client, server), (server, client)):
                thread = threading.Thread(target=self._pipe, args=(one, other), daemon=True)
                thread.start()
                self.threads.append(thread)

    @staticmethod
    def _pipe(one, other):
        import socket

        try:
            while data := one.recv(65536):
                other.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (one, other):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def open(self):
        self.gate.set()

    def stop(self):
        self.gate.set()
        self.listener.close()
        for thread in self.threads:
            thread.join(5)
