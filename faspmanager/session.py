"""Sessions: one ascp process driven through its management port.

The session listens on 127.0.0.1 first, then starts ascp with ``-M PORT``, accepts the
connection whose first message carries the session's own ``UserStr`` (any other local
process connecting to the port is turned away) and reads its messages in a reader
thread, which keeps the statistics and calls the listener. It never waits without a
bound: ascp that does not connect within ``connect_timeout``, that dies without DONE or
ERROR, or that says nothing for ``idle_timeout`` while it should be working, ends the
session as failed (with the tail of ascp's output in the reason); a command or stream
write that ascp does not take for ``send_timeout`` fails; ``close()`` kills a running
ascp, and so does dropping the session object or leaving the interpreter. On Linux, a
session started by the main thread also has the kernel kill ascp when this process
dies without a word (SIGKILL, a crash): see ``_parent_death_signal``.
"""

from __future__ import annotations

import logging
import os
import select
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
import weakref
from collections import deque

from . import mgmt
from .ascp import find_ascp
from .errors import ProtocolError, SessionStartError, SessionStateError, StreamStateError, \
    describe, is_retryable
from .options import SECRET_ENV_VARS, FileState, SessionState, TransferEventType
from .orders import BaseTransferOrder, PersistentDownload, PersistentUpload, StreamUpload

log = logging.getLogger('faspmanager.session')
ascp_log = logging.getLogger('faspmanager.ascp')

# Fields that may carry secrets; never logged, never kept.
_SECRET_FIELDS = frozenset({'Password', 'Token', 'Cookie', 'QueryResponse'})
_FINAL_FILE_STATES = (FileState.FINISHED, FileState.FAILED, FileState.SKIPPED)


class TransferEvent:
    """What a listener receives: the event type, a snapshot of the session stats and,
    for events about one file (STATS, STOP, SKIP, FILEERROR), that file's stats."""

    def __init__(self, event_type, session_stats, file_stats=None):
        self.event_type = event_type
        self.session_stats = session_stats
        self.file_stats = file_stats

    def __repr__(self):
        name = self.file_stats.get('name') if self.file_stats else None
        return f'TransferEvent({self.event_type.name}{", " + repr(name) if name else ""})'


class SessionResult:
    """The outcome of a session, returned by ``Session.finish()``.

    Besides the reference API (ok, failed, reason, failed_files, stats) it offers
    ``error_code()`` (ascp's code, None when ascp reported none), ``retryable()``
    and ``file_stats()`` (per-file outcomes, keyed by ascp's ``File`` name)."""

    def __init__(self, end_state, stats, failed_files, file_stats=None):
        self._end_state = end_state
        self._stats = dict(stats)
        self._failed_files = list(failed_files)
        self._file_stats = {name: dict(entry) for name, entry in (file_stats or {}).items()}

    def ok(self) -> bool:
        """Whether the transfer succeeded (every file transferred or skipped)."""
        return self._end_state == SessionState.FINISHED

    def failed(self) -> bool:
        return not self.ok()

    def failed_files(self) -> list[str]:
        return list(self._failed_files)

    def reason(self) -> str | None:
        """Why the session failed (ascp's description and code, or what went wrong
        with ascp itself, with the end of its output); None on success."""
        if self.ok():
            return None
        return self._stats.get('error_description') or 'transfer failed'

    def stats(self) -> dict:
        return dict(self._stats)

    def error_code(self) -> int | None:
        return self._stats.get('error_code')

    def retryable(self) -> bool:
        """Whether trying the same transfer again later may succeed."""
        return bool(self._stats.get('retryable'))

    def file_stats(self, filename=None):
        if filename is not None:
            entry = self._file_stats.get(filename)
            return dict(entry) if entry is not None else None
        return {name: dict(entry) for name, entry in self._file_stats.items()}

    def __repr__(self):
        return (f'SessionResult({self._end_state.name}, reason={self.reason()!r}, '
                f'failed_files={len(self._failed_files)})')


