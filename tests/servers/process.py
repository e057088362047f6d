"""A server program run from a temp dir of its own: a free port on 127.0.0.1, its
config and logs there, a bounded start-up wait, and a stop that ends every session
it forked."""

import os
import signal
import subprocess
import time

from .common import free_port, wait_listening

START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0


def descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (servers' sessions may call setsid, so a process
    group kill can miss them)."""
    children = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/stat') as fh:
                fields = fh.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def signal_tree(pid: int, signum: int) -> None:
    """Sends ``signum`` to ``pid`` and every process below it."""
    for each in [pid, *descendants(pid)]:
        try:
            os.kill(each, signum)
        except ProcessLookupError:
            pass


class ServerProcess:
    """Subclasses write their config in ``__init__`` and say how to start the
    program (`argv`); ``log_files`` are the logs it writes besides its output."""

    name = 'server'

    def __init__(self, root: str):
        self.root = root
        os.makedirs(root, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log_files: list[str] = []

    @property
    def output_path(self) -> str:
        return os.path.join(self.root, 'output.log')

    def argv(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        """Starts the program and waits until it listens; if it does not, raises
        with its logs."""
        with open(self.output_path, 'ab') as output:
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=output,
                                         stderr=output, cwd=self.root, start_new_session=True)
        try:
            wait_listening(self.port, START_TIMEOUT, proc=self.proc)
        except RuntimeError as exc:
            self.stop()
            raise RuntimeError(f'{self.name} did not start: {exc}\n{self.logs()}') from None

    def stop(self) -> None:
        """Stops the program and its sessions: politely, then for good."""
        if not self.proc or self.proc.poll() is not None:
            return
        signal_tree(self.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline and (self.proc.poll() is None
                                               or descendants(self.proc.pid)):
            time.sleep(0.02)
        signal_tree(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def logs(self) -> str:
        """Everything the program wrote, for error messages."""
        parts = []
        for path in [self.output_path, *self.log_files]:
            try:
                with open(path, encoding='utf-8', errors='replace') as fh:
                    parts.append(f'--- {path}\n{fh.read()[-8000:]}')
            except OSError as exc:
                parts.append(f'--- {path}: {exc.strerror}')
        return '\n'.join(parts)
