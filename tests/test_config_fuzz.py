"""Property-based tests (hypothesis) that mutate a valid set of configuration files:
loading them raises ConfigError or succeeds, never anything else, and the command
exits 0-3 without a traceback. Examples are derandomized (the same on every run)
and bounded in number, so the suite stays fast and deterministic.

Mutated values never hold '/', '\\' or '..', and the command runs in a temp
directory: whatever a mutation makes of a path, it stays inside that directory."""

import os
import signal
import subprocess
import tempfile

from hypothesis import HealthCheck, given, settings, strategies as st

from filetransfer import ConfigError, config
from filetransfer.service.check import check
from filetransfer.config import schema
from filetransfer.endpoints import registry
from helpers import command_argv, examples

def fuzz(count: int):
    return settings(derandomize=True, database=None, deadline=None,
                    max_examples=examples(count), suppress_health_check=[HealthCheck.too_slow])

ODD_VALUES = ['\x00', 'nul\x00byte', '', ' ', 'yes', 'no', 'maybe', 'YES', '0', '-1', '1e400', 'inf', 'nan', '-inf',
              '0x10', '\u0663', '1_000', ' 7 ', '3.5', '65536', '99999999999999999999', 'dot',
              'ext:', 'ext:.x', 'dir:', 'dir:sub', 'dir:.', 'SFTP', 'FTP', 'FTPS', 'FASP', 'LOCAL',
              'RSA', 'DSA', 'Ed25519', 'DEBUG', 'LOUD', '%(message)s', '%(nope)s', '%', '%%',
              '*', '*.txt, ', ',', ' , ', 'a@b', 'not an address', 'srv', 'local-srv', 'h:1',
              'h:0', 'h:99999', '[::1]:22', '[::1', 'x:y:z', 'é', 'a\x00', 'app.cfg', 'jobs',
              '\u2028', 'default', 'brief', 'job1', '*,job1', 'STARTTLS']
ODD = st.sampled_from(ODD_VALUES)
VALUES = st.one_of(
    ODD, ODD,
    st.text(alphabet=st.characters(blacklist_characters='/\\\n\r',
                                   blacklist_categories=('Cs',)), max_size=12),
).filter(lambda value: '..' not in value)

APP_OPTIONS = {section: list(schema.options_of(cls)) for section, cls
               in {**schema.APP_SECTIONS, **registry.app_sections()}.items()}
JOB_OPTIONS = {section: list(schema.options_of(cls)) for section, cls in schema.JOB_SECTIONS.items()}
HOST_OPTIONS = sorted({name for protocol in registry.protocols()
                       for name in schema.options_of(protocol.host_class)})


def base_files(root: str) -> dict:
    """{file name: {section: {option: value}}}: a valid set (local job, hosts of
    every type that refer to nothing outside ``root``)."""
    return {
        'app.cfg': {
            'global': {'jobs_dir': 'jobs', 'hosts_cfg': 'hosts.cfg', 'locks_dir': 'locks',
                       'collect_data': 'yes'},
            'logging': {'log_dir': 'logs', 'log_level': 'INFO'},
            'notify': {'mail_cfg': 'default'},
        },
        'jobs/job1.cfg': {
            'job': {'name': 'fuzzed', 'single_instance': 'yes', 'retries': '0'},
            'source': {'path': 'src', 'files': '*.txt', 'recursive': 'yes'},
            'target': {'path': 'dst', 'temp': 'dot'},
        },
        'hosts.cfg': {
            'sftp-srv': {'type': 'SFTP', 'host': '127.0.0.1:1', 'user': 'u',
                         'password': 'secret', 'known_hosts': 'known_hosts', 'timeout': '1'},
            'ftp-srv': {'type': 'FTPS', 'host': '127.0.0.1:1', 'user': 'u', 'password': 'pw',
                        'timeout': '1', 'keep_alive': '0'},
            'fasp-srv': {'type': 'FASP', 'host': '127.0.0.1:1', 'user': 'u',
                         'password': 'pw', 'resume': 'sparse', 'timeout': '1'},
        },
    }


def render(sections: dict) -> str:
    lines = []
    for section, options in sections.items():
        lines.append(f'[{section}]')
        lines.extend(f'{name} = {value}' for name, value in options.items())
        lines.append('')
    return '\n'.join(lines)


KNOWN = {   # file -> every (section, option) its schema knows
    'app.cfg': [(section, option) for section, options in APP_OPTIONS.items()
                for option in options],
    'jobs/job1.cfg': [(section, option) for section, options in JOB_OPTIONS.items()
                      for option in options],
    'hosts.cfg': [(host, option) for host in ('sftp-srv', 'ftp-srv', 'fasp-srv')
                  for option in HOST_OPTIONS],
}
NAMES = st.text(alphabet='abcdefghijklmnopqrstuvwxyz_:', min_size=1, max_size=8)


