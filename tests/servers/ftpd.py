"""pyftpdlib FTP and FTPS servers on 127.0.0.1, each in a process of its own (so a
test can kill it like a host going down, or freeze it with SIGSTOP).

Variants, chosen by `FtpServer` options:

- ``tls``: explicit FTPS (AUTH TLS) with a certificate signed by a test CA
  (``ca_file``); TLS 1.3 is negotiated with Python's ssl.
- ``mlsd=False``: no MLST/MLSD (clients must parse LIST), and with
  ``list_options=False`` a LIST with options (``LIST -a``) is refused with 501;
  ``size_command=False``: no SIZE command; ``rest=False``: no REST (nor REST
  STREAM in FEAT).
- ``rename_replaces=False``: RNTO refuses an existing name (as some servers do);
  ``refuse_retr``: server paths whose RETR is refused with 550;
  ``lose_data``: reports success for every upload but keeps half of the file.
- ``abrupt_tls_close``: data connections end without a TLS close_notify, which
  makes an empty listing fail in plain ftplib under TLS 1.3.
- ``quota``: an upload fails past this many bytes of a file, as over a disk quota.
  A write that fails for a full disk or a quota gets the reply servers send for
  it (452, 552); other write errors pyftpdlib's 426.
- ``login_replies``: the first logins are refused with these replies, one each, in
  order (a 421 also closes the connection); later ones log in.
- ``max_cons_per_ip``: connections beyond this many from one address get 421.
- ``mute``: command lines (as sent, e.g. ``CWD /up/sub``) the server never answers:
  the client waits there until the test interrupts it.
- ``throttle``: bytes per second for data connections (long transfers; pyftpdlib
  reads a second's worth at once, then pauses up to 2 s).
- ``slow_read``: bytes per second an upload is read at, evenly (a twentieth
  every 50 ms) through a small receive buffer: a slow link that never stalls.
- ``hostile``: every listing shows the given entries (names like ``../x``),
  every RETR returns ``HOSTILE_DATA`` and every SIZE, DELE and CWD succeeds,
  whatever the name (a CWD to a directory that does not exist stays where it
  is), and MLST gives a listed entry's facts; an entry with ``endless`` reads
  without end (up to `ENDLESS_LIMIT` bytes), whatever its listed size.
  ``list_lines``: the same, with these lines as every LIST's answer, as they are
  (use with ``mlsd=False``).

Every command the server receives is appended to ``commands.log`` (passwords
masked), so tests can check what a client sent.
"""

import errno
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field

from .common import free_port, wait_listening

HOSTILE_DATA = b'evil!'
_TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def available() -> bool:
    try:
        import pyftpdlib  # noqa: F401
        import OpenSSL  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class FtpServer:
    root: str
    tls: bool = False
    mlsd: bool = True
    list_options: bool = True
    size_command: bool = True
    rest: bool = True
    rename_replaces: bool = True
    refuse_retr: tuple = ()
    lose_data: bool = False
    quota: int | None = None
    abrupt_tls_close: bool = False
    throttle: int | None = None
    slow_read: int | None = None
    login_replies: tuple = ()
    hostile: list | None = None
    list_lines: list | None = None
    max_cons_per_ip: int = 0
    mute: tuple = ()
    perm: str = 'elradfmwMT'     # pyftpdlib's permissions of the user
    ca_file: str | None = None
    cert_file: str | None = None
    port: int = 0
    user: str = 'ftpuser'
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    proc: subprocess.Popen | None = None

    @property
    def home(self) -> str:
        return os.path.join(self.root, 'home')

    @property
    def commands_log(self) -> str:
        return os.path.join(self.root, 'commands.log')

    def setup(self) -> 'FtpServer':
        os.makedirs(self.home, exist_ok=True)
        self.port = self.port or free_port()
        with open(os.path.join(self.root, 'server.json'), 'w') as fh:
            json.dump({'port': self.port, 'home': self.home, 'user': self.user,
                       'password': self.password, 'cert_file': self.cert_file if self.tls
                       else None, 'mlsd': self.mlsd, 'list_options': self.list_options,
                       'size_command': self.size_command, 'rest': self.rest,
                       'rename_replaces': self.rename_replaces,
                       'refuse_retr': list(self.refuse_retr),
                       'lose_data': self.lose_data, 'quota': self.quota,
                       'abrupt_tls_close': self.abrupt_tls_close, 'throttle': self.throttle,
                       'slow_read': self.slow_read, 'login_replies': list(self.login_replies),
                       'hostile': self.hostile, 'list_lines': self.list_lines,
                       'max_cons_per_ip': self.max_cons_per_ip, 'perm': self.perm,
                       'mute': list(self.mute),
                       'commands_log': self.commands_log}, fh)
        return self

    def start(self) -> 'FtpServer':
        log = open(os.path.join(self.root, 'server.log'), 'ab')
        self.proc = subprocess.Popen(
            [sys.executable, '-m', 'servers.ftpd', os.path.join(self.root, 'server.json')],
            cwd=_TESTS_DIR, stdout=log, stderr=log, start_new_session=True)
        log.close()
        wait_listening(self.port, proc=self.proc)
        return self

    def stop(self) -> None:
        """Kills the server: every connection breaks, as when a host goes down."""
        if self.proc and self.proc.poll() is None:
            self.thaw()
            self.proc.kill()
            self.proc.wait()

    def freeze(self) -> None:
        """The server stops answering, with its connections left open."""
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)

    def commands(self) -> list[str]:
        try:
            with open(self.commands_log, encoding='utf-8') as fh:
                return fh.read().splitlines()
        except FileNotFoundError:
            return []

    def path(self, *parts) -> str:
        """The local path of a server path (relative to the FTP root)."""
        return os.path.join(self.home, *parts)


