"""Turns the current program into a well-behaved Unix daemon with python-daemon
(double fork, setsid, umask, all descriptors closed, stdio on /dev/null), while
the starting command waits until the daemon says it runs, or why it could not.

The working directory is kept, so relative paths of the configuration mean the
same in the daemon as for the command. The outcome travels through a pipe: the
daemon writes one message and closes its end; end of file without a message
means the daemon died during its start.
"""

import os
import signal
import time
from typing import Callable

from filetransfer.errors import ConfigError, Error, ExitCode
from filetransfer.service.pidfile import AlreadyRunning

START_TIMEOUT = 60.0     # seconds the command waits for the daemon to confirm its start


def detach(serve: Callable, umask: int) -> int:
    """Runs ``serve(ready=...)`` in a detached daemon process and returns its pid
    once it called ``ready()``. Raises what ``serve`` raised before that:
    AlreadyRunning, ConfigError, or Error for anything else."""
    import daemon as python_daemon   # only the detaching command pays for the import

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write_end)
        try:
            message = _read_message(read_end)
        finally:
            os.close(read_end)
            os.waitpid(pid, 0)
        return _parse_message(message)
    os.close(read_end)
    outcome = _Outcome(write_end)
    code = ExitCode.INTERNAL
    try:
        context = python_daemon.DaemonContext(
            working_directory=os.getcwd(), umask=umask, detach_process=True,
            files_preserve=[write_end],
            signal_map={signal.SIGTSTP: None, signal.SIGTTIN: None, signal.SIGTTOU: None})
        context.open()
        serve(ready=lambda: outcome.tell(f'started {os.getpid()}'))
        code = 0
    except AlreadyRunning as exc:
        outcome.tell(f'running {exc.pid} {exc.path}')
    except ConfigError as exc:
        outcome.tell(f'error 3 {exc}')
    except BaseException as exc:
        outcome.tell(f'error 9 {type(exc).__name__}: {exc}')
    finally:
        os._exit(code)


class _Outcome:
    """Sends the start-up outcome to the waiting command, once: the descriptor
    is closed after that (its number may then be reused by another file)."""

    def __init__(self, fd: int):
        self.fd = fd

    def tell(self, message: str) -> None:
        if self.fd is None:
            return
        fd, self.fd = self.fd, None
        try:
            os.write(fd, message.encode())
        except OSError:   # the command is gone
            pass
        os.close(fd)


def _read_message(fd: int) -> str:
    import select

    data = b''
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise Error(f'the daemon did not confirm its start within {START_TIMEOUT:.0f} s')
        chunk = os.read(fd, 4096)
        if not chunk:
            return data.decode(errors='replace')
        data += chunk


def _parse_message(message: str) -> int:
    word, _, rest = message.partition(' ')
    if word == 'started':
        return int(rest)
    if word == 'running':
        pid, _, path = rest.partition(' ')
        raise AlreadyRunning(path, int(pid))
    if word == 'error':
        code, _, text = rest.partition(' ')
        raise ConfigError(text) if code == '3' else Error(f'the daemon failed to start: {text}')
    raise Error('the daemon ended during its start; see its log')