@st.composite
def mutation(draw, files: tuple = ('app.cfg', 'jobs/job1.cfg', 'hosts.cfg'),
             known_only: bool = False):
    """One change to one file: (file, kind, details). With ``known_only`` the
    option changed is one the schema knows, and is set or dropped."""
    name = draw(st.sampled_from(files))
    kinds = ['set', 'set', 'set', 'drop option'] if known_only else \
        ['set', 'set', 'set', 'drop option', 'drop section', 'add section', 'text']
    kind = draw(st.sampled_from(kinds))
    known = st.sampled_from(KNOWN[name])
    section, option = draw(known if known_only else st.one_of(
        known, known, st.tuples(known.map(lambda pair: pair[0]), NAMES),
        st.tuples(st.text(max_size=6), NAMES)))
    if kind == 'text':
        return name, kind, (draw(st.sampled_from(['insert', 'truncate', 'duplicate'])),
                            draw(st.integers(0, 10_000)), draw(VALUES))
    return name, kind, (section, option, draw(VALUES))


def apply(files: dict, texts: dict, change) -> None:
    name, kind, details = change
    if kind == 'text':
        how, where, value = details
        text = texts.get(name, render(files[name]))
        lines = text.split('\n')
        at = where % (len(lines) + 1)
        if how == 'insert':
            lines.insert(at, value)
        elif how == 'truncate':
            lines = lines[:at]
        else:
            lines.insert(at, lines[at - 1] if at else '[global]')
        texts[name] = '\n'.join(lines)
        return
    section, option, value = details
    sections = files[name]
    if kind == 'set':
        sections.setdefault(section, {})[option] = value
    elif kind == 'drop option':
        sections.get(section, {}).pop(option, None)
    elif kind == 'drop section':
        sections.pop(section, None)
    else:
        sections.setdefault(section or 'x', {})


def write_all(root: str, changes) -> None:
    files, texts = base_files(root), {}
    for change in changes:
        apply(files, texts, change)
    for name, sections in files.items():
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w', encoding='utf-8', errors='surrogateescape') as fh:
            fh.write(texts.get(name, render(sections)))
    os.makedirs(os.path.join(root, 'src'), exist_ok=True)
    with open(os.path.join(root, 'src', 'a.txt'), 'w') as fh:
        fh.write('A')


def load_everything(root: str) -> None:
    """What a run and `check` read; only ConfigError may come out."""
    cwd = os.getcwd()
    os.chdir(root)
    try:
        try:
            app = config.load_app('app.cfg')
            config.load_job(app, 'job1')
            for host_id in ('sftp-srv', 'ftp-srv', 'fasp-srv'):
                config.load_host(app.global_.hosts_cfg or 'hosts.cfg', host_id, app)
        except ConfigError:
            pass
        check('app.cfg')
    finally:
        os.chdir(cwd)


def test_the_unmutated_files_are_valid(tmp_path):
    write_all(str(tmp_path), [])
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        app = config.load_app('app.cfg')
        config.load_job(app, 'job1')
        assert check('app.cfg').exit_code == 0
    finally:
        os.chdir(cwd)


@fuzz(1000)
@given(st.lists(mutation(), min_size=1, max_size=4))
def test_loading_mutated_files_raises_config_error_or_succeeds(changes):
    with tempfile.TemporaryDirectory() as root:
        write_all(root, changes)
        load_everything(root)


def run_command(root: str) -> tuple[int, str]:
    """The command in this process (fast enough for many examples): exit code, stderr."""
    import contextlib
    import io

    from filetransfer.cli.main import main

    stderr = io.StringIO()
    cwd = os.getcwd()
    handler = signal.getsignal(signal.SIGTERM)     # the command sets its own
    os.chdir(root)
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            try:
                main(['-v', '-c', 'app.cfg', 'job1'])
            except SystemExit as end:
                return end.code, stderr.getvalue()
    finally:
        os.chdir(cwd)
        signal.signal(signal.SIGTERM, handler)
    raise AssertionError('the command did not exit')


# A run connects to nothing but 127.0.0.1 and mails nobody: the hosts file and the
# [mail] section stay as they are.
RUN_FILES = ('app.cfg', 'jobs/job1.cfg')


@fuzz(1000)
@given(st.lists(mutation(files=RUN_FILES), min_size=1, max_size=3).filter(
    lambda changes: not any(change[2][0] == 'mail' for change in changes)))
def test_the_command_exits_0_to_3_without_a_traceback(changes):
    from filetransfer.run import job

    wait, job.retry_wait = job.retry_wait, lambda seconds: None   # retries without waiting
    try:
        with tempfile.TemporaryDirectory() as root:
            write_all(root, changes)
            code, stderr = run_command(root)
    finally:
        job.retry_wait = wait
    assert code in (0, 1, 2, 3), (changes, code, stderr)
    assert 'Traceback' not in stderr and 'internal error' not in stderr, (changes, stderr)


@fuzz(25)
@given(mutation(files=RUN_FILES, known_only=True).filter(lambda change: change[2][0] != 'mail'))
def test_the_installed_command_exits_0_to_3_without_a_traceback(change):
    """The same through the console script, one change at a time (a job that
    both retries and fails would wait)."""
    with tempfile.TemporaryDirectory() as root:
        write_all(root, [change])
        done = subprocess.run(command_argv('-v', '-c', 'app.cfg', 'job1'), cwd=root,
                              capture_output=True, text=True, timeout=60)
    assert done.returncode in (0, 1, 2, 3), (change, done.returncode, done.stderr)
    assert 'Traceback' not in done.stderr and 'internal error' not in done.stderr, \
        (change, done.stderr)
