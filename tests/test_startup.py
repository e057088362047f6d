"""Start-up: `filetransfer -V` and a job whose ready file is missing load only what
they need. The heavy modules (protocols, mail, daemon, locks) are imported by the
code that uses them, when it runs."""

import ast
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from urllib.parse import quote

import pytest

import filetransfer
from helpers import command_argv, make_files, write_ini
from servers.common import free_port

HEAVY = ('paramiko', 'cryptography', 'ftplib', 'smtplib', 'email', 'ssl', 'socket',
         'daemon', 'filelock', 'faspmanager', 'importlib.metadata', 'hashlib', 'tempfile',
         'logging.handlers', 'filetransfer.notify.mail', 'filetransfer.notify.template',
         # ping, webhook, metrics, JSON logs, before/after commands
         'json', 'urllib.request', 'http.client', 'subprocess', 'selectors', 'shlex',
         'filetransfer.notify.dispatch', 'filetransfer.notify.http', 'filetransfer.notify.ping',
         'filetransfer.notify.webhook', 'filetransfer.notify.metrics', 'filetransfer.run.hooks',
         'sqlite3', 'psycopg', 'filetransfer.state')

# Runs the console script in this interpreter, then tells its exit code and which
# of the modules asked about it has loaded.
PROBE = '''
import runpy, sys
script, names = sys.argv[1], sys.argv[2].split(",")
sys.argv = [script] + sys.argv[3:]
try:
    runpy.run_path(script, run_name="__main__")
    code = None
except SystemExit as exc:
    code = exc.code
print(repr((code, sorted(name for name in names if name in sys.modules))))
'''


def _run_probe(*args, names=HEAVY, cwd=None):
    """(exit code, the modules of ``names`` loaded) of the command run with ``args``."""
    script = command_argv()[0]
    assert script != sys.executable, 'the filetransfer console script is not installed'
    done = subprocess.run([sys.executable, '-c', PROBE, script, ','.join(names), *args],
                          capture_output=True, text=True, cwd=cwd, timeout=60)
    assert done.returncode == 0, done.stderr
    return ast.literal_eval(done.stdout.splitlines()[-1])


def _not_ready_job(ws, **source):
    ws.write_job(job={'ready_file': 'go.now'}, source=source)


LIBRARY = ('filetransfer.outcome', 'filetransfer.config',
           'filetransfer.run', 'filetransfer.endpoints', 'filetransfer.notify',
           'filetransfer.service')
# What a job whose local ready file is missing ends without: the modules of a run,
# logging, the endpoints and the protocols' options.
RUN = ('logging', 'filetransfer.logs', 'filetransfer.outcome', 'filetransfer.run.job',
       'filetransfer.run.copier', 'filetransfer.run.journal', 'filetransfer.run.locks',
       'filetransfer.run.ledger', 'filetransfer.cli.progress', 'filetransfer.endpoints.base',
       'filetransfer.endpoints.local', 'filetransfer.endpoints.ftp',
       'filetransfer.endpoints.sftp', 'filetransfer.endpoints.fasp', 'shutil')


def test_version_loads_not_even_the_library():
    """The command lives in the package (filetransfer.cli), whose names load lazily."""
    code, loaded = _run_probe('-V', names=HEAVY + LIBRARY)
    assert (code, loaded) == (0, [])


def test_python_m_filetransfer_is_the_command():
    done = subprocess.run([sys.executable, '-m', 'filetransfer', '-V'], capture_output=True,
                          text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, f'filetransfer {filetransfer.__version__}\n')


