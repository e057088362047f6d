"""The commands of a job's ``before`` and ``after`` options.

A command runs without a shell, in a session (and process group) of its own, its
output going to the job's log line by line. When it takes longer than
``hook_timeout``, or a SIGTERM (or Ctrl-C) interrupts the job while it runs, the
whole process group is stopped (SIGTERM, then SIGKILL) and the command reaped, so
nothing it started keeps running in the background of the job. A ``before`` that
fails stops the job (`HookError`, exit code 2); an ``after`` that fails is only
logged.
"""

import collections
import logging
import os
import selectors
import signal
import subprocess
import time

from filetransfer.errors import Error, ExitCode
from filetransfer.outcome import JobReport
from filetransfer import signals

log = logging.getLogger('filetransfer.hooks')

KILL_GRACE = 2.0      # seconds between SIGTERM and SIGKILL to a command's process group
LAST_LINES = 3        # lines of stderr quoted in an error
MAX_LINE = 2000       # characters of an output line logged
_POLL = 0.2           # seconds: how often to look whether a command with busy pipes ended


class HookError(Error):
    """The ``before`` command failed: the job transfers nothing."""

    code = ExitCode.FAILURE
    retryable = False


def run_before(options, job_id: str) -> None:
    """Runs the [job] before command (schema.JobOptions). Raises HookError."""
    problem = run('before', options.before, {'FILETRANSFER_JOB_ID': job_id},
                  options.hook_timeout)
    if problem:
        raise HookError(problem)


def run_after(options, job_id: str, report: JobReport) -> None:
    """Runs the [job] after command with the run's exit code and result (a JSON file);
    a failure is logged."""
    import json
    import tempfile

    try:
        fd, result_file = tempfile.mkstemp(prefix='filetransfer-result-', suffix='.json')
        with open(fd, 'w', encoding='utf-8') as fh:
            json.dump(report.as_dict(), fh, indent=2)
    except OSError as exc:
        problem = f'after command not run: cannot write its result file: {exc.strerror or exc}'
    else:
        try:
            problem = run('after', options.after, {
                'FILETRANSFER_JOB_ID': job_id, 'FILETRANSFER_RESULT': result_file,
                'FILETRANSFER_EXIT_CODE': str(int(report.exit_code))}, options.hook_timeout)
        finally:
            os.unlink(result_file)
    if problem:
        log.warning('%s; the exit code stays %d', problem, report.exit_code,
                    extra={'hook': 'after', 'error': problem})


def run(name: str, argv: tuple, env: dict, timeout: float) -> str | None:
    """Runs ``argv`` with ``env`` added to the environment; returns what went wrong
    (a failure, a timeout), None when it succeeded. A SIGTERM or Ctrl-C meanwhile
    stops the command and is raised."""
    what = f'{name} command {argv[0]!r}'
    log.info('%s started', what, extra={'hook': name})
    started = time.monotonic()
    proc = None
    output = _Output(name)
    try:
        try:
            with signals.deferred():   # a SIGTERM waits until the process is known
                proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        env={**os.environ, **env}, start_new_session=True)
        except OSError as exc:
            return f'{what} cannot be started: {exc.strerror or exc}'
        ended = output.follow(proc, started + timeout)
    except BaseException:
        if proc is not None:
            _stop(proc)
            log.warning('%s stopped: the job was interrupted', what, extra={'hook': name})
        raise
    finally:
        if proc is not None:
            output.close(proc)
    seconds = round(time.monotonic() - started, 3)
    if not ended:
        _stop(proc)
        return output.quote(f'{what} did not end within {timeout:g} s (stopped)')
    code = proc.returncode
    if code == 0:
        log.info('%s ended (exit code 0) in %.1f s', what, seconds,
                 extra={'hook': name, 'exit_code': 0, 'seconds': seconds})
        return None
    how = f'killed by signal {signal.Signals(-code).name}' if code < 0 else f'exit code {code}'
    return output.quote(f'{what} failed ({how})')


class _Output:
    """Logs a command's stdout and stderr line by line; keeps the last lines of stderr."""

    def __init__(self, name: str):
        self.name = name
        self.partial = {'stdout': b'', 'stderr': b''}
        self.last_errors = collections.deque(maxlen=LAST_LINES)

    def follow(self, proc, deadline: float) -> bool:
        """Logs the output until the command ends (its pipes may stay open in a
        child it left running); False when ``deadline`` came first."""
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ, 'stdout')
            selector.register(proc.stderr, selectors.EVENT_READ, 'stderr')
            while selector.get_map():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                events = selector.select(min(left, _POLL))
                for key, _ in events:
                    data = os.read(key.fd, 65536)
                    if data:
                        self._feed(key.data, data)
                    else:
                        selector.unregister(key.fileobj)
                if not events and proc.poll() is not None:
                    break        # ended; what it left running keeps the pipes open
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            return False
        return True

    def _feed(self, stream: str, data: bytes) -> None:
        *lines, self.partial[stream] = (self.partial[stream] + data).split(b'\n')
        for line in lines:
            self._line(stream, line)
        if len(self.partial[stream]) > MAX_LINE * 4:   # no line end in sight
            self._line(stream, self.partial[stream])
            self.partial[stream] = b''

    def _line(self, stream: str, raw: bytes) -> None:
        line = raw.decode('utf-8', 'replace').rstrip('\r')[:MAX_LINE]
        if stream == 'stderr' and line.strip():
            self.last_errors.append(line.strip()[:200])
        log.info('%s%s: %s', self.name, '' if stream == 'stdout' else ' (stderr)', line,
                 extra={'hook': self.name, 'stream': stream})

    def close(self, proc) -> None:
        """Logs what is left in the pipes (without waiting for more), closes them."""
        for stream, pipe in (('stdout', proc.stdout), ('stderr', proc.stderr)):
            os.set_blocking(pipe.fileno(), False)
            try:
                while data := os.read(pipe.fileno(), 65536):
                    self._feed(stream, data)
            except BlockingIOError:
                pass
            if self.partial[stream]:
                self._line(stream, self.partial[stream])
                self.partial[stream] = b''
            pipe.close()

    def quote(self, text: str) -> str:
        """``text`` followed by the last lines of stderr."""
        return text + (': ' + ' | '.join(self.last_errors) if self.last_errors else '')


def _stop(proc) -> None:
    """Stops the command's whole process group (SIGTERM, SIGKILL after KILL_GRACE
    seconds) and reaps the command."""
    _signal_group(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + KILL_GRACE
    while not _ended(proc) and time.monotonic() < deadline:
        time.sleep(0.02)
    # Until the command is reaped, its pid (the group's id) cannot be taken by another
    # process: SIGKILL reaches only what is left of its group.
    _signal_group(proc.pid, signal.SIGKILL)
    proc.wait()


def _ended(proc) -> bool:
    """Whether the command has ended, without reaping it."""
    if proc.returncode is not None:
        return True
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except OSError:    # the group is gone already
        pass
