"""The hot-folder daemon: runs the jobs of the [daemon] section whenever their
source is ready, scanning every ``interval`` seconds.

Each job runs in a child process forked from the daemon, one at a time per job,
jobs side by side. A child is a normal run of the job (retries, log file, mail),
always under the job's lock (when locks_dir or state_db gives it a place), so
daemons on several hosts sharing a PostgreSQL state_db never both take a file.
A child ends, so its memory, connections and logging set-up go with it, and a
crash or a hang in one job cannot take the daemon or another job down. The
daemon itself only reads config files, forks and waits.

A job that fails is tried again after one interval, then after twice as long
each time it fails again (up to MAX_RETRY_DELAY), so a server that is down is
not reported at every scan. A broken job file is logged once (again when the
problem changes) and reported by one run of the job (its log, mail); the daemon
checks it again at every scan.

Signals reach the daemon through sigtimedwait() (they are blocked, never
handled asynchronously): SIGTERM or SIGINT stop it (running jobs get SIGTERM
once, clean up their current file and end; then the pidfile is removed),
SIGHUP reloads the application configuration and reopens the daemon's log.
Job files and the hosts file are read at every scan.
"""

import logging
import os
import signal
import sys
import time

from filetransfer import config, logs, signals
from filetransfer.errors import ConfigError, Error, ExitCode, Terminated, exit_code_of
from filetransfer.signals import set_sigterm_handler
from filetransfer.service.pidfile import AlreadyRunning, PidFile, running_pid
from filetransfer.privatedirs import make_private_dirs

log = logging.getLogger('filetransfer.daemon')

LOG_NAME = 'daemon.log'
NOTHING_DONE = 100       # exit status of a job child that found nothing to do
MAX_RETRY_DELAY = 600.0  # seconds: the longest wait before a failed job runs again
STOP_TIMEOUT = 120.0     # seconds `stop()` waits for the daemon to end
UMASK = 0o022            # the detached daemon's umask (systemd's default too)
_WATCHED = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD}

__all__ = ['AlreadyRunning', 'load_settings', 'start', 'status', 'stop',
           'unsuitable_reason']


def unsuitable_reason(job_cfg) -> str | None:
    """Why a job cannot run from the daemon, or None. A job that does not consume
    its files (delete, archive_dir), wait for a ready file, remember what it sent
    or keep what the target has (overwrite other than always) would send the same
    files on every scan."""
    source, target = job_cfg.source.options, job_cfg.target.options
    if job_cfg.job.ready_file or source.delete or source.archive_dir is not None \
            or source.remember or target.overwrite != 'always':
        return None
    return (f'{job_cfg.path}: [source] delete: the daemon needs delete = yes, archive_dir, '
            'remember = yes, a [target] overwrite other than always or a [job] ready_file, '
            'or every scan sends the same files again')


def load_settings(cfg_file) -> config.AppConfig:
    """The application configuration, which must have a [daemon] section."""
    app = config.load_app(cfg_file)
    if app.daemon is None:
        raise ConfigError(f'{app.path}: [daemon]: required section is missing '
                          '(filetransfer daemon needs its jobs and pidfile options)')
    return app


def _pidfile_path(app) -> str:
    return os.path.abspath(app.daemon.pidfile)


def _running(app) -> int | None:
    path = _pidfile_path(app)
    try:
        return running_pid(path)
    except OSError as exc:
        raise ConfigError(f'{app.path}: [daemon] pidfile: cannot read {path}: '
                          f'{exc.strerror}') from None


def status(cfg_file) -> int | None:
    """The pid of the running daemon, None when it does not run."""
    return _running(load_settings(cfg_file))


