"""A job: its configuration, one run with lock, ready file and retries, and the
report at the end (log line, notification)."""

import configparser
import contextlib
import datetime
import functools
import logging
import time
from collections.abc import Mapping

from filetransfer import config, endpoints, logs, signals
from filetransfer.config import schema
from filetransfer.errors import (ConfigError, ConnectError, ExitCode, NotReadyError,
                                 SingleInstanceError, Terminated, TransferError,
                                 error_text, exit_code_of)
from filetransfer.outcome import JobResult
from filetransfer.run import ready
from filetransfer.run.runstate import RunState

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
        self.urls = (job_cfg.source.url(), job_cfg.target.url()) if job_cfg else (None, None)
        disabled = options.log_disabled
        self.log_disabled = app.logging.disabled if disabled is None else disabled

    def run(self, exc: BaseException | None = None, *, progress=None,
            collect_data: bool | None = None,
            single_instance: bool = False) -> tuple[JobResult, int]:
        """Runs the job (or only reports ``exc``); returns the result and 0 or 1.
        ``progress`` (a ledger.ProgressObserver) is told how the run goes on;
        ``collect_data`` overrides the configuration's; ``single_instance`` takes
        the job's lock (its configured name, else the job id) even when the
        configuration does not ask for it, if it has a place for locks (locks_dir
        or state_db).

        Raises ConnectError, TransferError, ConfigError, SingleInstanceError,
        NotReadyError, Terminated, or ``exc``; an exception that ends a run (all but
        NotReadyError and SingleInstanceError) carries the JobResult reached so far
        as its ``result``.
        """
        self.progress = progress
        self._notices = None
        collect = self.collect_data if collect_data is None else collect_data
        try:
            with signals.one_run(), RunState(self.app, self.job_id,
                                             datetime.datetime.now()) as state:
                return self._run(exc, JobResult(file_list=[] if collect else None), state,
                                 single_instance)
        finally:
            self.progress = None

    def _run(self, exc, result, state: RunState, single_instance: bool):
        error = None
        try:
            if exc is not None:
                raise exc
            not_ready = ready.missing_locally(self.cfg)   # no lock, journal, connection
            if not_ready is not None:
                raise not_ready
            lock_name = self.cfg.job.single_instance or (single_instance and state.can_lock)
            if lock_name:
                lock_name = self.job_id if lock_name is True else lock_name
                with state.lock(lock_name):
                    self._tries(result, state)
            else:
                self._tries(result, state)
        except (SingleInstanceError, NotReadyError) as quiet:
            log.debug('job %s not run: %s', self.job_id, quiet)
            raise
        except KeyboardInterrupt:
            error = Terminated('KeyboardInterrupt')
        except BaseException as failure:
            error = state.stopped_by(failure)
        if error is not None:
            error.result = result     # the counts so far, for the mail and the caller
        signals.settle()      # the report and the mail go out whatever comes now
        code = self._finish(state.started, result, error)
        state.record(self.report)
        if error is not None:
            raise error
        return result, int(code)

    def plan(self) -> list:
        """Dry run: the files a run would look at now, each sent or held back
        (copier.PlannedFile); nothing is written, no lock taken. Raises
        NotReadyError, ConnectError, TransferError, ConfigError."""
        with self._sent_files(create=False) as sent:
            return self._copier(sent).plan()

    def has_work(self) -> bool:
        """Whether a run now would do something (see Copier.has_work)."""
        with self._sent_files(create=False) as sent:
            return self._copier(sent).has_work()

    def _copier(self, sent):
        from filetransfer.run.copier import Copier

        return Copier(self.cfg.source, self.cfg.target, ready_file=self.cfg.job.ready_file,
                      sent=sent, where=self.cfg.path)

    @contextlib.contextmanager
    def _sent_files(self, create: bool = True):
        """The record of the files sent (``[source] remember``), or None. Raises
        ConfigError when locks_dir cannot hold it."""
        if not self.cfg.source.options.remember:
            yield None
            return
        from filetransfer.run.sentfiles import open_sent_files

        locks_dir = self.app.global_.locks_dir
        try:
            sent = open_sent_files(locks_dir, self.job_id, create=create)
        except OSError as exc:
            raise ConfigError(f'{self.app.path}: [global] locks_dir: cannot keep the record '
                              f'of the files sent in {locks_dir}: {error_text(exc)}') from None
        with sent:
            yield sent

    def report_config_error(self, error: ConfigError) -> None:
        """Logs and notifies a configuration error found before the run."""
        now = datetime.datetime.now()
        self._finish(now, JobResult(file_list=[] if self.collect_data else None), error)
        with RunState(self.app, self.job_id, now) as state:
            state.record(self.report)

    def _tries(self, result: JobResult, state: RunState) -> None:
        try:
            with self._sent_files() as sent:
                early = endpoints.log_in_early(self._logs_in_first())
                try:
                    return self._tries_with(result, state, sent, early)
                finally:
                    if early is not None:
                        early.end()
        finally:
            state.journal.close()

    def _logs_in_first(self):
        """The side whose login can start as soon as the run holds its lock, going
        on while the rest loads: the source when it is on a server (opened first),
        else the target, unless a before command must run before it is opened."""
        source, target = self.cfg.source, self.cfg.target
        if source.host is not None:
            return source
        return None if self.cfg.job.before else target

    def _tries_with(self, result: JobResult, state: RunState, sent, early) -> None:
        from filetransfer.run.copier import Copier

        retries = self.cfg.job.retries
        done = set()
        for attempt in range(retries + 1):
            transfer = Copier(self.cfg.source, self.cfg.target, ready_file=self.cfg.job.ready_file,
                              done=done, progress=self.progress, journal=state.journal,
                              sent=sent, where=self.cfg.path)
            try:
                transfer.run(result, on_start=functools.partial(self._begin, state), early=early)
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

    def _begin(self, state: RunState) -> None:
        """The source is open and ready, the lock held: the run starts, in its state
        (the history), its log, its start ping and its before command, once whatever
        the tries. Raises hooks.HookError when the before command fails."""
        from filetransfer.notify.dispatch import Notices

        state.begin()
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
                                self.log_file, self.log_disabled, *self.urls)
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
    """Before another try: only the files already transferred (or skipped) stay in
    the result."""
    result.src_error_cnt = result.tgt_error_cnt = 0
    if result.file_list is not None:
        result.file_list[:] = [record for record in result.file_list
                               if record.transferred or record.skipped]