class _Connection:
    """The accepted management socket, non-blocking. Sends are serialized and wait
    while ascp takes the bytes (TCP back-pressure); a send fails when ascp takes none
    of them for ``stall_timeout`` seconds or once the session is over. A message cut
    off that way is never followed by anything: the connection is shut down, so ascp
    cannot take half a message for a whole one (``broken`` says why)."""

    TICK = 0.25
    PIECE = 1 << 20

    def __init__(self, sock: socket.socket, stall_timeout: float, over: threading.Event):
        sock.setblocking(False)
        self.sock = sock
        self.stall_timeout = stall_timeout
        self.broken: str | None = None
        self._over = over
        self._lock = threading.Lock()

    def sendall(self, data: bytes) -> None:
        with self._lock:
            if self.broken is not None:
                raise ConnectionError(self.broken)
            view = memoryview(data)
            sent, progress = 0, time.monotonic()
            try:
                while sent < len(view):
                    try:
                        count = self.sock.send(view[sent:sent + self.PIECE])
                    except (BlockingIOError, InterruptedError):
                        count = 0
                    if count:
                        sent, progress = sent + count, time.monotonic()
                        continue
                    if self._over.is_set():
                        raise ConnectionError('the session with ascp has ended')
                    if time.monotonic() - progress > self.stall_timeout:
                        raise TimeoutError(f'ascp took no data on its management port for '
                                           f'{self.stall_timeout:g} s')
                    select.select([], [self.sock], [], self.TICK)
            except OSError as exc:
                if 0 < sent < len(view):
                    self.broken = f'a message to ascp was cut off: {exc}'
                    try:
                        self.sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                raise


def _new_stats() -> dict:
    return {'state': SessionState.NOTSTARTED, 'session_id': None, 'direction': None,
            'host': None, 'user': None, 'target_rate_kbps': None, 'min_rate_kbps': None,
            'adaptive': None, 'encryption': None, 'cipher': None, 'udp_port': None,
            'tcp_port': None, 'transfer_bytes': 0, 'file_bytes': 0, 'elapsed_usec': 0,
            'loss': 0, 'delay': None, 'files_complete': 0, 'files_failed': 0,
            'files_skipped': 0, 'transfers_attempted': None, 'transfers_passed': None,
            'transfers_failed': None, 'transfers_skipped': None, 'pre_transfer_files': None,
            'pre_transfer_bytes': None, 'error_code': None, 'error_description': None,
            'retryable': False, 'exit_status': None}