def stop(cfg_file, timeout: float = STOP_TIMEOUT) -> int | None:
    """Sends SIGTERM to the daemon and waits until its process has exited (it
    releases its pidfile a moment before); returns its pid, None when it was not
    running. Raises Error when it has not exited after ``timeout`` seconds."""
    app = load_settings(cfg_file)
    path = _pidfile_path(app)
    pid = _running(app)
    if pid is None:
        return None
    if pid <= 0:
        raise Error(f'the pidfile {path} is locked but holds no pid')
    started = _start_time(pid)
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while True:
        holds_pidfile = _running(app) is not None
        if not holds_pidfile and _ended(pid, started):
            return pid
        if time.monotonic() > deadline:
            still = 'is still running' if holds_pidfile else \
                'released its pidfile but has not exited'
            raise Error(f'the daemon (pid {pid}) {still} {timeout:.0f} s after SIGTERM')
        time.sleep(0.02)


def _proc_stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat from the state on (raises OSError without it)."""
    with open(f'/proc/{pid}/stat') as fh:
        return fh.read().rsplit(')', 1)[1].split()


def _start_time(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot), None when unknown."""
    try:
        return _proc_stat(pid)[19]
    except (OSError, IndexError):
        return None


def _ended(pid: int, started: str | None) -> bool:
    """Whether process ``pid`` (started at ``started``) has exited: it is gone, a
    zombie waiting for its parent, or the pid belongs to a newer process."""
    try:
        fields = _proc_stat(pid)
    except FileNotFoundError:
        return True
    except OSError:   # no /proc: ask the kernel whether the pid exists
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
        return False
    return fields[0] in ('Z', 'X') or (started is not None and fields[19] != started)


def start(cfg_file, foreground: bool = False) -> int:
    """Starts the daemon. Detached: returns the daemon's pid once its pidfile is
    written. In the foreground: runs until SIGTERM/SIGINT, then returns 0.

    Raises AlreadyRunning, ConfigError, Error.
    """
    app = load_settings(cfg_file)   # relative paths stay valid: the daemon keeps its cwd
    pid = _running(app)
    if pid is not None:
        raise AlreadyRunning(_pidfile_path(app), pid)
    daemon = Daemon(cfg_file, app)
    if foreground:
        daemon.serve()
        return 0
    settings = app.logging
    if not settings.log_dir and not settings.disabled:
        raise ConfigError(f'{app.path}: [logging] log_dir: required to run the daemon '
                          'detached (its output goes nowhere); or use --foreground')
    from filetransfer.service.detach import detach
    return detach(daemon.serve, UMASK)