def test_version_is_the_package_version():
    done = subprocess.run(command_argv('-V'), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert done.stdout == f'filetransfer {filetransfer.__version__}\n'
    assert filetransfer.__version__ == importlib.metadata.version('filetransfer')


def test_job_not_ready_loads_nothing_heavy(ws):
    _not_ready_job(ws)
    code, loaded = _run_probe('-c', ws.app_cfg, 'job1', cwd=ws.root)
    assert (code, loaded) == (0, [])
    assert not os.path.exists(ws.dst)


def test_job_not_ready_ends_before_the_modules_of_a_run(ws):
    _not_ready_job(ws)
    code, loaded = _run_probe('-c', ws.app_cfg, 'job1', names=RUN, cwd=ws.root)
    assert (code, loaded) == (0, [])


def test_job_not_ready_writes_nothing(ws):
    """No log directory, lock file or record of files being written: the ready
    file is looked at before the lock (another instance holding it changes nothing:
    a job that is not ready does nothing either way)."""
    ws.write_job(job={'ready_file': 'go.now', 'single_instance': 'yes'})
    done = ws.run('-v', 'job1')
    assert (done.returncode, done.stderr) == (0, 'NotReadyError: ready file go.now not present\n')
    assert sorted(os.listdir(ws.root)) == ['filetransfer.cfg', 'jobs', 'src']


def test_job_not_ready_through_the_library_takes_no_lock(ws):
    from filetransfer import NotReadyError, configure

    ws.write_job(job={'ready_file': 'go.now', 'single_instance': 'yes'})
    ws.write_app(logging={'disabled': 'yes'})
    run, _ = configure(ws.app_cfg, 'job1')
    with pytest.raises(NotReadyError, match='ready file go.now not present'):
        run()
    assert not os.path.exists(ws.locks_dir)


def test_job_not_ready_json_status(ws):
    _not_ready_job(ws)
    done = ws.run('--json', 'job1')
    assert done.returncode == 0
    assert json.loads(done.stdout) == {'job_id': 'job1', 'status': 'not_ready', 'exit_code': 0,
                                       'error': 'ready file go.now not present'}


def test_missing_source_directory_with_a_ready_file_is_a_failure(ws):
    """Only the run can say that the source directory is missing: exit 2, not 0."""
    _not_ready_job(ws, path=os.path.join(ws.root, 'no-such-dir'))
    done = ws.run('-v', 'job1')
    assert done.returncode == 2
    assert 'no-such-dir does not exist' in done.stderr


def test_broken_job_without_its_ready_file_is_a_configuration_error(ws):
    ws.write_job(job={'ready_file': 'go.now', 'retries': 'many'})
    done = ws.run('job1')
    assert done.returncode == 3
    assert "[job] retries: expected a whole number >= 0, got 'many'" in done.stderr
    assert len(ws.log_files()) == 1        # logged (and notified) as before


def test_a_ready_file_with_a_nul_character_is_a_configuration_error(ws):
    ws.write_job(job={'ready_file': 'go\0now'})
    done = ws.run('job1')
    assert done.returncode == 3
    assert '[job] ready_file: expected a path without NUL characters' in done.stderr


@pytest.mark.parametrize('kind', ['directory', 'link to a file'])
def test_a_ready_file_that_is_not_a_regular_file(ws, kind):
    """As the run sees it: a directory is no ready file, a link to a file is one."""
    if kind == 'directory':
        os.mkdir(os.path.join(ws.src, 'go.now'))
    else:
        make_files(ws.root, {'elsewhere/flag': ''})
        os.symlink(os.path.join(ws.root, 'elsewhere', 'flag'), os.path.join(ws.src, 'go.now'))
    make_files(ws.src, {'a.txt': 'A'})
    _not_ready_job(ws)
    done = ws.run('job1')
    assert done.returncode == 0
    assert os.path.exists(os.path.join(ws.dst, 'a.txt')) == (kind != 'directory')


def test_job_not_ready_with_every_observability_option_loads_nothing_heavy(ws):
    """Ping, webhook, metrics, JSON logs and the before/after commands are loaded once
    the job runs; only shlex, which checks a command line when the job file is read (a
    broken one is a configuration error), comes earlier."""
    os.makedirs(os.path.join(ws.root, 'metrics'))
    ws.write_app({'global': {'metrics_dir': 'metrics'},
                  'notify': {'ping_url': 'https://hc.example.com/ping/{job_id}',
                             'webhook_url': 'https://chat.example.com/hooks/x',
                             'webhook_format': 'text'}},
                 logging={'log_dir': ws.log_dir, 'format': 'json'})
    ws.write_job(job={'ready_file': 'go.now', 'before': 'true', 'after': 'true'})
    code, loaded = _run_probe('-c', ws.app_cfg, 'job1', cwd=ws.root)
    assert (code, loaded) == (0, ['shlex'])
    assert not os.path.exists(ws.dst) and ws.log_files() == []


def test_single_instance_job_not_ready_takes_no_lock_and_loads_no_database(ws, tmp_path):
    """A timer polling a single_instance job whose local ready file is missing: no
    lock is taken, so neither the lock file nor a state database is touched."""
    nowhere = quote(str(tmp_path / 'no-server'), safe='')
    for state_db in (None, f'postgresql://nobody@{nowhere}/nothing'):
        # '%%': the files are read with interpolation
        ws.write_app(extra={'global': {'state_db': state_db.replace('%', '%%')}}
                     if state_db else None)
        ws.write_job(job={'ready_file': 'go.now', 'single_instance': 'yes'})
        code, loaded = _run_probe('-c', ws.app_cfg, 'job1', cwd=ws.root)
        assert (code, loaded) == (0, [])
        assert not os.path.exists(ws.locks_dir)


def test_probe_sees_what_a_run_imports(ws):
    """The protocol of a job's source is imported once the job connects to it."""
    write_ini(ws.hosts_cfg, {'ftp': {'type': 'FTP', 'host': f'127.0.0.1:{free_port()}',
                                     'user': 'u', 'password': 'p'}})
    _not_ready_job(ws, host_id='ftp')
    code, loaded = _run_probe('-c', ws.app_cfg, 'job1', cwd=ws.root)
    assert code == 2 and 'ftplib' in loaded


def test_the_registry_names_every_section_a_protocol_adds():
    """The loader imports a protocol's package only when the application file has
    its section: the registry must know every such section by name."""
    import importlib

    from filetransfer.endpoints import registry

    declared = set()
    for package in ('ftp', 'sftp', 'fasp'):
        module = importlib.import_module(f'filetransfer.endpoints.{package}')
        declared.update(getattr(module, 'APP_SECTIONS', {}))
    assert set(registry.app_section_names()) == declared
    assert set(registry.app_sections()) == declared


def test_a_protocol_section_is_checked_when_present_and_has_defaults_when_not(ws):
    from filetransfer import ConfigError, config

    app = config.load_app(ws.app_cfg)
    assert app.protocol_sections['sftp'].known_hosts is None      # made when asked for
    ws.write_app({'sftp': {'known_host': '/kh'}})
    with pytest.raises(ConfigError, match=r"\[sftp\] known_host: unknown option \(did you "
                                          r"mean 'known_hosts'"):
        config.load_app(ws.app_cfg)
    ws.write_app({'sftpp': {'known_hosts': '/kh'}})
    with pytest.raises(ConfigError, match=r"\[sftpp\]: unknown section \(did you mean 'sftp'"):
        config.load_app(ws.app_cfg)


def test_job_form_in_its_plain_spelling_loads_no_click(ws):
    """`filetransfer [-v] -c CONFIG JOBID`, as cron and timers run it, is read without
    click; help, abbreviations and the subcommands still load it."""
    _not_ready_job(ws)
    for args in (['-c', ws.app_cfg, 'job1'], ['-v', '--json', 'job1', '--config', ws.app_cfg],
                 ['-V']):
        assert _run_probe(*args, names=('click',), cwd=ws.root) == (0, [])
    assert _run_probe('--conf', ws.app_cfg, 'job1', names=('click',), cwd=ws.root) == \
        (0, ['click'])


@pytest.mark.parametrize('options', [[], ['-v'], ['-vv'], ['--json']])
def test_job_form_reads_as_click_reads_it(ws, options):
    """The same command line in the plain spelling and with `--` before JOBID (which
    only click reads): the same exit code, stdout and stderr, for a job not ready, a
    broken job, no configuration, a run that succeeds and one with a file error."""
    def compare(*args, env=None):
        outcomes = []
        for marker in ([], ['--']):
            shutil.rmtree(ws.dst, ignore_errors=True)
            if os.path.exists(os.path.join(ws.src, 'c.txt')):    # a file error: a directory
                os.makedirs(os.path.join(ws.dst, 'c.txt'))      # stands in its way
            done = subprocess.run(command_argv(*options, *args[:-1], *marker, args[-1]),
                                  capture_output=True, text=True, cwd=ws.root, env=env,
                                  timeout=120)
            outcomes.append(_without_times((done.returncode, done.stdout, done.stderr)))
        assert outcomes[0] == outcomes[1]
        return outcomes[0][0]

    _not_ready_job(ws)
    assert compare('-c', ws.app_cfg, 'job1') == 0
    ws.write_job(job={'ready_file': 'go.now', 'retries': 'many'})
    assert compare('-c', ws.app_cfg, 'job1') == 3
    env = {name: value for name, value in os.environ.items() if name != 'FILETRANSFER_CFG'}
    assert compare('job1', env=env) == 3
    make_files(ws.src, {'a.txt': 'A', 'b.txt': 'B'})
    ws.write_job()
    assert compare('job1', env={**env, 'FILETRANSFER_CFG': ws.app_cfg}) == 0
    make_files(ws.src, {'c.txt': 'C'})
    assert compare('-c', ws.app_cfg, 'job1') == 1


def _without_times(outcome: tuple) -> tuple:
    """A command's (exit code, stdout, stderr) but the times and log file of a run
    in its JSON."""
    code, stdout, stderr = outcome
    try:
        data = json.loads(stdout)
    except ValueError:
        return outcome
    data.pop('log_file', None)
    for name in ('started', 'ended', 'duration'):
        data.pop(name, None)
    for record in data.get('files', []):
        record.pop('duration', None)
    return code, data, stderr


def test_a_job_loads_only_the_protocol_of_its_host(ws):
    """Reading an SFTP host of the hosts file loads neither FTP's nor FASP's package,
    unless the section has an option of theirs (checked, then ignored) or the file
    [DEFAULT] values."""
    others = ('filetransfer.endpoints.ftp', 'filetransfer.endpoints.fasp')
    host = {'type': 'SFTP', 'host': '127.0.0.1', 'user': 'u', 'password': 'p',
            'known_hosts': os.path.join(ws.root, 'known_hosts')}
    write_ini(ws.hosts_cfg, {'sftp': host})
    _not_ready_job(ws)
    ws.write_job(job={'ready_file': 'go.now'}, target={'host_id': 'sftp', 'path': '/in'})
    assert _run_probe('-c', ws.app_cfg, 'job1', names=others, cwd=ws.root) == (0, [])
    write_ini(ws.hosts_cfg, {'sftp': {**host, 'passive_mode': 'yes'}})
    assert _run_probe('-c', ws.app_cfg, 'job1', names=others, cwd=ws.root) == (0, sorted(others))


@pytest.mark.parametrize('args', [['-V'], ['--json', 'job1']])
def test_output_into_a_closed_pipe_ends_as_with_click(ws, args):
    """The reader of stdout has gone: exit code 1 and nothing on stderr, as click's
    command ends, in the plain spelling too."""
    _not_ready_job(ws)
    for spelling in (args, [*args[:-1], '--', args[-1]] if len(args) > 1 else ['--vers']):
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            done = subprocess.run(command_argv('-c', ws.app_cfg, *spelling)
                                  if len(args) > 1 else command_argv(*spelling),
                                  stdout=write_end, stderr=subprocess.PIPE, text=True,
                                  cwd=ws.root, timeout=60)
        finally:
            os.close(write_end)
        assert (done.returncode, done.stderr) == (1, ''), spelling


def test_sftp_defers_paramikos_invoke_until_it_is_used():
    """paramiko imports invoke, which the SFTP endpoint never uses: it is loaded only
    when used (here by an ssh_config `Match exec`), and then works as imported."""
    pytest.importorskip('invoke')
    code = '''
import sys
import filetransfer.endpoints.sftp.endpoint
import paramiko
print(sorted(name for name in sys.modules if name.startswith("invoke.")))
config = paramiko.SSHConfig.from_text('Match exec "true"\\n  User matched\\n')
print(config.lookup("example.com").get("user"))
import invoke.tasks
print(invoke.tasks.Task.__name__, callable(invoke.run))
'''
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ['[]', 'matched', 'Task True']