class Session:
    """A transfer by one ascp process, controlled and monitored through its
    management port. Use it as a context manager (or call ``close()``)."""

    CONNECT_TIMEOUT = 30.0     # seconds for ascp to connect to the management port
    IDLE_TIMEOUT = 300.0       # seconds of silence from a working ascp before giving up
    EXIT_TIMEOUT = 10.0        # seconds for ascp to exit after its last message
    SEND_TIMEOUT = 60.0        # seconds a command or stream write waits while ascp takes
                               # none of its bytes
    MAX_CANDIDATES = 16        # connections to the port waiting to show their UserStr
    OUTPUT_LINES = 20          # lines of ascp's output kept for error reports

    _persistent = False        # sources arrive later (finish() ends them with DONE)

    def __init__(self, order, ascp_path=None, listener=None, port=None):
        if not isinstance(order, BaseTransferOrder):
            raise TypeError(f'expected a transfer order, got {type(order).__name__}')
        self.order = order
        self.ascp_path = ascp_path
        self.listener = listener
        self.port = port
        self.connect_timeout = self.CONNECT_TIMEOUT
        self.idle_timeout = self.IDLE_TIMEOUT
        self.exit_timeout = self.EXIT_TIMEOUT
        self.send_timeout = self.SEND_TIMEOUT
        self._lock = threading.RLock()
        self._stats = _new_stats()
        self._files: dict[str, dict] = {}
        self._output: deque[str] = deque(maxlen=self.OUTPUT_LINES)
        self._started = False
        self._closed = False
        self._closing = False
        self._finishing = False
        self._killed = False
        self._pending = 0
        self._proc: subprocess.Popen | None = None
        self._finalizer: weakref.finalize | None = None
        self._conn: _Connection | None = None
        self._reader: threading.Thread | None = None
        self._output_thread: threading.Thread | None = None
        self._session_up = threading.Event()
        self._done = threading.Event()
        self._result: SessionResult | None = None
        self._terminal: mgmt.Message | None = None
        self._last_type: str | None = None
        self._last_message = time.monotonic()
        self._user_str = uuid.uuid4().hex

    # --- life cycle ---------------------------------------------------------------

    def start(self) -> None:
        """Starts ascp and waits for its management connection.

        Raises SessionStateError when called twice, FileNotFoundError when no ascp
        can be found, SessionStartError when ascp cannot be started or does not
        connect (the message carries the end of ascp's output)."""
        with self._lock:
            if self._started:
                raise SessionStateError('the session was already started')
            if self._closed:
                raise SessionStateError('the session is closed')
            self._started = True
            self._stats['state'] = SessionState.RUNNING
        try:
            self._launch()
        except BaseException as exc:
            self._kill()
            self._conclude_now(f'{exc}', retryable=isinstance(exc, SessionStartError))
            raise

    def _launch(self) -> None:
        path = find_ascp(self.ascp_path)
        self.ascp_path = path
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            try:
                listener.bind(('127.0.0.1', self.port or 0))
                listener.listen(self.MAX_CANDIDATES)
            except OSError as exc:
                raise SessionStartError(f'cannot listen on 127.0.0.1 port {self.port or 0} '
                                        f'for ascp: {exc.strerror or exc}') from None
            self.port = listener.getsockname()[1]
            argv = [path, '-M', str(self.port), '-u', self._user_str, *self.order.ascp_opts()]
            env = {key: value for key, value in os.environ.items()
                   if key not in SECRET_ENV_VARS}
            env.update(self.order.ascp_env())
            log.debug('starting %s', shlex.join(argv))
            try:
                self._proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                              start_new_session=True,
                                              preexec_fn=_parent_death_signal())
            except FileNotFoundError:
                raise
            except OSError as exc:
                raise SessionStartError(f'cannot run {path}: {exc.strerror or exc}') from None
            # ascp never outlives this object, nor the interpreter
            self._finalizer = weakref.finalize(self, _stop_process_group, self._proc)
            self._output_thread = threading.Thread(
                target=_pump_output, args=(self._proc.stdout, self._output),
                name='faspmanager-ascp-output', daemon=True)
            self._output_thread.start()
            sock, parser, first = self._accept(listener)
        finally:
            listener.close()
        self._conn = _Connection(sock, self.send_timeout, self._done)
        self._last_message = time.monotonic()
        self._reader = threading.Thread(target=_read_messages,
                                        args=(weakref.ref(self), sock, parser, first),
                                        name='faspmanager-session', daemon=True)
        self._reader.start()

    def _accept(self, listener: socket.socket):
        """The management connection of this session's ascp: the first one whose first
        message carries our UserStr, with its parser and the messages read so far.
        Connections of other processes are closed (the port keeps listening)."""
        deadline = time.monotonic() + self.connect_timeout
        listener.setblocking(False)
        candidates: dict[socket.socket, mgmt.Parser] = {}
        chosen = None
        try:
            while chosen is None:
                chosen = self._poll_candidates(listener, candidates, 0.05)
                if chosen is not None:
                    break
                status = self._proc.poll()
                if status is not None:
                    # what an ascp that is already gone managed to say first
                    chosen = self._poll_candidates(listener, candidates, 0.2)
                    if chosen is not None:
                        break
                    self._output_thread.join(1.0)
                    raise SessionStartError(f'ascp exited with status {status} before '
                                            f'connecting to the management port{self._tail()}')
                if time.monotonic() > deadline:
                    raise SessionStartError(f'ascp did not connect to the management port '
                                            f'within {self.connect_timeout:g} s{self._tail()}')
        finally:
            for sock in candidates:
                if chosen is None or sock is not chosen[0]:
                    sock.close()
        return chosen

    def _poll_candidates(self, listener: socket.socket, candidates: dict, timeout: float):
        """Accepts and reads what is ready within ``timeout`` (until nothing more is);
        our ascp's connection as ``_vet`` returns it, or None."""
        while True:
            ready, _, _ = select.select([listener, *candidates], [], [], timeout)
            if not ready:
                return None
            for sock in ready:
                if sock is listener:
                    self._take_candidate(listener, candidates)
                else:
                    chosen = self._vet(sock, candidates)
                    if chosen is not None:
                        return chosen
            timeout = min(timeout, 0.05)

    def _take_candidate(self, listener: socket.socket, candidates: dict) -> None:
        try:
            sock, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        sock.setblocking(False)
        if len(candidates) >= self.MAX_CANDIDATES:
            oldest = next(iter(candidates))
            del candidates[oldest]
            oldest.close()
        candidates[sock] = mgmt.Parser()

    def _vet(self, sock: socket.socket, candidates: dict):
        """(sock, parser, messages) when ``sock`` is our ascp; None while it has not
        said enough; a stranger is dropped from ``candidates``."""
        parser = candidates[sock]
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError:
            data = b''
        try:
            messages = parser.feed(data) if data else None
        except ProtocolError:
            messages = None
        if messages == []:
            return None
        if messages and messages[0].text('UserStr') == self._user_str:
            return sock, parser, messages
        log.warning('a connection to the management port that is not this session\'s ascp '
                    'was refused')
        del candidates[sock]
        sock.close()
        return None

    def finish(self) -> SessionResult:
        """Blocks until the transfer is over and returns its SessionResult (the same
        one on every call). A persistent or stream session is told first that no
        more sources will come."""
        with self._lock:
            if not self._started:
                raise SessionStateError('the session has not been started')
            ask = self._persistent and not self._finishing and not self._done.is_set()
            self._finishing = True
        if ask:
            try:
                self._conn.sendall(mgmt.done_command(linger=True))
            except OSError as exc:
                log.debug('DONE not delivered to ascp: %s', exc)
        if threading.current_thread() is self._reader and not self._done.is_set():
            raise SessionStateError('finish() cannot wait inside a listener')
        self._done.wait()
        return self._result

    def cancel(self) -> bool:
        """Asks ascp to cancel the transfer. True if the request was sent, False if
        the session had already ended. Raises SessionStateError before start()."""
        with self._lock:
            if not self._started:
                raise SessionStateError('the session has not been started')
            if self._done.is_set() or self._conn is None:
                return False
        # A persistent ascp stops on DONE (without Linger); others on CANCEL.
        return self._command(mgmt.done_command() if self._persistent
                             else mgmt.cancel_command())

    def set_rate(self, target_kbps) -> bool:
        """Changes the target rate (kilobits per second) of the running transfer. True
        if the request was sent (ascp confirms with a NOTIFICATION), False if the
        session had already ended."""
        if isinstance(target_kbps, bool) or not isinstance(target_kbps, int) or \
                target_kbps <= 0:
            raise ValueError(f'target_kbps: expected a positive integer, got {target_kbps!r}')
        with self._lock:
            if not self._started:
                raise SessionStateError('the session has not been started')
            if self._done.is_set() or self._conn is None:
                return False
        return self._command(mgmt.rate_command(target_kbps))

    def _command(self, data: bytes) -> bool:
        """Sends a command; False when ascp is already through (it closed the
        connection after its last message), OSError when the connection broke."""
        try:
            self._conn.sendall(data)
        except OSError:
            if self._terminal is not None or self._done.is_set() or \
                    self._proc.poll() is not None:
                return False
            raise
        return True

    def close(self) -> None:
        """Releases the session: kills ascp if it still runs (the transfer then fails),
        closes the sockets, removes the order's list files. Safe to call again; it
        does not wait for processes ascp left behind that still hold its output."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._closing = not self._done.is_set()
        if self._started and not self._done.is_set():
            log.warning('closing a session whose ascp has not finished: stopping ascp')
            self._kill()
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(self.exit_timeout + 5)
        if not self._done.is_set():
            self._conclude_now('the session was closed before ascp finished', retryable=False)
        if self._conn is not None:
            self._conn.sock.close()
        if self._proc is not None:
            self._reap(0)
        if self._finalizer is not None:
            self._finalizer()
        self.order.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # --- queries --------------------------------------------------------------------

    def state(self) -> SessionState:
        with self._lock:
            return self._stats['state']

    def stats(self) -> dict:
        """Session statistics (a copy): state, rates, byte counters, file counts,
        error code and description..."""
        with self._lock:
            return dict(self._stats)

    def file_stats(self, filename=None):
        """The stats dict of one file (None if unknown), or of all files by name."""
        with self._lock:
            if filename is not None:
                entry = self._files.get(filename)
                return dict(entry) if entry is not None else None
            return {name: dict(entry) for name, entry in self._files.items()}

    def failed_files(self) -> list[str]:
        with self._lock:
            return [name for name, entry in self._files.items()
                    if entry['state'] == FileState.FAILED]

    @property
    def pid(self) -> int | None:
        """The process id of ascp once started."""
        return self._proc.pid if self._proc is not None else None

    # --- ascp's output ---------------------------------------------------------------

    def _tail(self) -> str:
        lines = list(self._output)
        return ': ' + ' | '.join(lines) if lines else ' (no output)'

    # --- management messages (reader thread, see _read_messages) -----------------------

    def _on_messages(self, messages: list) -> float | None:
        """Handles messages; returns when the last DONE or ERROR came, if one did."""
        terminal_at = None
        for message in messages:
            self._last_message = time.monotonic()
            self._last_type = message.type
            if message.type in ('DONE', 'ERROR'):
                terminal_at = self._last_message
            self._handle(message)
        return terminal_at

    def _watchdog(self, terminal_at) -> str | None:
        """Why the reader must stop waiting for ascp, or None to go on waiting."""
        if self._closing:
            return ''
        now = time.monotonic()
        if terminal_at is not None:
            # ascp said its last word; it should close the connection and exit
            return '' if now - terminal_at > self.exit_timeout else None
        if self._conn.broken is not None:
            return self._conn.broken
        if self._proc.poll() is not None and now - self._last_message > 2.0:
            return ''        # ascp is gone though the socket stays open
        if self._expects_talk() and now - self._last_message > self.idle_timeout:
            return f'ascp sent no management message for {self.idle_timeout:g} s'
        return None

    def _expects_talk(self) -> bool:
        """Whether ascp should be reporting now (a persistent or stream session may
        stay quiet while it waits for sources)."""
        if not self._session_up.is_set() or not self._persistent:
            return True
        return self._finishing or self._pending > 0

    def _handle(self, message: mgmt.Message) -> None:
        kind = message.type
        if log.isEnabledFor(logging.DEBUG):
            shown = {key: ('***' if key in _SECRET_FIELDS else value)
                     for key, value in message.fields.items()}
            log.debug('ascp: %s %s', kind, shown)
        try:
            event_type = TransferEventType(kind)
        except ValueError:
            return           # QUERY, VLINK...: nothing a listener is told about
        with self._lock:
            file_entry = self._update(message)
            event = TransferEvent(event_type, dict(self._stats),
                                  dict(file_entry) if file_entry is not None else None)
        if kind == 'SESSION':
            self._session_up.set()
        if self.listener is not None:
            try:
                self.listener(event)
            except Exception:
                log.exception('the session listener raised on a %s event (ignored)', kind)

    def _update(self, message: mgmt.Message) -> dict | None:
        """Applies a message to the stats; returns the file entry it concerns."""
        kind, get, stats = message.type, message.get, self._stats
        for field, key in (('SessionId', 'session_id'), ('Direction', 'direction'),
                           ('Host', 'host'), ('User', 'user'), ('Rate', 'target_rate_kbps'),
                           ('MinRate', 'min_rate_kbps'), ('Adaptive', 'adaptive'),
                           ('Encryption', 'encryption'), ('Cipher', 'cipher'),
                           ('Port', 'udp_port'), ('TCPPort', 'tcp_port'),
                           ('Elapsedusec', 'elapsed_usec'), ('Delay', 'delay'),
                           ('PreTransferFiles', 'pre_transfer_files'),
                           ('PreTransferBytes', 'pre_transfer_bytes')):
            if field in message.fields:
                stats[key] = get(field)
        if kind in ('STATS', 'DONE'):
            for field, key in (('TransferBytes', 'transfer_bytes'), ('FileBytes', 'file_bytes'),
                               ('Loss', 'loss')):
                if isinstance(get(field), int):
                    stats[key] = get(field)
        if kind == 'DONE':
            for field in ('Attempted', 'Passed', 'Failed', 'Skipped'):
                if f'Transfers{field}' in message.fields:
                    stats[f'transfers_{field.lower()}'] = get(f'Transfers{field}')
        if kind in ('DONE', 'ERROR'):
            self._terminal = message
        if kind == 'ERROR':
            stats['error_code'] = get('Code')
            stats['error_description'] = get('Description')
        if kind == 'ARGSTOP':          # a source (START) of a persistent session is settled
            self._pending = max(0, self._pending - 1)
        name = message.text('File')
        if kind not in ('STATS', 'STOP', 'SKIP', 'FILEERROR') or name is None:
            if kind == 'FILEERROR':
                stats['files_failed'] += 1
            return None
        entry = self._files.get(name)
        if entry is None:
            entry = self._files[name] = {
                'name': name, 'state': FileState.TRANSFERRING, 'size': None, 'written': 0,
                'contiguous': 0, 'start_byte': None, 'end_byte': None, 'checksum': None,
                'checksum_type': None, 'error_code': None, 'error_description': None,
                'retryable': False}
        for field, key in (('Size', 'size'), ('Written', 'written'), ('Bytescont', 'contiguous'),
                           ('StartByte', 'start_byte'), ('EndByte', 'end_byte'),
                           ('FileChecksum', 'checksum'), ('FileChecksumType', 'checksum_type')):
            if field in message.fields:
                entry[key] = get(field)
        if kind == 'STATS':
            if entry['state'] in _FINAL_FILE_STATES:     # the same name transferred again
                entry.update(state=FileState.TRANSFERRING, error_code=None,
                             error_description=None, retryable=False)
            return entry
        if kind == 'STOP':
            if 'Bytescont' not in message.fields:
                entry['contiguous'] = entry['written']
            entry['state'] = FileState.FINISHED
            stats['files_complete'] += 1
        elif kind == 'SKIP':
            entry['state'] = FileState.SKIPPED
            stats['files_skipped'] += 1
        else:
            code, description = get('Code'), get('Description')
            entry.update(state=FileState.FAILED, error_code=code,
                         error_description=description,
                         retryable=is_retryable(code if isinstance(code, int) else None,
                                                description))
            stats['files_failed'] += 1
        return entry

    # --- the end --------------------------------------------------------------------

    def _conclude(self, problem: str | None) -> None:
        """Called once by the reader thread when the connection ends."""
        if problem:
            log.warning('%s: stopping ascp', problem)
            self._kill()
        status = self._reap(0 if self._closing else self.exit_timeout)
        if self._output_thread is not None:
            self._output_thread.join(2)
        with self._lock:
            self._stats['exit_status'] = status
            if self._done.is_set():       # already concluded (closed from a listener)
                return
            terminal = self._terminal
            failed_files = [name for name, entry in self._files.items()
                            if entry['state'] == FileState.FAILED]
            if self._closing and terminal is None:
                reason, retryable = 'the session was closed before ascp finished', False
            elif problem:
                reason, retryable = f'{problem}{self._tail()}', True
            elif terminal is None:
                last = f'its last message was {self._last_type}' if self._last_type \
                    else 'it sent no message'
                reason = f'ascp ended with no DONE or ERROR message ({last}, exit status ' \
                         f'{status}){self._tail()}'
                retryable = True
            elif terminal.type == 'ERROR':
                code = terminal.get('Code')
                code = code if isinstance(code, int) else None
                text = terminal.get('Description') or (describe(code) if code is not None
                                                       else 'ascp reported an error')
                reason = f'{text} (code {code})' if code is not None else text
                retryable = is_retryable(code, text)
            elif status not in (0, None) and not self._killed:
                reason = f'ascp exited with status {status} after DONE{self._tail()}'
                retryable = True
            elif failed_files:
                reason = f'{len(failed_files)} file(s) failed: {", ".join(failed_files[:5])}'
                retryable = any(self._files[name]['retryable'] for name in failed_files)
            else:
                reason = None
            self._finalize(reason, retryable if reason else False)
        log.info('ascp session %s: %s', self._stats['session_id'] or self._user_str,
                 'finished' if reason is None else f'failed: {reason}')

    def _conclude_now(self, reason: str, retryable: bool) -> None:
        with self._lock:
            if self._done.is_set():
                return
            self._finalize(reason, retryable)

    def _finalize(self, reason: str | None, retryable: bool) -> None:
        """Sets the end state and the result (with the lock held)."""
        stats = self._stats
        stats['state'] = SessionState.FINISHED if reason is None else SessionState.FAILED
        if reason is not None:
            stats['error_description'] = reason
            stats['retryable'] = retryable
        failed = [name for name, entry in self._files.items()
                  if entry['state'] == FileState.FAILED]
        self._result = SessionResult(stats['state'], stats, failed, self._files)
        self._session_up.set()
        self._done.set()

    def _kill(self) -> None:
        """Stops ascp (its whole process group): SIGTERM, then SIGKILL."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            self._killed = True
            try:
                proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def _reap(self, timeout: float) -> int | None:
        """ascp's exit status, waiting up to ``timeout`` s and killing it after."""
        proc = self._proc
        if proc is None:
            return None
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning('ascp did not exit %g s after its last message: stopping it', timeout)
            self._kill()
            return proc.poll()

    # --- for the persistent and stream sessions -------------------------------------------

    def _check_open(self) -> None:
        """Raises SessionStateError unless the session runs and takes more work."""
        if not self._started:
            raise SessionStateError('the session has not been started')
        if self._closed or self._finishing:
            raise SessionStateError('the session was finished or closed')
        if self._done.is_set():
            raise SessionStateError(f'the session has ended: {self._result.reason()}')