def _extra_config(app, job_cfg, kwargs) -> configparser.ConfigParser:
    """The ``x:`` sections of both files, read together by a ConfigParser made with
    ``kwargs`` (so their [DEFAULT] options and its interpolation apply), the job
    file winning; returned in a new one, the prefix stripped."""
    try:
        both = configparser.ConfigParser(**kwargs)
        for path in (app.path, job_cfg.path):
            with open(path, encoding='utf-8') as fh:
                both.read_file(fh)
        merged = {name[len(config.EXTRA_PREFIX):]: dict(both.items(name))
                  for name in both.sections() if name.startswith(config.EXTRA_PREFIX)}
        extra = configparser.ConfigParser(**kwargs)
        extra.read_dict(merged)
    except (configparser.Error, OSError, TypeError, ValueError) as exc:
        raise ConfigError(f'{job_cfg.path}: x: sections: {exc}') from None
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

    A broken job file is logged and notified, then raised as ConfigError. A job id
    that names no file inside jobs_dir is refused before anything is written.
    """
    app = cfg_file if isinstance(cfg_file, config.AppConfig) else config.load_app(cfg_file)
    config.job_path(app, job_id)
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
    notes = []
    source = config.endpoint_from_mapping(where, 'source', source_items, schema.Source, notes)
    target = config.endpoint_from_mapping(where, 'target', target_items, schema.Target, notes)
    for note in notes:
        log.warning('%s', note)
    config.refuse_same_directory(where, source, target)
    config.check_endpoint_types(where, source, target)
    if target.options.resume:
        raise ConfigError(f'{where}: [target] resume: needs a job with [global] locks_dir '
                          "(see configure()), whose record tells the job's own partial "
                          "files from others'")
    if source.options.remember:
        raise ConfigError(f'{where}: [source] remember: needs a job with [global] locks_dir '
                          '(see configure()), where the record of the files sent is kept')
    from filetransfer.run.copier import Copier

    result = JobResult(file_list=[] if collect_data else None)
    with signals.one_run():
        return Copier(source, target).run(result)