# -- the server process --------------------------------------------------------

def _handler_class(options: dict):
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler, ThrottledDTPHandler, TLS_FTPHandler
    from pyftpdlib.handlers.ftp.data import DTPHandler
    from pyftpdlib.handlers.ftps.data import TLS_DTPHandler

    tls = bool(options['cert_file'])
    base = TLS_FTPHandler if tls else FTPHandler
    dtp_base = TLS_DTPHandler if tls else DTPHandler
    dtp_attrs = {}
    if options['throttle']:
        dtp_attrs.update(read_limit=options['throttle'], write_limit=options['throttle'])
        dtp_base = type('Throttled', (ThrottledDTPHandler, dtp_base), {})
    if options['abrupt_tls_close']:
        def close(self):    # a TCP close without TLS close_notify
            DTPHandler.close(self)
        dtp_attrs['close'] = close
    if options['slow_read']:
        piece = max(1, options['slow_read'] // 20)
        parent = dtp_base

        def __init__(self, sock, cmd_channel):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, piece)
            parent.__init__(self, sock, cmd_channel)
            self.budget = piece

        def recv(self, buffer_size):
            chunk = parent.recv(self, min(buffer_size, self.budget))
            self.budget -= len(chunk)
            if self.receive and self.budget <= 0 and not self._closed:
                self.del_channel()

                def next_piece():
                    self.budget = piece
                    if not self._closed:
                        self.add_channel(events=self.ioloop.READ)
                self.ioloop.call_later(0.05, next_piece)
            return chunk
        dtp_attrs.update(__init__=__init__, recv=recv)
    close_data = dtp_attrs.get('close', dtp_base.close)

    def close_after_a_full_disk(self):
        # pyftpdlib closes the file again after a failed write; on a full disk that
        # fails too, inside its error handler, and the transfer's reply never comes
        file_obj = getattr(self, 'file_obj', None)
        if file_obj is not None and not file_obj.closed:
            try:
                file_obj.close()
            except OSError:
                pass
        close_data(self)
    dtp_attrs['close'] = close_after_a_full_disk

    def handle_error(self):
        # pyftpdlib replies '426 None; transfer aborted.' to a failed write of the
        # file (its error carries no errno)
        cause = sys.exc_info()[1].__cause__
        reply = _STORAGE_REPLIES.get(getattr(cause, 'errno', None))
        if reply is None:
            return dtp_base.handle_error(self)
        self._resp = (reply, logging.getLogger('pyftpdlib').warning)
        self.close()
        return None
    dtp_attrs['handle_error'] = handle_error
    dtp = type('TestDTP', (dtp_base,), dtp_attrs)

    commands_log = open(options['commands_log'], 'a', encoding='utf-8', buffering=1)
    hostile = options['hostile']
    list_lines = options['list_lines']
    login_replies = list(options['login_replies'])

    class Handler(base):
        dtp_handler = dtp
        proto_cmds = dict(base.proto_cmds)
        if not options['mlsd']:
            proto_cmds.pop('MLSD', None)
            proto_cmds.pop('MLST', None)
        if not options['size_command']:
            proto_cmds.pop('SIZE', None)
        if not options['rest']:
            proto_cmds.pop('REST', None)

        def pre_process_command(self, line, cmd, arg):
            shown = 'PASS ******' if cmd == 'PASS' else line
            commands_log.write(shown + '\n')
            if line in options['mute']:
                return                       # no answer, ever
            if cmd == 'LIST' and arg.startswith('-') and not options['list_options']:
                self.respond('501 Options are not supported.')
                return
            super().pre_process_command(line, cmd, arg)

        def ftp_PASS(self, line):
            if login_replies:
                reply = login_replies.pop(0)
                self.respond(reply)
                if reply.startswith('421'):
                    self.close_when_done()
                return None
            return super().ftp_PASS(line)

        def on_file_received(self, file):
            if options['lose_data']:           # says 226, keeps half of the file
                os.truncate(file, os.path.getsize(file) // 2)

        def ftp_RNTO(self, path):
            if not options['rename_replaces'] and os.path.lexists(path):
                self.respond('550 File exists.')
                return None
            return super().ftp_RNTO(path)

        def ftp_RETR(self, file):
            if self.fs.fs2ftp(file) in options['refuse_retr']:
                self.respond('550 Permission denied.')
                return None
            return super().ftp_RETR(file)

        if hostile or list_lines:
            def ftp_MLSD(self, path):
                lines = ''.join(f'type={entry["type"]};size={entry.get("size", 0)};'
                                f'modify=20240101000000; {entry["name"]}\r\n'
                                for entry in hostile or ())
                self.push_dtp_data(lines.encode('utf-8', 'surrogateescape'), cmd='MLSD')
                return path

            def ftp_LIST(self, path):
                lines = ''.join(f'{line}\r\n' for line in list_lines) if list_lines else \
                    ''.join(f'{"d" if entry["type"] == "dir" else "-"}rw-r--r--   1 owner'
                            f'    group    {entry.get("size", 0):>8} Jan 01 00:00 '
                            f'{entry["name"]}\r\n' for entry in hostile)
                self.push_dtp_data(lines.encode('utf-8', 'surrogateescape'), cmd='LIST')
                return path

            def ftp_RETR(self, file):
                name = self.fs.fs2ftp(file).rpartition('/')[2]
                if any(entry.get('endless') and entry['name'] == name
                       for entry in hostile or ()):
                    self.push_dtp_data(_Endless(), isproducer=True, cmd='RETR')
                else:
                    self.push_dtp_data(HOSTILE_DATA, cmd='RETR')
                return file

            def ftp_SIZE(self, path):
                self.respond(f'213 {len(HOSTILE_DATA)}')

            def ftp_MLST(self, path):
                name = self.fs.fs2ftp(path).rpartition('/')[2]
                found = [entry for entry in hostile or () if entry['name'] == name]
                if not found:
                    self.respond('550 No such file or directory.')
                    return
                facts = (f'type={found[0]["type"]};size={found[0].get("size", 0)};'
                         f'modify=20240101000000; {self.fs.fs2ftp(path)}')
                self.push(f'250-Listing {name}\r\n {facts}\r\n250 End.\r\n')

            def ftp_DELE(self, path):
                self.respond('250 File removed.')

            def ftp_CWD(self, path):
                if os.path.isdir(path):
                    return super().ftp_CWD(path)
                self.respond('250 Directory changed.')
                return None

    authorizer = DummyAuthorizer()
    authorizer.add_user(options['user'], options['password'], options['home'],
                        perm=options['perm'])
    Handler.authorizer = authorizer
    if options['quota']:
        Handler.abstracted_fs = _quota_filesystem(options['quota'])
    Handler.permit_foreign_addresses = False
    Handler.auth_failed_timeout = 0.1      # pyftpdlib waits 3 s after a wrong password
    if tls:
        Handler.certfile = options['cert_file']
    return Handler


ENDLESS_LIMIT = 1 << 30


class _Endless:
    """The data of a file that never ends (as far as a client is concerned)."""

    sent = 0

    def more(self) -> bytes:
        if self.sent >= ENDLESS_LIMIT:
            return b''
        self.sent += 1 << 16
        return b'\xee' * (1 << 16)


_STORAGE_REPLIES = {errno.ENOSPC: '452 Insufficient storage space: No space left on device.',
                    errno.EDQUOT: '552 Exceeded storage allocation: Disk quota exceeded.'}


def _quota_filesystem(limit: int):
    """A pyftpdlib file system whose files opened for writing take ``limit`` bytes
    at most, failing past it as over a disk quota (EDQUOT)."""
    from pyftpdlib.filesystems import AbstractedFS

    class Limited:
        def __init__(self, file):
            self.file = file

        def write(self, data):
            if self.file.tell() + len(data) > limit:
                raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))
            return self.file.write(data)

        def __getattr__(self, name):
            return getattr(self.file, name)

    class QuotaFS(AbstractedFS):
        def open(self, filename, mode):
            file = super().open(filename, mode)
            return file if mode.startswith('r') and '+' not in mode else Limited(file)

    return QuotaFS


def main(config_path: str) -> None:

    from pyftpdlib.servers import FTPServer

    with open(config_path) as fh:
        options = json.load(fh)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    server = FTPServer(('127.0.0.1', options['port']), _handler_class(options))
    server.max_cons = 64
    server.max_cons_per_ip = options.get('max_cons_per_ip', 0)
    server.serve_forever()


if __name__ == '__main__':
    main(sys.argv[1])