class Daemon:
    """The scan loop. ``serve()`` runs it in the current process."""

    def __init__(self, cfg_file: str, app: config.AppConfig):
        self.cfg_file = cfg_file
        self.app = app
        self.pidfile = PidFile(_pidfile_path(app))
        self.children: dict[int, str] = {}   # pid -> job id
        self.running: dict[str, int] = {}    # job id -> pid
        self.problems: dict[str, str] = {}   # job id -> problem logged last
        self.failures: dict[str, int] = {}   # job id -> failed runs in a row
        self.not_before: dict[str, float] = {}   # job id -> monotonic time of next try
        self.stopping = False
        self.scans = 0

    # -- life cycle -----------------------------------------------------------
    def serve(self, ready=None) -> None:
        """Runs until SIGTERM/SIGINT. ``ready`` is called once the pidfile is
        written and logging is set up. Raises AlreadyRunning, ConfigError."""
        signal.signal(signal.SIGCHLD, _ignore)   # a handler, so SIGCHLD is queued
        signal.pthread_sigmask(signal.SIG_BLOCK, _WATCHED)
        try:
            stale = self.pidfile.acquire()
        except OSError as exc:
            raise ConfigError(f'{self.app.path}: [daemon] pidfile: cannot create '
                              f'{self.pidfile.path}: {exc.strerror}') from None
        try:
            self._setup_logging()
            if stale:
                log.warning('replaced a stale pidfile (pid %d is not running)', stale)
            log.info('daemon started (pid %d): %s', os.getpid(), self._describe())
            if ready:
                ready()
            try:
                self._loop()
            except BaseException as exc:
                log.critical('daemon failed: %s: %s', type(exc).__name__, exc, exc_info=exc)
                raise
        finally:
            self._stop_children()
            log.info('daemon stopped')
            self.pidfile.release()
            _close_handlers()

    def _describe(self) -> str:
        options = self.app.daemon
        return (f"jobs {', '.join(options.jobs)}, scan every {options.interval:g} s, "
                f"pidfile {options.pidfile}")

    def _setup_logging(self) -> None:
        settings = self.app.logging
        if settings.disabled:
            handler = logging.NullHandler()
        elif settings.log_dir:
            try:
                make_private_dirs(settings.log_dir)
                handler = logs.PrivateFileHandler(os.path.join(settings.log_dir, LOG_NAME),
                                                  encoding='utf-8')
            except OSError as exc:
                raise ConfigError(f'{self.app.path}: [logging] log_dir: cannot open the '
                                  f'daemon log: {exc.strerror}') from None
        else:
            handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logs.formatter(settings))
        _close_handlers()
        log.addHandler(handler)
        log.setLevel(settings.log_level)
        log.propagate = False

    def _loop(self) -> None:
        next_scan = time.monotonic()
        while not self.stopping:
            now = time.monotonic()
            if now >= next_scan:
                self._scan()
                next_scan = now + self.app.daemon.interval
            info = signal.sigtimedwait(_WATCHED, max(0.0, next_scan - time.monotonic()))
            if info is not None:
                if info.si_signo == signal.SIGHUP:
                    self._reload()
                    next_scan = time.monotonic()
                elif info.si_signo in (signal.SIGTERM, signal.SIGINT):
                    log.info('stopping on %s', signal.Signals(info.si_signo).name)
                    self.stopping = True
            self._reap()

    def _reload(self) -> None:
        try:
            app = load_settings(self.cfg_file)
        except ConfigError as exc:
            log.error('reload failed, the configuration in use stays: %s', exc)
            return
        if _pidfile_path(app) != self.pidfile.path:
            log.warning('[daemon] pidfile changed: it takes effect at the next start')
        self.app = app
        self.problems.clear()   # report every problem again under the new configuration
        self.not_before.clear()   # and try failed jobs at once: something may be fixed
        self.failures.clear()
        try:
            self._setup_logging()
        except ConfigError as exc:
            log.error('%s', exc)
        log.info('configuration reloaded: %s', self._describe())

    # -- scans ----------------------------------------------------------------
    def _job_ids(self) -> list[str]:
        ids = self.app.daemon.jobs
        if ids != ('*',):
            return list(ids)
        try:
            found = config.job_ids(self.app)
        except ConfigError as exc:
            self._problem('*', str(exc))
            return []
        self._fixed('*')
        return found

    def _scan(self) -> None:
        self.scans += 1
        ids = self._job_ids()
        started = 0
        for job_id in ids:
            if job_id in self.running or time.monotonic() < self.not_before.get(job_id, 0):
                continue
            try:
                job_cfg = config.load_job(self.app, job_id)
            except ConfigError as exc:
                if self._problem(job_id, str(exc)):
                    self._spawn(job_id)   # the run reports it as usual (job log, mail)
                continue
            reason = unsuitable_reason(job_cfg)
            if reason:
                self._problem(job_id, reason)
                continue
            self._fixed(job_id)
            self._spawn(job_id)
            started += 1
        log.debug('scan %d: %d job(s), %d checked for work, %d running',
                  self.scans, len(ids), started, len(self.running))

    def _problem(self, job_id: str, text: str) -> bool:
        """Logs a job's problem once (until it changes); True when it is new."""
        if self.problems.get(job_id) == text:
            return False
        self.problems[job_id] = text
        what = 'jobs' if job_id == '*' else f'job {job_id}'
        log.error('%s not run: %s (checked again at every scan)', what, text)
        return True

    def _fixed(self, job_id: str) -> None:
        if self.problems.pop(job_id, None) is not None:
            log.info('%s: the problem is gone', 'jobs' if job_id == '*' else f'job {job_id}')

    # -- job processes --------------------------------------------------------
    def _spawn(self, job_id: str) -> None:
        try:
            pid = os.fork()
        except OSError as exc:
            log.error('job %s not started: cannot fork: %s', job_id, exc.strerror)
            return
        if pid == 0:
            _child(self.app, job_id)   # never returns
        self.children[pid] = job_id
        self.running[job_id] = pid

    def _reap(self) -> None:
        for pid in list(self.children):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, 0
            if done:
                self._ended(pid, os.waitstatus_to_exitcode(status))

    def _ended(self, pid: int, code: int) -> None:
        job_id = self.children.pop(pid)
        del self.running[job_id]
        fields = {'job': job_id, 'exit_code': code}    # for [logging] format = json
        if code in (0, NOTHING_DONE, 3, 5):
            self.failures.pop(job_id, None)
            if code == NOTHING_DONE:
                log.debug('job %s: nothing to do', job_id, extra=fields)
            elif code == 0:
                log.info('job %s finished (exit code 0)', job_id, extra=fields)
            elif code == 5:
                log.warning('job %s was terminated (exit code 5)', job_id, extra=fields)
            return
        # Failed: tried again later, sooner after a first failure than after many,
        # so a server that is down does not cause a report at every scan.
        failures = self.failures.get(job_id, 0) + 1
        self.failures[job_id] = failures
        interval = self.app.daemon.interval
        delay = min(interval * 2 ** (failures - 1), max(interval, MAX_RETRY_DELAY))
        self.not_before[job_id] = time.monotonic() + delay
        if code < 0:
            what = f'was killed by signal {signal.Signals(-code).name}'
        elif code == 1:
            what = 'had file errors (exit code 1)'
        else:
            what = f'failed (exit code {code})'
        log.error('job %s %s; tried again in %g s', job_id, what, delay, extra=fields)

    def _stop_children(self) -> None:
        """Each running job gets SIGTERM once and cleans up its current file."""
        if not self.children:
            return
        log.info('waiting for %d running job(s) to clean up and end', len(self.children))
        for pid in self.children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for pid in list(self.children):
            try:
                _, status = os.waitpid(pid, 0)
            except ChildProcessError:
                status = 0
            self._ended(pid, os.waitstatus_to_exitcode(status))


