"""A job: its configuration, one run with lock, ready file and retries, and the
report at the end (log line, notification)."""

import configparser
import contextlib
import datetime
import logging
import time
from collections.abc import Mapping

from filetransfer import config, logs, signals
from filetransfer.config import schema
from filetransfer.errors import (ConfigError, ConnectError, ExitCode, NotReadyError,
                                 SingleInstanceError, Terminated, TransferError,
                                 exit_code_of)
from filetransfer.outcome import JobResult
from filetransfer.run.copier import Copier
from filetransfer.run import ready
from filetransfer.run.journal import Journal

log = logging.getLogger('filetransfer.job')

MAX_RETRY_WAIT = 60


def retry_wait(seconds: float) -> None:
    """Waits between tries (a separate function so tests can watch the waits)."""
    time.sleep(seconds)


class Job:
    """One configured job. ``job_cfg`` is None when the job file is broken."""

    def __init__(self, app: config.AppConfig, job_id: str, job_cfg: config.JobConfig | None,
                 log_file: str | None = None):
        self.app = app
        self.job_id = job_id
        self.cfg = job_cfg
        self.log_file = log_file
        self.report = None     # the outcome.JobReport of the last run
        self.progress = None   # the ledger.ProgressObserver of the run going on
        self._notices = None   # the notify.dispatch.Notices of the run that started
        options = job_cfg.job if job_cfg else schema.JobOptions()
        self.name = options.name or job_id
        self.info = options.info
        collect = options.collect_data
        self.collect_data = app.global_.collect_data if collect is None else collect
        self.source = job_cfg.source.describe() if job_cfg else '?'
        self.target = job_cfg.target.describe() if job_cfg else '?'

    def run(self, exc: BaseException | None = None, *, progress=None,
            collect_data: bool | None = None) -> tuple[JobResult, int]:
        """Runs the job (or only reports ``exc``); returns the result and 0 or 1.
        ``progress`` (a ledger.ProgressObserver) is told how the run goes on;
        ``collect_data`` overrides the configuration's.

        Raises ConnectError, TransferError, ConfigError, SingleInstanceError,
        NotReadyError, Terminated, or ``exc``.
        """
        self.progress = progress
        self._notices = None
        collect = self.collect_data if collect_data is None else collect_data
        try:
            with signals.one_run():
                return self._run(exc, JobResult(file_list=[] if collect else None))
        finally:
            self.progress = None

    def _run(self, exc, result):
        started = datetime.datetime.now()
        try:
            if exc is not None:
                raise exc
            not_ready = ready.missing_locally(self.cfg)   # no lock, journal, connection
            if not_ready is not None:
                raise not_ready
            lock_name = self.cfg.job.single_instance
            if lock_name:
                lock_name = self.job_id if lock_name is True else lock_name
                with self._lock(lock_name):
                    self._tries(result)
            else:
                self._tries(result)
        except (SingleInstanceError, NotReadyError) as quiet:
            log.debug('job %s not run: %s', self.job_id, quiet)
            raise
        except KeyboardInterrupt:
            error = Terminated('interrupted')
            signals.settle()
            self._finish(started, result, error)
            raise error from None
        except BaseException as error:
            signals.settle()      # the report and the mail go out whatever comes now
            self._finish(started, result, error)
            raise
        signals.settle()
        return result, self._finish(started, result, None)

    @contextlib.contextmanager
    def _lock(self, name: str):
        """The single-instance lock; a locks_dir that cannot hold it is a
        configuration problem. Raises SingleInstanceError, ConfigError."""
        from filetransfer.run.locks import single_instance

        locks_dir = self.app.global_.locks_dir
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(single_instance(locks_dir, name))
            except OSError as exc:
                raise ConfigError(f'{self.app.path}: [global] locks_dir: cannot lock {name!r} '
                                  f'in {locks_dir}: {exc.strerror or exc}') from None
            yield

    def plan(self) -> list:
        """Dry run: the files (FileEntry) a run would transfer now; nothing is
        written, no lock taken. Raises NotReadyError, ConnectError, TransferError,
        ConfigError."""
        return self._copier().plan()

    def has_work(self) -> bool:
        """Whether a run now would do something (see Copier.has_work)."""
        return self._copier().has_work()

    def _copier(self) -> Copier:
        return Copier(self.cfg.source, self.cfg.target, ready_file=self.cfg.job.ready_file)

    def report_config_error(self, error: ConfigError) -> None:
        """Logs and notifies a configuration error found before the run."""
        now = datetime.datetime.now()
        self._finish(now, JobResult(file_list=[] if self.collect_data else None), error)

    def _tries(self, result: JobResult) -> None:
        with Journal(self.app.global_.locks_dir or None, self.job_id) as journal:
            return self._tries_with(result, journal)

    def _tries_with(self, result: JobResult, journal) -> None:
        retries = self.cfg.job.retries
        done = set()
        for attempt in range(retries + 1):
            transfer = Copier(self.cfg.source, self.cfg.target, ready_file=self.cfg.job.ready_file,
                              done=done, progress=self.progress, journal=journal)
            try:
                transfer.run(result, on_start=self._start)
                return
            except (ConnectError, TransferError) as exc:
                if attempt == retries:
                    raise
                if not exc.retryable:   # e.g. a refused login
                    log.warning('try %d of %d failed: %s; not tried again (another try '
                                'cannot help)', attempt + 1, retries + 1, exc)
                    raise
                wait = min(2 ** attempt, MAX_RETRY_WAIT)
                log.warning('try %d of %d failed: %s; trying again in %d s',
                            attempt + 1, retries + 1, exc, wait)
                retry_wait(wait)
                _keep_successes(result)

    def _start(self) -> None:
        """The source is open and ready, the lock held: the run starts (once, whatever
        the tries). Raises hooks.HookError when the before command fails."""
        from filetransfer.notify.dispatch import Notices

        if self._notices is not None:
            return
        log.info('job %s (%s) started: %s -> %s', self.job_id, self.name,
                 self.source, self.target, extra={'source': self.source, 'target': self.target})
        for warning in self.app.warnings + (self.cfg.warnings if self.cfg else []):
            log.warning('%s', warning)     # e.g. a file with a password others can read
        self._notices = Notices(self.app, self.cfg, self.job_id)
        self._notices.started()
        if self.cfg.job.before:
            from filetransfer.run import hooks
            hooks.run_before(self.cfg.job, self.job_id)

    def _finish(self, started, result, error) -> int:
        # not needed by a job that is not ready or already running
        from filetransfer.notify.dispatch import Notices
        from filetransfer.outcome import JobReport

        code = exit_code_of(error, result.error_cnt)
        self.report = JobReport(self.job_id, self.name, self.info, self.source, self.target,
                                started, datetime.datetime.now(), result, code, error,
                                self.log_file)
        if self._notices is not None and self.cfg.job.after:   # the run started
            from filetransfer.run import hooks
            hooks.run_after(self.cfg.job, self.job_id, self.report)
        (self._notices or Notices(self.app, self.cfg, self.job_id)).ended(self.report)
        duration = self.report.duration.total_seconds()
        fields = self.report.log_fields()
        if error is None:
            log.info('job %s finished: %s in %.1f s (exit code %d)',
                     self.job_id, result, duration, code, extra=fields)
        elif code == ExitCode.INTERNAL:
            log.critical('job %s failed with an unexpected error: %s: %s (exit code 9)',
                         self.job_id, type(error).__name__, error, exc_info=error, extra=fields)
        else:
            log.error('job %s %s: %s; %s in %.1f s (exit code %d)', self.job_id,
                      'terminated' if code == 5 else 'failed', error, result, duration, code,
                      extra=fields)
        return code