def _read_messages(ref, sock: socket.socket, parser: mgmt.Parser, backlog: list) -> None:
    """The reader thread: hands ascp's messages to the session, watches it, and
    concludes it when the connection ends. It holds the session only weakly between
    reads, so that a session dropped without close() is collected (and its ascp
    stopped by the finalizer)."""
    problem = None
    terminal_at = None
    while True:
        messages, backlog = backlog, []
        if not messages:
            try:
                ready, _, _ = select.select([sock], [], [], 0.25)
                data = sock.recv(262144) if ready else None
            except (BlockingIOError, InterruptedError):
                data = None
            except (OSError, ValueError) as exc:     # ValueError: closed by close()
                data = b''
                log.debug('management connection: %s', exc)
            session = ref()
            if session is None:
                return
            if data is None:
                problem = session._watchdog(terminal_at)
                if problem is not None:
                    break
                continue
            if not data:
                problem = session._conn.broken
                break
            try:
                messages = parser.feed(data)
            except ProtocolError as exc:
                problem = f'ascp sent bytes that are not management messages ({exc})'
                break
        else:
            session = ref()
            if session is None:
                return
        terminal_at = session._on_messages(messages) or terminal_at
        del session
    session._conclude(problem)


def _pump_output(stdout, lines: deque) -> None:
    """The output thread: keeps the last lines of ascp's output and logs them. It owns
    the pipe (closing it elsewhere would wait for this read, i.e. for every process
    that still holds ascp's output)."""
    try:
        for raw in stdout:
            line = raw.decode('utf-8', 'replace').rstrip()
            if line:
                lines.append(line)
                ascp_log.debug('%s', line)
    except (OSError, ValueError):
        pass
    finally:
        stdout.close()