def _ignore(signum, frame):
    pass


def _close_handlers() -> None:
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()


def _child(app, job_id: str) -> None:
    """The job process: a normal run of the job, then os._exit with its code."""
    code = ExitCode.INTERNAL
    try:
        os.setpgid(0, 0)   # a Ctrl-C on the daemon's terminal reaches the daemon only
        for handler in list(log.handlers):
            log.removeHandler(handler)   # the daemon's log is the daemon's
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        set_sigterm_handler()      # once, and not while a file is put in place
        signals.keep_outcome_until_exit()
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        code = run_job(app, job_id)
    except Terminated:
        code = ExitCode.TERMINATED
    except BaseException as exc:   # a last resort: the process must end here
        logging.getLogger('filetransfer').critical('job %s: %s: %s', job_id,
                                                   type(exc).__name__, exc, exc_info=exc)
    finally:
        signals.before_exit()
        logs.shutdown()
        os._exit(int(code))


def run_job(app, job_id: str) -> int:
    """Runs a job if its source is ready; returns its exit code, NOTHING_DONE
    when there was nothing to do (not ready, or another instance holds its lock)."""
    from filetransfer.errors import (ConfigError, ConnectError, NotReadyError,
                                     SingleInstanceError, TransferError)
    from filetransfer.run import job as job_module

    job = None
    try:
        job = job_module.load(app, job_id)
        try:
            if not job.has_work():   # quietly: no log file for a scan without work
                return NOTHING_DONE
        except (ConnectError, TransferError, ConfigError):
            pass   # the run reports it (a connection error with its retries)
        # Always under the job's lock: daemons on several hosts sharing a state_db
        # scan the same folder, and exactly one of them may take a given file.
        _, code = job.run(single_instance=True)
        return code
    except (NotReadyError, SingleInstanceError):
        return NOTHING_DONE
    except (Exception, Terminated, KeyboardInterrupt) as exc:
        code = exit_code_of(exc)
        if code == ExitCode.INTERNAL and (job is None or job.report is None):
            logging.getLogger('filetransfer').critical(   # else the job's report logged it
                'job %s failed with an unexpected error: %s: %s', job_id,
                type(exc).__name__, exc, exc_info=exc)
        return code
