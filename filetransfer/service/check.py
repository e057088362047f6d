"""Checks the configuration without transferring anything: the application file,
every host of the hosts file, the jobs (all or the named ones), the jobs the
daemon runs; with ``connect``, it also opens every source and target the jobs use.
A value that a run takes leniently (as FileTransfer 0.11 did, with a warning in its
log) is a problem here.

A loader error stops at the first problem of a file, so there is at most one
problem per file (per host for the hosts file), and each problem is reported once.
"""

from dataclasses import dataclass, field

from filetransfer import config, endpoints
from filetransfer.errors import ConfigError, ConnectError, Error, ExitCode

CONFIG_PROBLEM = ExitCode.CONFIG
UNREACHABLE = ExitCode.FAILURE


@dataclass
class Finding:
    """One line of the check: a problem (``code`` 3 or 2) or a plain fact (0)."""

    text: str
    code: int = CONFIG_PROBLEM


@dataclass
class CheckResult:
    findings: list[Finding] = field(default_factory=list)
    hosts: int = 0
    jobs: int = 0
    endpoints: int = 0

    @property
    def problems(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.code]

    @property
    def exit_code(self) -> int:
        """3 for any configuration problem, else 2 for an unreachable endpoint, else 0."""
        return max((finding.code for finding in self.findings), default=0)

    def add(self, text: str, code: int = CONFIG_PROBLEM) -> None:
        """Adds a finding; a problem already found (a host's, met again through
        each job that uses the host) is not repeated."""
        if code and any(finding.text == text for finding in self.problems):
            return
        self.findings.append(Finding(text, code))

    def add_lenient(self, notes) -> None:
        """Values taken leniently, each reported once."""
        for note in notes:
            if all(finding.text != note for finding in self.findings):
                self.add(note)


def check(cfg_file, job_ids=None, connect: bool = False) -> CheckResult:
    """Checks the configuration (see the module doc); ``job_ids`` limits the jobs."""
    result = CheckResult()
    try:
        app = config.load_app(cfg_file)
    except ConfigError as error:
        result.add(str(error))
        return result
    result.add_lenient(app.lenient)
    _check_metrics_dir(app, result)
    _check_hosts(app, result)
    daemon_jobs = app.daemon.jobs if app.daemon else ()
    if job_ids:
        ids = list(dict.fromkeys(job_ids))
    else:
        try:
            ids = config.job_ids(app)
        except ConfigError as error:
            result.add(str(error))
            ids = []
        for job_id in daemon_jobs:
            if job_id != '*' and job_id not in ids:
                result.add(f"{app.path}: [daemon] jobs: no job file for {job_id!r} "
                           f"({config.job_path(app, job_id)})")
    jobs = {}
    for job_id in ids:
        result.jobs += 1
        try:
            jobs[job_id] = _check_job(app, job_id, '*' in daemon_jobs or job_id in daemon_jobs,
                                      result)
        except ConfigError as error:
            result.add(str(error))
    if connect:
        _connect(jobs, result)
    return result


def _check_metrics_dir(app, result):
    """A run only warns when it cannot write its metrics (they must not stop a transfer)."""
    from filetransfer.notify.metrics import dir_problem

    metrics_dir = app.global_.metrics_dir
    problem = metrics_dir and dir_problem(metrics_dir)
    if problem:
        result.add(f'{app.path}: [global] metrics_dir: {problem}')


def _check_hosts(app, result):
    hosts_cfg = app.global_.hosts_cfg
    if not hosts_cfg:
        return
    try:
        parser = config.read_ini(hosts_cfg)
    except ConfigError as error:
        result.add(str(error))
        return
    for host_id in parser.sections():
        result.hosts += 1
        notes = []
        try:
            config.host_from_file(parser, host_id, app, notes)
        except ConfigError as error:
            result.add(str(error))
        result.add_lenient(notes)


def _check_job(app, job_id, run_by_daemon, result):
    from filetransfer.service.daemon import unsuitable_reason

    job_cfg = config.load_job(app, job_id)
    result.add_lenient(job_cfg.lenient)
    if run_by_daemon:
        reason = unsuitable_reason(job_cfg)
        if reason:
            raise ConfigError(reason)
    return job_cfg


def _connect(jobs, result):
    """Opens each distinct source and target once, as a run would (a missing
    target directory is created, as the run would create it)."""
    seen = {}
    for job_id, job_cfg in jobs.items():
        for spec in (job_cfg.source, job_cfg.target):
            seen.setdefault((spec.role, spec.describe()), (spec, {}))[1][job_id] = job_cfg
    for (role, name), (spec, job_cfgs) in seen.items():
        result.endpoints += 1
        where = f"{role} {name} (job {', '.join(job_cfgs)})"
        try:
            endpoint = endpoints.create(spec)
            endpoint.open()
            endpoint.close()
        except (ConnectError, Error) as error:
            result.add(f'{where}: unreachable: {error}', UNREACHABLE)
        except Exception as error:   # an endpoint that fails unexpectedly is a finding too
            result.add(f'{where}: cannot be checked: {type(error).__name__}: {error}',
                       UNREACHABLE)
        else:
            key_status = ', host key known' if spec.type == 'SFTP' else ''
            result.add(f'{where}: reachable{key_status}', 0)
            for job_cfg in job_cfgs.values():
                _check_abilities(job_cfg, role, endpoint.capabilities, result)


def _check_abilities(job_cfg, role: str, capabilities, result) -> None:
    """What a job asks of an endpoint that only its opening tells: a source that
    lists modification times for min_age and max_age (an FTP server without MLSD
    gives none)."""
    if role != 'source' or capabilities.mtimes:
        return
    for name in ('min_age', 'max_age'):
        if getattr(job_cfg.source.options, name) is not None:
            result.add(f'{job_cfg.path}: [source] {name}: the source '
                       f'({job_cfg.source.describe()}) lists no modification times (an FTP '
                       'server without MLSD): files cannot be judged by age')
            return
