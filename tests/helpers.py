"""Helpers shared by the tests: config files in a temp dir, the real command."""

import os
import shutil
import subprocess
import sys
import textwrap

_SCRIPT = shutil.which('filetransfer', path=os.path.dirname(sys.executable))


QUICK_PROFILE = 'quick'   # the hypothesis profile of `make test-quick`


def examples(thorough: int) -> int:
    """How many hypothesis examples a property test tries: ``thorough`` in a full run,
    a tenth (at least 20) under the profile 'quick' (`make test-quick`)."""
    from hypothesis import settings

    if settings.get_current_profile_name() == QUICK_PROFILE:
        return max(20, thorough // 10)
    return thorough

def command_argv(*args) -> list[str]:
    """argv running the installed `filetransfer` command (the console script)."""
    if _SCRIPT:
        return [_SCRIPT, *args]
    return [sys.executable, '-m', 'filetransfer', *args]


def ini_value(text: str) -> str:
    """``text`` as written in a configuration file, which is read with interpolation
    ('%' is written '%%')."""
    return text.replace('%', '%%')


def write_ini(path, sections: dict) -> str:
    """Writes {section: {option: value}} (or raw text for a str) as an INI file."""
    os.makedirs(os.path.dirname(str(path)) or '.', exist_ok=True)
    if isinstance(sections, str):
        text = textwrap.dedent(sections)
    else:
        lines = []
        for section, options in sections.items():
            lines.append(f'[{section}]')
            lines.extend(f'{key} = {value}' for key, value in options.items())
            lines.append('')
        text = '\n'.join(lines)
    with open(path, 'w', encoding='utf-8') as fh:
        fh.write(text)
    return str(path)


def endpoint_spec(role: str, **options):
    """A config.EndpointSpec from [source]/[target] options (and a server's host
    options) given as in a transfer() dict."""
    from filetransfer.config import endpoint_from_mapping, schema

    section = schema.Source if role == 'source' else schema.Target
    return endpoint_from_mapping('test', role, options, section)


def make_files(root, files: dict) -> None:
    """Creates {relative path: bytes or str} under root."""
    for relpath, content in files.items():
        path = os.path.join(str(root), relpath)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as fh:
            fh.write(content.encode() if isinstance(content, str) else content)


def tree(root) -> dict:
    """{relative path: bytes} of every file under root."""
    found = {}
    for folder, _, names in os.walk(str(root)):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, 'rb') as fh:
                found[os.path.relpath(path, str(root))] = fh.read()
    return found


class Workspace:
    """A temp directory with an application config, a jobs dir, src and dst."""

    def __init__(self, root):
        self.root = str(root)
        self.src = os.path.join(self.root, 'src')
        self.dst = os.path.join(self.root, 'dst')
        self.jobs_dir = os.path.join(self.root, 'jobs')
        self.locks_dir = os.path.join(self.root, 'locks')
        self.log_dir = os.path.join(self.root, 'logs')
        self.hosts_cfg = os.path.join(self.root, 'hosts.cfg')
        os.makedirs(self.src)
        os.makedirs(self.jobs_dir)
        self.app_cfg = os.path.join(self.root, 'filetransfer.cfg')
        self.write_app()

    def write_app(self, extra: dict | None = None, logging: dict | None = None) -> str:
        sections = {'global': {'jobs_dir': self.jobs_dir, 'locks_dir': self.locks_dir,
                               'hosts_cfg': self.hosts_cfg}}
        sections['logging'] = logging if logging is not None else {'log_dir': self.log_dir}
        for section, options in (extra or {}).items():
            sections.setdefault(section, {}).update(options)
        return write_ini(self.app_cfg, sections)

    def write_job(self, job_id='job1', *, job=None, source=None, target=None,
                  raw: str | None = None, **sections) -> str:
        path = os.path.join(self.jobs_dir, job_id + '.cfg')
        if raw is not None:
            return write_ini(path, raw)
        content = {}
        if job:
            content['job'] = job
        content['source'] = {'path': self.src, 'files': '*', **(source or {})}
        content['target'] = {'path': self.dst, **(target or {})}
        content.update(sections)
        return write_ini(path, content)

    def run(self, *args, env=None, timeout=120, **kwargs) -> subprocess.CompletedProcess:
        """Runs the real command with -c APP_CFG."""
        return subprocess.run(command_argv('-c', self.app_cfg, *args), capture_output=True,
                              text=True, timeout=timeout, env=env, cwd=self.root, **kwargs)

    def popen(self, *args, **kwargs) -> subprocess.Popen:
        return subprocess.Popen(command_argv('-c', self.app_cfg, *args), cwd=self.root,
                                **kwargs)

    def record_partial(self, relpath: str, job_id='job1') -> None:
        """Records in locks_dir, as a killed run of the job does, that it was writing
        ``relpath`` (relative to the job's target directory): the next run takes that
        file for its own partial file (see filetransfer/journal.py)."""
        from filetransfer import config
        from filetransfer.run.journal import Journal

        job = config.load_job(config.load_app(self.app_cfg), job_id)
        with Journal(self.locks_dir, job_id) as journal:
            journal.writing(job.target.describe(), relpath)

    def log_files(self, job_id='job1') -> list[str]:
        folder = os.path.join(self.log_dir, job_id)
        if not os.path.isdir(folder):
            return []
        return sorted(os.path.join(folder, name) for name in os.listdir(folder))

    def log_text(self, job_id='job1') -> str:
        return ''.join(open(path, encoding='utf-8').read() for path in self.log_files(job_id))
