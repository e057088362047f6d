"""Start-up: `filetransfer -V` and a job whose ready file is missing load only what
they need. The heavy modules (protocols, mail, daemon, locks) are imported by the
code that uses them, when it runs."""

import ast
import importlib.metadata
import os
import subprocess
import sys
from urllib.parse import quote

import filetransfer
from helpers import command_argv, write_ini
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
        ws.write_app(extra={'global': {'state_db': state_db}} if state_db else None)
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
