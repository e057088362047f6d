"""ascp-emulator: an ascp look-alike for tests. It is NOT FASP and moves no data over UDP.

It takes real ascp's command line, connects to the management port given with ``-M``
and reports there with real ascp's messages and field names (INIT, SESSION,
NOTIFICATION, STATS at intervals, STOP/SKIP/FILEERROR per file, ARGSTOP per source
argument, then DONE or ERROR with ascp's error codes). It really moves the files: over
SSH with paramiko to or from ``--host`` as ``--user`` on port ``-P``, with the password
(or key passphrase) from ASPERA_SCP_PASS and keys from ``-i``; without a host, between
local paths. Host keys are accepted unless ``--check-sshfp`` names one.

The remote side is the account's SFTP server (a plain SSH server: no configuration of
its own, the client's settings apply) or, where the account refuses SFTP (aspshell), an
emulated Aspera server: the emulator's server side (fileservice.py) with the user's
docroot, the server's partial-file suffix on uploads and its minimum rate (hsts.py).

Emulated: ``--mode``, ``-l``/``-m`` (kbps, decimals, K/M/G, P/% percentages) and the RATE
command (a token bucket), CANCEL, ``--keepalive`` with START (byte ranges, directories)
and DONE, ``--faspmgr-io`` streams (PUT/WRITE/CLOSE), ``--file-list``,
``--file-pair-list``, ``-d``, ``--overwrite``, ``-k`` resume (with NAME.aspx checkpoints:
only a run with ``-k`` can be resumed), ``--partial-file-suffix`` (receiver side),
``-E``/``-N`` (see filters.py), ``--exclude-newer-than``/``--exclude-older-than``,
``--src-base``, ``--source-prefix``, ``--remove-after-transfer``,
``--remove-empty-directories``, ``--remove-empty-source-directory``, ``--file-checksum``,
``-p`` and the ``--preserve-*-time`` switches, ``--symbolic-links=skip``,
``--precalculate-job-size``, ``-@`` byte ranges, ``--dest64``, ``-q``, ``-A``.

Not emulated (accepted, validated where ascp would refuse a value, then ignored): the
FASP protocol itself (UDP, ``-O``, ``-Z``, ``-X``, ``-g``/``-G``, encryption and ``-c``,
``-T``, congestion control, so ``--policy`` and ``-m`` are only reported), bandwidth
detection (``-w``: a percentage rate is taken of an assumed 1 Gbps), multi-session
``-C``, HTTP fallback (``-y``, ``-t``, ``-x``, ``-Y``, ``-I``, ``-j``), content protection
(``--file-crypt``), tokens and cookies (passed through only), a client-side aspera.conf
(``-f``), logs (``-L``, ``-R``), pre/post commands (``-e``), manifests, xattrs/ACLs and
ownership, ``--delete-before-transfer``, ``--move-after-transfer``,
``--save-before-overwrite``, symbolic-link copying (``copy`` and ``copy+force`` follow
links), and ascp's own logging. STATS come every second
(``ASCP_EMULATOR_STATS_INTERVAL`` seconds if set). When the management connection
closes, the session is cancelled; with ``ASCP_EMULATOR_OUTLIVE_MANAGER`` set it goes on
to the end instead (whether a real ascp does is not documented). README.md, section
"The ascp emulator", lists what is still a guess.

``--file-checksum``: STOP's FileChecksum is computed on the host's side: over the
bytes it wrote on an upload (``--mode=send``), over the bytes it read on a download;
without a fault both are the bytes of the file (which side real ascp computes it on
is not stated). The fault for tests: ``ASCP_EMULATOR_CORRUPT`` names files
(comma-separated patterns matched against the file's base name, fnmatch) whose first
byte is changed on its way, between the sender's read and the receiver's write.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import json
import os
import queue
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass

from .. import mgmt
from ..errors import ErrorCode, ProtocolError, describe
from . import cmdline, filters
from .fs import LocalFS
from .hsts import DocrootError
from .ratelimit import Cancelled, TokenBucket

ASSUMED_CAPACITY_KBPS = 1000000
CHECKPOINT_SUFFIX = '.aspx'     # beside a partial file while -k 1..3 may resume it
ADAPTIVE = {'fair': 'Adaptive', 'high': 'Adaptive', 'low': 'Trickle', 'fixed': 'Fixed'}
HASHES = {'md5': 'md5', 'sha1': 'sha1', 'sha-256': 'sha256', 'sha-384': 'sha384',
          'sha-512': 'sha512'}
_END = ('end',)

USAGE = """usage: ascp [OPTION]... [[USER@]HOST:]SOURCE... [[USER@]HOST:]DEST
ascp-emulator: an ascp emulator for tests (not FASP); see `python -m pydoc
faspmanager.testing.emulator` for what it emulates and what it does not.
"""


class Failure(Exception):
    """An ascp error with its management code."""

    def __init__(self, code: int, description: str | None = None):
        super().__init__(description or describe(code))
        self.code, self.description = int(code), description or describe(code)


class SessionFailure(Failure):
    """The whole session fails (connection, authentication...)."""


@dataclass
class FileJob:
    src: str
    dst: str
    display: str
    size: int
    mtime: float
    atime: float
    low: int | None = None
    high: int | None = None


@dataclass
class Counters:
    attempted: int = 0
    passed: int = 0
    failed: int = 0
    skipped: int = 0


class Management:
    """The connection to the manager: thread-safe sends, and a reader thread handing
    commands to ``on_command``."""

    def __init__(self, spec: str | None, session_id: str, user_str: str | None):
        self.session_id, self.user_str = session_id, user_str
        self.sock: socket.socket | None = None
        self.lock = threading.Lock()
        if spec:
            host, _, port = spec.rpartition(':')
            self.address = (host or '127.0.0.1', int(port))
            if host in ('', 'localhost'):
                self.address = ('127.0.0.1', int(port))

    # What the manager's writes may get ahead of this process: a receive buffer of
    # this size (not the kernel's auto-tuned one, which may hold tens of MiB) and
    # the bounded command queue. Beyond that, TCP holds the manager back.
    RECEIVE_BUFFER = 256 * 1024

    def connect(self, spec: str | None) -> None:
        if spec:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.RECEIVE_BUFFER)
            sock.settimeout(10)
            try:
                sock.connect(self.address)
            except OSError:
                sock.close()
                raise
            sock.settimeout(None)
            self.sock = sock

    def send(self, msg_type: str, **fields) -> None:
        if self.sock is None:
            return
        fields['SessionId'] = self.session_id
        fields['UserStr'] = self.user_str
        data = mgmt.format_message(msg_type, fields)
        with self.lock:
            try:
                self.sock.sendall(data)
            except OSError:
                pass     # the manager is gone; the reader thread notices it

    def read_commands(self, on_command, on_eof) -> None:
        if self.sock is None:
            return

        def run():
            parser = mgmt.Parser()
            try:
                while True:
                    data = self.sock.recv(262144)
                    if not data:
                        break
                    for message in parser.feed(data):
                        on_command(message)
            except (OSError, ProtocolError) as exc:
                print(f'ascp: management connection: {exc}', file=sys.stderr)
            on_eof()

        threading.Thread(target=run, name='mgmt-reader', daemon=True).start()

    def close(self) -> None:
        if self.sock is not None:
            with self.lock:
                try:
                    self.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                self.sock.close()


class Emulator:
    """One ascp run."""

    def __init__(self, args: cmdline.Args, environ=None):
        self.args = args
        self.env = os.environ if environ is None else environ
        self.session_id = str(uuid.uuid4())
        self.mgmt = Management(args.get('-M'), self.session_id, args.get('-u'))
        self.cancel = threading.Event()
        self.user_cancelled = False
        self.stop_requested = False
        self.manager_gone = False
        self.commands: queue.Queue = queue.Queue(maxsize=8)
        self.counters = Counters()
        self.arg_scans = self.path_scans = self.scan_failures = 0
        self.irregular = self.excluded = 0
        self.failures: list[int] = []
        self.file_bytes = 0
        self.interrupted = False
        self.started = time.monotonic()
        interval = self.env.get('ASCP_EMULATOR_STATS_INTERVAL')
        self.stats_interval = float(interval) if interval else 1.0
        self.policy = args.get('--policy', 'fair')
        self.min_rate = self._kbps(args.get('-m', '0'))
        self.target_kbps = self._kbps(args.get('-l', '10000'))
        self.bucket = TokenBucket(self.target_kbps * 125 if self.target_kbps else None)
        self._dest_was_remote = False
        self._configure_paths()
        self.src_fs = self.dst_fs = LocalFS()
        self.remote = None            # SftpFS or fileservice.ExecFS
        self.server: dict | None = None       # the emulated Aspera server's settings

    # --- command line -------------------------------------------------------------

    def _kbps(self, text: str) -> int:
        value, percent = cmdline.parse_rate(text)
        kbps = value * ASSUMED_CAPACITY_KBPS / 100 if percent else value
        return max(1, round(kbps)) if kbps > 0 else 0

    def _configure_paths(self) -> None:
        args = self.args
        paths = list(args.paths)
        self.keepalive = args.has('--keepalive')
        self.stream_io = args.has('--faspmgr-io')
        self.host, self.user = args.get('--host'), args.get('--user')
        self.mode = args.get('--mode')
        paths = [self._split_remote(path) for path in paths]
        if not paths:
            raise cmdline.UsageError('no destination given')
        dest = paths.pop()
        if args.has('--dest64'):
            dest = _b64(dest, '--dest64')
        self.dest_root = dest
        if self.mode is None:
            self.mode = 'send' if self._dest_was_remote or not self.host else 'recv'
        if self.stream_io and self.mode != 'send':
            raise cmdline.UsageError('--faspmgr-io works in send mode only')
        self.pairs = None
        if self.keepalive or self.stream_io:
            if paths or args.has('--file-list') or args.has('--file-pair-list'):
                raise cmdline.UsageError('no sources allowed with --keepalive/--faspmgr-io')
            self.sources = []
        elif args.has('--file-pair-list'):
            lines = _read_list(args.get('--file-pair-list'))
            if len(lines) % 2:
                raise cmdline.UsageError('file pair list has an odd number of lines')
            self.pairs = list(zip(lines[0::2], lines[1::2]))
            self.sources = [src for src, _ in self.pairs]
        elif args.has('--file-list'):
            self.sources = _read_list(args.get('--file-list'))
        else:
            self.sources = paths
        if not (self.sources or self.keepalive or self.stream_io):
            raise cmdline.UsageError('no source given')
        prefix = args.get('--source-prefix') or (
            _b64(args.get('--source-prefix64'), '--source-prefix64')
            if args.has('--source-prefix64') else None)
        if prefix:
            self.sources = [prefix + src for src in self.sources]
        self.src_base = args.get('--src-base') or (
            _b64(args.get('--src-base64'), '--src-base64') if args.has('--src-base64') else None)

    def _split_remote(self, path: str) -> str:
        """``[user@]host:path`` -> path (remembering host and user)."""
        head, colon, tail = path.partition(':')
        if not colon or '/' in head or not head or self.args.has('--host'):
            return path
        user, at, host = head.rpartition('@')
        self.host = host
        if at:
            self.user = user
        self._dest_was_remote = True
        return tail or '.'

    # --- the run ------------------------------------------------------------------

    def run(self) -> int:
        spec = self.args.get('-M')
        try:
            self.mgmt.connect(spec)
        except OSError:
            port = spec.rpartition(':')[2]
            print(f'ascp: required management connection to port localhost:{port} failed.\n'
                  f'failed to connect to management socket, exiting.', file=sys.stderr)
            return 1
        self.mgmt.read_commands(self._on_command, self._on_manager_eof)
        direction = 'Send' if self.mode == 'send' else 'Receive'
        self.mgmt.send('INIT', Direction=direction, Operation='Transfer')
        try:
            self._connect()
            self._send_session(direction)
            if self.keepalive or self.stream_io:
                self._serve_commands()
            else:
                self._transfer_sources()
        except SessionFailure as failure:
            return self._error(failure.code, failure.description)
        except Cancelled:
            self.interrupted = True
        finally:
            if self.remote is not None:
                try:
                    self.remote.close()
                except Exception:       # closing a dead connection; nothing left to do
                    pass
        return self._finish()

    def _finish(self) -> int:
        if self.manager_gone:
            print('ascp: management connection lost, exiting.', file=sys.stderr)
            self.mgmt.close()
            return 1
        if self.interrupted or self.user_cancelled:
            return self._error(ErrorCode.USER_CANCEL)
        if self.failures:
            codes = set(self.failures)
            code = codes.pop() if len(codes) == 1 and not self.counters.passed \
                else ErrorCode.SOME_FILE_ERRS
            return self._error(code)
        c = self.counters
        self.mgmt.send('DONE', Direction=self._direction(), Operation='Transfer',
                       TransferBytes=self.file_bytes, FileBytes=self.file_bytes,
                       TransfersAttempted=c.attempted, TransfersPassed=c.passed,
                       TransfersFailed=c.failed, TransfersSkipped=c.skipped,
                       ArgScansAttempted=self.arg_scans, ArgScansCompleted=self.arg_scans,
                       PathScansAttempted=self.path_scans, PathScansFailed=self.scan_failures,
                       PathScansIrregular=self.irregular, PathScansExcluded=self.excluded,
                       Elapsedusec=self._elapsed())
        self.mgmt.close()
        if not self.args.has('-q'):
            print(f'Completed: {self.file_bytes} bytes transferred, {c.passed} file(s)')
        return 0

    def _error(self, code: int, description: str | None = None) -> int:
        description = description or describe(code)
        self.mgmt.send('ERROR', Code=int(code), Description=description, Loss=0)
        self.mgmt.close()
        print(f'ascp: {description}, exiting.', file=sys.stderr)
        return 1

    def _direction(self) -> str:
        return 'Send' if self.mode == 'send' else 'Receive'

    def _elapsed(self) -> int:
        return int((time.monotonic() - self.started) * 1e6)

    def _send_session(self, direction: str) -> None:
        args = self.args
        self.mgmt.send(
            'SESSION', Direction=direction, Operation='Transfer', Rate=self.target_kbps,
            MinRate=self.min_rate, Adaptive=ADAPTIVE[self.policy],
            Priority=1 if self.policy == 'high' else 2, Encryption=not args.has('-T'),
            Cipher=cmdline.cipher_name(args.get('-c', 'aes128')) if not args.has('-T') else 'none',
            Port=int(args.get('-O', 33001)),
            TCPPort=int(args.get('-P', 22)), Remote=bool(self.host), Host=self.host,
            User=self.user, Destination=self.dest_root, Keepalive=self.keepalive,
            ResumePolicy=args.get('-k', '0'), OverwritePolicy=args.get('--overwrite', 'diff'),
            DatagramSize=int(args.get('-Z', 0)), ChunkSize=args.get('--chunk-size'))

    # --- management commands (reader thread) -----------------------------------------

    def _on_command(self, message: mgmt.Message) -> None:
        kind = message.type
        if kind == 'RATE':
            self._change_rate(message)
        elif kind == 'CANCEL':
            self.user_cancelled = True
            self.cancel.set()
            self._queue(_END)
        elif kind == 'DONE' and (self.keepalive or self.stream_io):
            if message.get('Operation') != 'Linger':
                self.stop_requested = True
                self.cancel.set()
            self._queue(('done',))
        elif kind == 'START' and self.keepalive:
            self._queue(('start', message))
        elif kind in ('PUT', 'WRITE', 'CLOSE') and self.stream_io:
            self._queue((kind.lower(), message))
        elif self.args.debug:
            print(f'ascp: management command {kind} ignored', file=sys.stderr)

    def _queue(self, item) -> None:
        """Queues a command; the bounded queue holds the manager back (TCP) while the
        transfer is busy, except when it is cancelled and drains no more."""
        while True:
            try:
                self.commands.put(item, timeout=0.2)
                return
            except queue.Full:
                if self.cancel.is_set() and item[0] in ('end', 'done'):
                    return

    def _on_manager_eof(self) -> None:
        if not self.mgmt.sock:
            return
        self.manager_gone = True
        if not self.env.get('ASCP_EMULATOR_OUTLIVE_MANAGER'):
            self.cancel.set()
        try:
            self.commands.put_nowait(_END)
        except queue.Full:
            pass

    def _change_rate(self, message: mgmt.Message) -> None:
        rate = message.get('Rate')
        if isinstance(rate, int) and rate >= 0:
            self.target_kbps = rate
            self.bucket.set_rate(rate * 125 if rate else None)
        min_rate = message.get('MinRate')
        if isinstance(min_rate, int) and min_rate >= 0:
            self.min_rate = min_rate
        adaptive = message.get('Adaptive')
        if adaptive in ('Adaptive', 'Fixed', 'Trickle'):
            self.policy = {'Adaptive': 'fair', 'Fixed': 'fixed', 'Trickle': 'low'}[adaptive]
        self.mgmt.send('NOTIFICATION', Rate=self.target_kbps, MinRate=self.min_rate,
                       Adaptive=ADAPTIVE[self.policy])

    # --- connection -------------------------------------------------------------------

    def _connect(self) -> None:
        if not self.host:
            return
        from .sshconnect import connect
        self.remote = connect(self.host, int(self.args.get('-P', 22)),
                              self.user or _local_user(), self.env.get('ASPERA_SCP_PASS'),
                              self.args.multi.get('-i', []), self.args.get('--check-sshfp'))
        self.server = getattr(self.remote, 'server', None)
        if self.server is not None and not self.args.has('-m') and \
                self.server.get('min_rate_kbps') is not None:
            self.min_rate = self.server['min_rate_kbps']      # the server's minimum
        if self.mode == 'send':
            self.src_fs, self.dst_fs = LocalFS(), self.remote
        else:
            self.src_fs, self.dst_fs = self.remote, LocalFS()

    def _connection_lost(self) -> bool:
        return self.remote is not None and not self.remote.client.get_transport().is_active()

    # --- sources given up front ----------------------------------------------------------

    def _transfer_sources(self) -> None:
        try:
            dest_entry = self.dst_fs.stat(self.dest_root)
        except DocrootError:
            raise SessionFailure(ErrorCode.BAD_PATH, f'Destination outside the docroot: '
                                                     f'{self.dest_root}') from None
        into_dir = bool(dest_entry and dest_entry.is_dir)
        many = len(self.sources) > 1 or self.pairs is not None or self.args.has('-d')
        if dest_entry is not None and not dest_entry.is_dir and many:
            raise SessionFailure(ErrorCode.NOT_DIR, f'Target is not a directory: '
                                                    f'{self.dest_root}')
        if dest_entry is None and many:
            if self.pairs is None and not self.args.has('-d'):
                raise SessionFailure(ErrorCode.NOT_DIR, f'Target directory does not exist: '
                                                        f'{self.dest_root}')
            self.dst_fs.makedirs(self.dest_root)
            into_dir = True
        plans = [self._expand(index, src, into_dir) for index, src in enumerate(self.sources)]
        if self.args.has('--precalculate-job-size'):
            files = [job for jobs, _ in plans for job in jobs]
            self.mgmt.send('NOTIFICATION', PreTransferFiles=len(files),
                           PreTransferBytes=sum(job.size for job in files),
                           PreTransferDirs=sum(dirs for _, dirs in plans),
                           PreTransferSpecial=self.irregular,
                           PreTransferFailed=self.scan_failures,
                           PreTransferExcluded=self.excluded)
        for index, (jobs, _) in enumerate(plans):
            before = Counters(**vars(self.counters))
            failed_scan = jobs is None
            for job in jobs or ():
                self._transfer(job)
            self._argstop(index, self.sources[index], before, failed_scan)
        if self.args.has('--remove-after-transfer') and \
                self.args.has('--remove-empty-directories'):
            for src in self.sources:
                self._remove_empty_dirs(src)

    def _argstop(self, index: int, source: str, before: Counters, failed_scan=False) -> None:
        c = self.counters
        failed = c.failed - before.failed + (1 if failed_scan else 0)
        self.mgmt.send('ARGSTOP', Source=source, FaspFileArgIndex=index,
                       ArgTransfersStatus='Failed' if failed else 'Passed',
                       ArgTransfersAttempted=c.attempted - before.attempted,
                       ArgTransfersPassed=c.passed - before.passed,
                       ArgTransfersFailed=failed,
                       ArgTransfersSkipped=c.skipped - before.skipped)

    def _expand(self, index: int, src: str, into_dir: bool):
        """The files of one source argument: (jobs, directory count), or (None, 0)
        after a FILEERROR (missing source...)."""
        fs = self.src_fs
        self.arg_scans += 1
        self.path_scans += 1
        skip_links = self.args.get('--symbolic-links') == 'skip'
        try:
            entry = fs.stat(src, follow=not skip_links)
        except OSError as exc:
            entry, error = None, exc
        else:
            error = None
        if entry is None:
            code = _code_of(error, ErrorCode.NO_SUCH_FILE) if error else ErrorCode.NO_SUCH_FILE
            self._file_error(src, code, f'{describe(code)}: {src}', scan=True)
            return None, 0
        if self.pairs is not None:
            target = self._under(self.pairs[index][1])
        elif self.src_base:
            rel = os.path.relpath(src, self.src_base) if src.startswith(self.src_base) \
                else fs.basename(src.rstrip('/'))
            target = self._under(rel)
        elif into_dir:
            target = self._under(fs.basename(src.rstrip('/')) or '.')
        else:
            target = self.dest_root
        jobs: list[FileJob] = []
        dirs = self._walk(src, target, entry, '', jobs, skip_links)
        return jobs, dirs

    def _under(self, rel: str) -> str:
        """A destination path below the destination root."""
        if self.dest_root in ('', '.'):
            return rel
        return self.dst_fs.join(self.dest_root, rel)

    def _walk(self, src, dst, entry, rel, jobs, skip_links) -> int:
        fs = self.src_fs
        if entry.is_link:
            self.irregular += 1
            return 0
        if rel and self._excluded(rel, entry):
            self.excluded += 1
            return 0
        if not entry.is_dir and not rel and self._excluded(fs.basename(src), entry):
            self.excluded += 1
            return 0
        if entry.is_reg:
            low, high = self._range()
            display = src if self.mode == 'send' else dst
            jobs.append(FileJob(src, dst, display, entry.size, entry.mtime, entry.atime,
                                low, high))
            return 0
        if not entry.is_dir:
            self.irregular += 1
            return 0
        dirs = 1
        self.dst_fs.makedirs(dst)
        for name in fs.listdir(src):
            path = fs.join(src, name)
            self.path_scans += 1
            child = fs.stat(path, follow=not skip_links)
            if child is None:
                continue
            dirs += self._walk(path, self.dst_fs.join(dst, name), child,
                               f'{rel}/{name}' if rel else name, jobs, skip_links)
        return dirs

    def _excluded(self, rel: str, entry) -> bool:
        """-E/-N rules in command-line order, the first match decides; entries matching
        no rule are included (see filters.py for the pattern syntax)."""
        decision = filters.decide(self.args.rules, rel, entry.is_dir)
        if decision is not None:
            return decision
        if not entry.is_dir:
            newer, older = self.args.get('--exclude-newer-than'), \
                self.args.get('--exclude-older-than')
            now = time.time()
            if newer is not None:
                limit = int(newer) if int(newer) >= 0 else now + int(newer)
                if entry.mtime > limit:
                    return True
            if older is not None:
                limit = int(older) if int(older) >= 0 else now + int(older)
                if entry.mtime < limit:
                    return True
        return False

    def _range(self) -> tuple[int | None, int | None]:
        if not self.args.has('-@'):
            return None, None
        low, _, high = self.args.get('-@').partition(':')
        return (int(low) if low else None, int(high) if high else None)

    def _remove_empty_dirs(self, src: str, top: bool = True) -> None:
        """Removes the emptied directories below a source argument (and the argument
        itself with --remove-empty-source-directory)."""
        fs = self.src_fs
        entry = fs.stat(src, follow=False)
        if entry is None or not entry.is_dir:
            return
        for name in fs.listdir(src):
            self._remove_empty_dirs(fs.join(src, name), top=False)
        if not fs.listdir(src) and (not top or self.args.has('--remove-empty-source-directory')):
            fs.rmdir(src)

    # --- one file -------------------------------------------------------------------------

    def _file_error(self, display: str, code: int, description: str, scan=False) -> None:
        if scan:
            self.scan_failures += 1
        else:
            self.counters.failed += 1
        self.failures.append(int(code))
        self.mgmt.send('FILEERROR', File=display, Code=int(code), Description=description)

    def _transfer(self, job: FileJob) -> None:
        if self.cancel.is_set():
            raise Cancelled()
        self.counters.attempted += 1
        try:
            self._copy(job)
        except Cancelled:
            self._file_error(job.display, ErrorCode.USER_CANCEL, describe(ErrorCode.USER_CANCEL))
            raise
        except Failure as failure:
            if isinstance(failure, SessionFailure):
                raise
            self._file_error(job.display, failure.code, failure.description)
        except Exception as exc:
            if self._connection_lost() or _is_ssh_error(exc):
                self._file_error(job.display, ErrorCode.CONNECTION_LOST, 'Connection lost')
                raise SessionFailure(ErrorCode.CONNECTION_LOST,
                                     f'Connection lost: {exc}') from None
            if not isinstance(exc, OSError):
                raise
            code = _code_of(exc, ErrorCode.DISK_WRITE)
            self._file_error(job.display, code, f'{describe(code)}: {exc}')

    def _copy(self, job: FileJob) -> None:
        args, src_fs, dst_fs = self.args, self.src_fs, self.dst_fs
        resume = int(args.get('-k', '0'))
        suffix = self._partial_suffix()
        ranged = job.low is not None or job.high is not None
        checkpoint = job.dst + CHECKPOINT_SUFFIX if resume and not ranged else None
        low = job.low or 0
        high = job.size if job.high is None else min(job.high, job.size)
        existing = dst_fs.stat(job.dst)
        if existing is not None and existing.is_dir:
            raise Failure(ErrorCode.IS_DIR, f'Destination is a directory: {job.dst}')
        if existing is not None and not ranged and not self._overwrite(job, existing, resume):
            self.counters.skipped += 1
            self.counters.attempted -= 1
            self.mgmt.send('SKIP', File=job.display, Size=job.size)
            return
        write_path = job.dst if ranged else job.dst + suffix
        dst_fs.makedirs(dst_fs.dirname(job.dst))
        offset = low
        if checkpoint is not None and self._checkpoint_matches(checkpoint, job):
            partial = dst_fs.stat(write_path)
            if partial is not None and partial.is_reg and 0 < partial.size < job.size and \
                    self._same_prefix(job, write_path, partial.size, resume):
                offset = partial.size
        if checkpoint is not None:
            with dst_fs.open_write(checkpoint, keep=False) as fh:
                fh.write(json.dumps({'size': job.size, 'mtime': int(job.mtime)}).encode())
        algo = args.get('--file-checksum')
        hasher = hashlib.new(HASHES[algo]) if algo in HASHES else None
        damage = self._damaged(job)
        if hasher is not None and offset:
            with src_fs.open_read(job.src) as reader:
                _feed_hash(hasher, reader, 0, offset)
        start_byte = offset
        written = 0
        last_stats = 0.0
        with src_fs.open_read(job.src) as reader, \
                dst_fs.open_write(write_path, keep=ranged or offset > 0) as writer:
            self._stats(job, start_byte, written)
            last_stats = time.monotonic()
            reader.seek(offset)
            writer.seek(offset)
            while offset < high:
                if self.cancel.is_set():
                    raise Cancelled()
                count = min(self.bucket.chunk(), high - offset)
                self.bucket.take(count, self.cancel)
                data = reader.read(count)
                if not data:
                    raise Failure(ErrorCode.DISK_READ, f'Source file shrank: {job.src}')
                if hasher is not None and self.mode != 'send':
                    hasher.update(data)         # as read on the host (see the module doc)
                if damage and offset == 0:
                    data = bytes([data[0] ^ 0xFF]) + data[1:]
                if hasher is not None and self.mode == 'send':
                    hasher.update(data)         # as written on the host
                writer.write(data)
                offset += len(data)
                written += len(data)
                self.file_bytes += len(data)
                if time.monotonic() - last_stats >= self.stats_interval:
                    self._stats(job, start_byte, written)
                    last_stats = time.monotonic()
        if suffix and not ranged:
            dst_fs.rename(write_path, job.dst)
        if checkpoint is not None:
            dst_fs.remove(checkpoint)
        times = args.has('-p'), args.has('--preserve-modification-time'), \
            args.has('--preserve-access-time')
        if any(times):
            keep_atime = times[0] or times[2]
            keep_mtime = times[0] or times[1]
            now = time.time()
            dst_fs.utime(job.dst, job.atime if keep_atime else now,
                         job.mtime if keep_mtime else now)
        if args.has('--remove-after-transfer'):
            try:
                src_fs.remove(job.src)
            except OSError as exc:
                print(f'ascp: cannot remove source {job.src}: {exc}', file=sys.stderr)
        self.counters.passed += 1
        fields = dict(File=job.display, Size=job.size, Written=written, StartByte=start_byte,
                      EndByte=high, Loss=0, Elapsedusec=self._elapsed())
        if hasher is not None:
            fields.update(FileChecksum=hasher.hexdigest(), FileChecksumType=algo)
        self.mgmt.send('STOP', **fields)
        if not args.has('-q'):
            print(f'{job.display} {job.size} bytes')

    def _damaged(self, job: FileJob) -> bool:
        """Whether ``ASCP_EMULATOR_CORRUPT`` names the file of ``job`` (see the module
        doc)."""
        import fnmatch

        patterns = self.env.get('ASCP_EMULATOR_CORRUPT') or ''
        name = job.display.rstrip('/').rsplit('/', 1)[-1]
        return any(fnmatch.fnmatchcase(name, pattern.strip())
                   for pattern in patterns.split(',') if pattern.strip())

    def _stats(self, job: FileJob, start_byte: int, written: int) -> None:
        self.mgmt.send('STATS', File=job.display, Size=job.size, Written=start_byte + written,
                       Bytescont=start_byte + written, StartByte=start_byte,
                       FileBytes=self.file_bytes, TransferBytes=self.file_bytes, Loss=0,
                       Delay=0, Rate=self.target_kbps, MinRate=self.min_rate,
                       Elapsedusec=self._elapsed())

    def _overwrite(self, job: FileJob, existing, resume: int) -> bool:
        policy = self.args.get('--overwrite', 'diff')
        if policy in ('always', 'never'):
            return policy == 'always'
        older = int(existing.mtime) < int(job.mtime)
        if policy == 'older':
            return older
        differs = existing.size != job.size
        if not differs:
            if resume <= 1:
                differs = int(existing.mtime) != int(job.mtime)
            else:
                differs = not self._same_prefix(job, job.dst, job.size, resume)
        return differs and (older or policy == 'diff')

    def _partial_suffix(self) -> str:
        """The receiver's partial-file suffix: on an upload to an emulated Aspera server
        the server's own (the sender's --partial-file-suffix has no effect there), else
        ours. A plain SSH server has no configuration of its own: ours applies."""
        if self.mode == 'send' and self.server is not None:
            return self.server.get('partial_file_suffix') or ''
        return self.args.get('--partial-file-suffix') or ''

    def _checkpoint_matches(self, checkpoint: str, job: FileJob) -> bool:
        """Whether an earlier run (with -k) left a checkpoint for this very source: a
        partial file is resumed only then."""
        if self.dst_fs.stat(checkpoint) is None:
            return False
        try:
            with self.dst_fs.open_read(checkpoint) as fh:
                saved = json.loads(fh.read(4096) or b'null')
        except (OSError, ValueError):
            return False
        return isinstance(saved, dict) and saved.get('size') == job.size and \
            saved.get('mtime') == int(job.mtime)

    def _same_prefix(self, job: FileJob, other: str, length: int, resume: int) -> bool:
        """Whether the first ``length`` bytes of the source and ``other`` (on the
        destination) match: -k 1 trusts the size, 2 compares samples, 3 everything."""
        if resume <= 1:
            return True
        with self.src_fs.open_read(job.src) as a, self.dst_fs.open_read(other) as b:
            if resume == 2:
                block = 4096
                for i in range(8):
                    start = max(0, min(length - block, length * i // 8))
                    size = min(block, length - start)
                    a.seek(start)
                    b.seek(start)
                    if a.read(size) != b.read(size):
                        return False
                return True
            ha, hb = hashlib.sha256(), hashlib.sha256()
            _feed_hash(ha, a, 0, length)
            _feed_hash(hb, b, 0, length)
            return ha.digest() == hb.digest()

    # --- persistent sessions and streams -----------------------------------------------

    def _serve_commands(self) -> None:
        if self.args.has('-d') or self.stream_io:
            try:
                self.dst_fs.makedirs(self.dest_root)
            except DocrootError:
                raise SessionFailure(ErrorCode.BAD_PATH, f'Destination outside the docroot: '
                                                         f'{self.dest_root}') from None
        streams: dict[str, dict] = {}
        index = 0
        while True:
            item = self.commands.get()
            kind = item[0]
            if kind == 'end' or (kind == 'done'):
                break
            if self.cancel.is_set():
                if kind in ('start', 'put', 'write'):
                    self.interrupted = True
                continue
            try:
                if kind == 'start':
                    self._start_file(index, item[1])
                    index += 1
                else:
                    self._stream(kind, item[1], streams)
            except Cancelled:
                self.interrupted = True
        for name, stream in streams.items():
            if stream is None:
                continue
            try:
                stream['writer'].close()
            except OSError:
                pass
            self.interrupted = self.interrupted or self.cancel.is_set()
            self._file_error(stream['job'].display, ErrorCode.USER_CANCEL
                             if self.cancel.is_set() else ErrorCode.ASCP,
                             f'Stream not closed: {name}')

    def _start_file(self, index: int, message: mgmt.Message) -> None:
        source = message.get('Source')
        before = Counters(**vars(self.counters))
        if not source:
            self._file_error('', ErrorCode.USAGE, 'START without Source')
            self._argstop(index, '', before)
            return
        destination = message.get('Destination') or self.src_fs.basename(source.rstrip('/'))
        low = high = None
        if message.get('FileBytes'):
            try:
                low, high = mgmt.parse_byte_range(message.text('FileBytes'))
            except ProtocolError as exc:
                self._file_error(source, ErrorCode.USAGE, str(exc))
                self._argstop(index, source, before)
                return
        self.arg_scans += 1
        self.path_scans += 1
        entry = self.src_fs.stat(source)
        target = self._under(destination)
        if entry is None or not (entry.is_reg or entry.is_dir):
            code = ErrorCode.NO_SUCH_FILE if entry is None else ErrorCode.NOT_REGULAR
            self._file_error(source if self.mode == 'send' else target, code,
                             f'{describe(code)}: {source}', scan=True)
            self._argstop(index, source, before, failed_scan=True)
            return
        if entry.is_dir:      # its files, as for a directory on the command line
            jobs: list[FileJob] = []
            self._walk(source, target, entry, '', jobs,
                       self.args.get('--symbolic-links') == 'skip')
        else:
            display = source if self.mode == 'send' else target
            jobs = [FileJob(source, target, display, entry.size, entry.mtime, entry.atime,
                            low, high)]
        try:
            for job in jobs:
                self._transfer(job)
        finally:
            self._argstop(index, source, before)

    def _stream(self, kind: str, message: mgmt.Message, streams: dict) -> None:
        name = message.get('Destination') or ''
        suffix = self._partial_suffix()
        if kind == 'put':
            if name in streams:
                return
            target = self._under(name)
            job = FileJob('', target, target, 0, 0, 0)
            try:
                self.dst_fs.makedirs(self.dst_fs.dirname(target))
                writer = self.dst_fs.open_write(target + suffix, keep=False)
            except OSError as exc:
                code = _code_of(exc, ErrorCode.DISK_WRITE)
                self.counters.attempted += 1
                self._file_error(target, code, f'{describe(code)}: {exc}')
                streams[name] = None
                return
            self.counters.attempted += 1
            streams[name] = {'job': job, 'writer': writer, 'size': 0, 'written': 0,
                             'last': time.monotonic()}
            self._stats(job, 0, 0)
            return
        stream = streams.get(name)
        if stream is None:
            if name not in streams:
                self._file_error(name, ErrorCode.USAGE, f'{kind.upper()} before PUT: {name}')
            return
        if kind == 'write':
            data = message.payload or b''
            offset = message.get('Offset') or 0
            self.bucket.take(len(data), self.cancel)
            try:
                stream['writer'].seek(offset)
                stream['writer'].write(data)
            except OSError as exc:
                self._stream_failed(name, streams, exc)
                return
            stream['written'] += len(data)
            stream['size'] = max(stream['size'], offset + len(data))
            self.file_bytes += len(data)
            stream['job'].size = stream['size']
            if time.monotonic() - stream['last'] >= self.stats_interval:
                self._stats(stream['job'], 0, stream['written'])
                stream['last'] = time.monotonic()
            return
        del streams[name]       # CLOSE
        job = stream['job']
        try:
            stream['writer'].close()
            if suffix:
                self.dst_fs.rename(job.dst + suffix, job.dst)
        except OSError as exc:
            code = _code_of(exc, ErrorCode.DISK_WRITE)
            self._file_error(job.display, code, f'{describe(code)}: {exc}')
            return
        self.counters.passed += 1
        self.mgmt.send('STOP', File=job.display, Size=stream['size'],
                       Written=stream['written'], StartByte=0, EndByte=stream['size'], Loss=0,
                       Elapsedusec=self._elapsed())

    def _stream_failed(self, name: str, streams: dict, exc: OSError) -> None:
        stream = streams.pop(name)
        streams[name] = None          # later WRITE/CLOSE of this name are ignored
        try:
            stream['writer'].close()
        except OSError:
            pass
        if self._connection_lost():
            raise SessionFailure(ErrorCode.CONNECTION_LOST, f'Connection lost: {exc}')
        code = _code_of(exc, ErrorCode.DISK_WRITE)
        self._file_error(stream['job'].display, code, f'{describe(code)}: {exc}')


# --- helpers ---------------------------------------------------------------------------

def _b64(text: str, flag: str) -> str:
    try:
        return base64.b64decode(text, validate=True).decode('utf-8', 'surrogateescape')
    except ValueError:
        raise cmdline.UsageError(f'invalid base64 value for {flag}') from None


def _read_list(path: str) -> list[str]:
    try:
        with open(path, encoding='utf-8', errors='surrogateescape') as fh:
            return [line.rstrip('\r\n') for line in fh if line.rstrip('\r\n')]
    except OSError as exc:
        raise cmdline.UsageError(f'cannot read list file {path}: {exc.strerror}') from None


def _feed_hash(hasher, reader, start: int, length: int) -> None:
    reader.seek(start)
    left = length
    while left > 0:
        data = reader.read(min(262144, left))
        if not data:
            break
        hasher.update(data)
        left -= len(data)


_ERRNO_CODES = {errno.ENOENT: ErrorCode.NO_SUCH_FILE, errno.EACCES: ErrorCode.NO_PERMS,
                errno.EPERM: ErrorCode.NO_PERMS, errno.ENOTDIR: ErrorCode.NOT_DIR,
                errno.EISDIR: ErrorCode.IS_DIR, errno.ENOSPC: ErrorCode.NO_SPACE_LEFT,
                errno.EDQUOT: ErrorCode.NO_SPACE_LEFT, errno.EROFS: ErrorCode.READ_ONLY_FS,
                errno.EFBIG: ErrorCode.FILE_TOO_BIG, errno.ENAMETOOLONG:
                ErrorCode.FILEPATH_TOO_LONG, errno.EMFILE: ErrorCode.TOO_MANY_FILES}


def _code_of(exc: BaseException | None, default: int) -> int:
    if isinstance(exc, DocrootError):
        return int(ErrorCode.BAD_PATH)
    code = _ERRNO_CODES.get(getattr(exc, 'errno', None))
    if code is None and isinstance(exc, OSError) and exc.args:
        text = str(exc.args[0]).lower()      # paramiko: IOError('Permission denied')
        if 'permission denied' in text:
            code = ErrorCode.NO_PERMS
        elif 'no such file' in text:
            code = ErrorCode.NO_SUCH_FILE
    return int(code if code is not None else default)


def _is_ssh_error(exc: BaseException) -> bool:
    if isinstance(exc, EOFError):
        return True
    module = type(exc).__module__ or ''
    return module.startswith('paramiko')


def _local_user() -> str:
    import getpass
    return getpass.getuser()


def main(argv: list[str] | None = None) -> int:
    """The ``ascp-emulator`` command."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = cmdline.parse(argv)
        if args.has('-h') or args.has('--help'):
            print(USAGE, end='')
            return 0
        if args.has('-A') or args.has('--version'):
            from importlib.metadata import PackageNotFoundError, version
            try:
                ours = version('filetransfer')
            except PackageNotFoundError:
                ours = 'unknown'
            print(f'ascp-emulator version {ours} (an ascp emulator for tests, not FASP)')
            return 0
        emulator = Emulator(args)
    except cmdline.UsageError as exc:
        print(f'ascp: {exc}', file=sys.stderr)
        print("Use 'ascp -h' for usage.", file=sys.stderr)
        return 1
    try:
        return emulator.run()
    except KeyboardInterrupt:
        return 1


if __name__ == '__main__':
    sys.exit(main())