def _keep_successes(result: JobResult) -> None:
    """Before another try: only the files already transferred stay in the result."""
    result.src_error_cnt = result.tgt_error_cnt = 0
    if result.file_list is not None:
        result.file_list[:] = [record for record in result.file_list if record.transferred]


def _extra_config(app, job_cfg, kwargs) -> configparser.ConfigParser:
    extra = configparser.ConfigParser(**kwargs)
    merged = {}
    for sections in (app.extra, job_cfg.extra):
        for name, items in sections.items():
            merged.setdefault(name, {}).update(items)
    extra.read_dict(merged)
    return extra


def _setup_logging(app, job_id, job_cfg) -> str | None:
    options = job_cfg.job if job_cfg else schema.JobOptions()
    try:
        return logs.setup(app.logging, job_id, level=options.log_level,
                          disabled=options.log_disabled)
    except OSError as exc:
        raise ConfigError(f'{app.path}: [logging] log_dir: cannot create the log file '
                          f'for job {job_id}: {exc.strerror}') from None


def load(cfg_file, job_id: str, job_cfg: config.JobConfig | None = None) -> Job:
    """Loads the configuration of a job and sets up its logging. ``cfg_file`` is
    the application configuration file, or that file already loaded (an AppConfig);
    ``job_cfg`` the job's file, when the caller loaded it already.

    A broken job file is logged and notified, then raised as ConfigError.
    """
    app = cfg_file if isinstance(cfg_file, config.AppConfig) else config.load_app(cfg_file)
    error = None
    if job_cfg is None:
        try:
            job_cfg = config.load_job(app, job_id)
        except ConfigError as exc:
            error = exc
    job = Job(app, job_id, job_cfg, _setup_logging(app, job_id, job_cfg))
    if error is not None:
        job.report_config_error(error)
        raise error
    return job


def configure(cfg_file, job_id: str, **kwargs):
    """Configures a job; returns its ``run`` function and the extra configuration
    (the ``x:`` sections of both files, the job file winning, built with ``kwargs``
    passed to ConfigParser). Raises ConfigError."""
    job = load(cfg_file, job_id)
    return job.run, _extra_config(job.app, job.cfg, kwargs)


def transfer(src_cfg, tgt_cfg=None, *, collect_data: bool = False) -> JobResult:
    """Transfers files as a job's [source] and [target] sections describe.

    ``src_cfg`` and ``tgt_cfg`` are dicts, or ``src_cfg`` is a ConfigParser holding
    both sections. Remote endpoints carry their host options inline (no host_id).
    Raises ConfigError, ConnectError, TransferError.
    """
    where = 'transfer()'
    if isinstance(src_cfg, configparser.ConfigParser):
        sections = []
        for name in ('source', 'target'):
            if not src_cfg.has_section(name):
                raise ConfigError(f'{where}: [{name}]: required section is missing')
            sections.append(src_cfg[name])
        source_items, target_items = sections
    elif isinstance(src_cfg, Mapping) and isinstance(tgt_cfg, Mapping):
        source_items, target_items = src_cfg, tgt_cfg
    else:
        raise ConfigError(f'{where}: expected two dicts or one ConfigParser')
    source = config.endpoint_from_mapping(where, 'source', source_items, schema.Source)
    target = config.endpoint_from_mapping(where, 'target', target_items, schema.Target)
    config.refuse_same_directory(where, source, target)
    config.check_endpoint_types(where, source, target)
    if target.options.resume:
        raise ConfigError(f'{where}: [target] resume: needs a job with [global] locks_dir '
                          "(see configure()), whose record tells the job's own partial "
                          "files from others'")
    result = JobResult(file_list=[] if collect_data else None)
    with signals.one_run():
        return Copier(source, target).run(result)