PR_SET_PDEATHSIG = 1


def _parent_death_signal():
    """For the ascp child: a function that has the kernel send it SIGKILL when the
    thread that started it ends (Linux's PR_SET_PDEATHSIG, kept across exec). Without
    it, ascp (in a session of its own) would outlive a process killed by SIGKILL and
    might go on writing files the next run of the caller cleans up or writes again.
    The signal follows the starting thread, not the process: only a session started
    by the main thread gets it (a worker thread may end while the process goes on).
    None elsewhere."""
    if not sys.platform.startswith('linux') or \
            threading.current_thread() is not threading.main_thread():
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent, kill = os.getpid(), int(signal.SIGKILL)

    def arm() -> None:           # in the child, between fork and exec
        prctl(PR_SET_PDEATHSIG, kill, 0, 0, 0)
        if os.getppid() != parent:          # the parent died before the call
            os.kill(os.getpid(), kill)

    return arm


def _stop_process_group(proc: subprocess.Popen) -> None:
    """Stops ascp's process group if ascp still runs (the session's finalizer)."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 1.0), (signal.SIGKILL, 2.0)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


class PersistentSession(Session):
    """A session whose files are given while it runs (``add_source``), until
    ``finish()`` (ascp then transfers what is queued and ends)."""

    _persistent = True

    def add_source(self, source_path, dest_path, start_offset=None, end_offset=None) -> None:
        """Queues a transfer of ``source_path`` to ``dest_path`` (relative to the
        destination root), optionally only bytes [start_offset, end_offset)."""
        for name, value in (('source_path', source_path), ('dest_path', dest_path)):
            if not isinstance(value, str) or not value:
                raise ValueError(f'{name}: expected a non-empty path, got {value!r}')
        for name, value in (('start_offset', start_offset), ('end_offset', end_offset)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 0):
                raise ValueError(f'{name}: expected an integer >= 0, got {value!r}')
        if start_offset is not None and end_offset is not None and end_offset <= start_offset:
            raise ValueError(f'end_offset ({end_offset}) must be above start_offset '
                             f'({start_offset})')
        with self._lock:
            self._check_open()
            self._pending += 1
        self._conn.sendall(mgmt.start_command(source_path, dest_path, start_offset,
                                              end_offset))


class Stream:
    """A write-only, socket-like stream to one destination file of a StreamSession."""

    def __init__(self, dest_path, mgmt_conn, chunk_size):
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size <= 0:
            raise ValueError(f'chunk_size: expected a positive integer, got {chunk_size!r}')
        self.dest_path = dest_path
        self._conn = mgmt_conn
        self._chunk = chunk_size
        self._offset = 0
        self._opened = False
        self._closed = False

    def open(self) -> None:
        """Creates the destination file (once)."""
        if self._opened:
            return
        self._conn.sendall(mgmt.put_command(self.dest_path))
        self._opened = True

    def send(self, data) -> int:
        """Appends ``data`` (bytes, or str sent as UTF-8) to the file; returns its
        length. Blocks while ascp takes the data at its transfer rate. Raises
        StreamStateError unless open, TimeoutError when ascp takes none of the data for
        the session's ``send_timeout`` seconds, ConnectionError once the session is
        over (a chunk cut off that way ends the session: ascp never sees half of one)."""
        if not self._opened or self._closed:
            raise StreamStateError(f'stream {self.dest_path!r} is not open')
        if isinstance(data, str):
            data = data.encode('utf-8')
        view = memoryview(data).cast('B')
        for start in range(0, len(view), self._chunk):
            piece = bytes(view[start:start + self._chunk])
            self._conn.sendall(mgmt.write_command(self.dest_path, self._offset, piece))
            self._offset += len(piece)
        return len(view)

    def close(self) -> None:
        """Completes the file. Raises StreamStateError if it was never opened; later
        calls do nothing."""
        if not self._opened:
            raise StreamStateError(f'stream {self.dest_path!r} was never opened')
        if self._closed:
            return
        self._conn.sendall(mgmt.close_command(self.dest_path))
        self._closed = True

    def __repr__(self):
        state = 'closed' if self._closed else 'open' if self._opened else 'new'
        return f'Stream({self.dest_path!r}, {state}, {self._offset} bytes)'


class StreamSession(Session):
    """A session writing streams of data to destination files (``open_stream``)."""

    _persistent = True

    def __init__(self, order, chunk_size, ascp_path=None, listener=None, port=None):
        super().__init__(order, ascp_path=ascp_path, listener=listener, port=port)
        self.chunk_size = chunk_size

    def open_stream(self, dest_path) -> Stream:
        """Creates ``dest_path`` (relative to the destination root) and returns an
        open Stream to it. Waits until ascp has established its session."""
        if not isinstance(dest_path, str) or not dest_path:
            raise ValueError(f'dest_path: expected a non-empty path, got {dest_path!r}')
        with self._lock:
            self._check_open()
        while not self._session_up.wait(1.0):
            pass
        with self._lock:
            self._check_open()
        stream = Stream(dest_path, self._conn, self.chunk_size)
        stream.open()
        return stream


def session(order, ascp_path=None, port=0, listener=None) -> Session:
    """The session for an order: PersistentSession for persistent orders,
    StreamSession for stream orders, Session otherwise. Raises RuntimeError for
    anything that is not a transfer order."""
    if not isinstance(order, BaseTransferOrder):
        raise RuntimeError(f'expected a faspmanager transfer order, got '
                           f'{type(order).__name__}')
    if isinstance(order, (PersistentUpload, PersistentDownload)):
        return PersistentSession(order, ascp_path=ascp_path, listener=listener, port=port)
    if isinstance(order, StreamUpload):
        return StreamSession(order, order.options.opts['chunk_size'], ascp_path=ascp_path,
                             listener=listener, port=port)
    return Session(order, ascp_path=ascp_path, listener=listener, port=port)
