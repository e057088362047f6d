"""The command line of FileTransfer 0.11: long options and their unambiguous
prefixes, the output of -v for every outcome, -k's question, no configuration."""

import base64
import hashlib
import os
import signal
import subprocess

import pytest
from filelock import FileLock

from helpers import command_argv, make_files, tree
from procs import wait_for

COUNTS = 'Job finished: {} file(s) transferred, {} source error(s), {} target error(s)\n'


def run(*args, answer='', env=None, cwd=None):
    return subprocess.run(command_argv(*args), capture_output=True, text=True, timeout=120,
                          input=answer, env=env, cwd=cwd)


# -- long options and prefixes ---------------------------------------------------------

@pytest.mark.parametrize('args', [
    ['--config', '{cfg}', 'job1'], ['--config={cfg}', 'job1'], ['--conf', '{cfg}', 'job1'],
    ['--c', '{cfg}', 'job1'], ['job1', '-c', '{cfg}'], ['-c{cfg}', 'job1'],
    ['--verb', '--conf={cfg}', 'job1'],
])
def test_config_option_forms(ws, args):
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job()
    done = run(*(arg.format(cfg=ws.app_cfg) for arg in args), cwd=ws.root)
    assert done.returncode == 0, done.stderr
    assert tree(ws.dst) == {'a.txt': b'A'}


@pytest.mark.parametrize('args,text', [
    (['--ver', '-c', 'x', 'job1'], 'option --ver is ambiguous: --verbose, --version'),
    (['-vvv', '-c', 'x', 'job1'], '-v is given once or twice'),
    (['-c', 'x', '-c', 'y', 'job1'], '-c is given more than once'),
    (['--c=x', '--config', 'y', 'job1'], '-c is given more than once'),
])
def test_usage_errors(args, text):
    done = run(*args)
    assert done.returncode == 4
    assert text in done.stderr and 'Traceback' not in done.stderr


def test_help_and_version_exit_0():
    assert run('--he').returncode == 0 and '--hostkey' in run('-h').stdout
    assert run('-V').returncode == 0


def test_missing_configuration_is_a_configuration_error(ws):
    env = {name: value for name, value in os.environ.items() if name != 'FILETRANSFER_CFG'}
    done = run('job1', env=env)
    assert (done.returncode, done.stdout) == (3, '')
    done = run('-v', 'job1', env={**env, 'FILETRANSFER_CFG': ''})
    assert done.returncode == 3
    assert done.stderr.startswith('ConfigError: no application configuration')


# -- -v ----------------------------------------------------------------------------------

def test_verbose_success_and_file_errors(ws):
    make_files(ws.src, {'a.txt': 'A', 'b.txt': 'B'})
    ws.write_job()
    assert ws.run('job1').stdout == ''
    done = ws.run('-v', 'job1')
    assert (done.returncode, done.stdout, done.stderr) == (0, COUNTS.format(2, 0, 0), '')
    make_files(ws.src, {'c.txt': 'C'})
    os.makedirs(os.path.join(ws.dst, 'c.txt'))      # a directory where the file goes
    done = ws.run('-v', 'job1')
    assert (done.returncode, done.stdout, done.stderr) == (1, COUNTS.format(2, 0, 1), '')


def test_verbose_failure(ws):
    ws.write_job(source={'path': os.path.join(ws.root, 'nosuch')})
    done = ws.run('-v', 'job1')
    assert (done.returncode, done.stdout) == (2, COUNTS.format(0, 0, 0))
    assert done.stderr.startswith('TransferError: source directory ')
    done = ws.run('-vv', 'job1')
    assert done.stdout == COUNTS.format(0, 0, 0)
    assert done.stderr.startswith('Traceback (most recent call last):')
    assert done.stderr.splitlines()[-1].startswith('filetransfer.errors.TransferError: ')


def test_verbose_configuration_error_not_ready_and_already_running(ws):
    ws.write_job(source={'recursive': 'maybe'})
    done = ws.run('-v', 'job1')
    assert (done.returncode, done.stdout) == (3, '')
    assert done.stderr.startswith('ConfigError: ')
    ws.write_job(job={'ready_file': 'READY'})
    done = ws.run('-v', 'job1')
    assert (done.returncode, done.stdout) == (0, '')
    assert done.stderr.startswith('NotReadyError: ')
    ws.write_job(job={'single_instance': 'yes'})
    os.makedirs(ws.locks_dir, exist_ok=True)
    with FileLock(os.path.join(ws.locks_dir, 'job1.lock'), timeout=0):
        done = ws.run('-v', 'job1')
    assert (done.returncode, done.stdout) == (0, '')
    assert done.stderr.startswith('SingleInstanceError: ')


def test_verbose_terminated(ws):
    ws.write_job(job={'retries': '5'}, source={'path': os.path.join(ws.root, 'later')})
    proc = ws.popen('-v', 'job1', stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: 'trying again in 2 s' in ws.log_text(), proc=proc)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 5
    assert out == COUNTS.format(0, 0, 0)
    assert err.strip().splitlines()[-1] == 'Terminated: terminated by signal SIGTERM'


# -- -k and -d -------------------------------------------------------------------------

def chosen_key(known):
    """(type, blob) of the one key -k wrote."""
    [line] = [line for line in known.read_text().splitlines() if not line.startswith('#')]
    keytype, blob = line.split()[1:3]
    return keytype, base64.b64decode(blob)


def test_hostkey_question_and_fingerprints(live_sshd, tmp_path):
    known = tmp_path / 'kh'
    args = ('--hostkey', '--port', str(live_sshd.port), '127.0.0.1', str(known))
    done = run(*args, answer='no\n')
    assert (done.returncode, known.exists()) == (0, False)
    assert 'Fingerprints:\n MD5: ' in done.stdout and '\n SHA256: ' in done.stdout
    assert done.stdout.endswith(f'Save this key to file "{known}" (yes/no)? ')
    done = run(*args)                               # end of input: nothing written
    assert (done.returncode, known.exists()) == (2, False)
    done = run(*args, answer='y\nyes\n')
    assert done.returncode == 0
    assert done.stdout.count('Type "yes" or "no"!\n') == 1
    keytype, blob = chosen_key(known)
    kind = keytype.split('-', 1)[1].upper()
    md5 = ':'.join(f'{byte:02x}' for byte in hashlib.md5(blob).digest())
    sha = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip('=')
    assert done.stdout.startswith(f'{kind} (')
    assert f') Fingerprints:\n MD5: {md5}\n SHA256: {sha}\nSave this key' in done.stdout
    done = run(*args, answer='YES\n')
    assert done.stdout.endswith(f'Key for "[127.0.0.1]:{live_sshd.port}" exists in file '
                                f'"{known}"\n')


def test_hostkey_hashed_and_delete_keep_other_lines(live_sshd, tmp_path):
    known = tmp_path / 'kh'
    other = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBSM7BMG9G9Wn0q1bWnF8r1ZqH0GbL/TL0DJ2SxUk1Dp'
    kept = f'# comment\n@cert-authority *.example.com {other}\n'
    known.write_text(kept + f'other.example.com,10.0.0.1 {other}\n')
    done = run('-k', '--hash', '-p', str(live_sshd.port), '127.0.0.1', str(known),
               answer='yes\n')
    assert done.returncode == 0, done.stderr
    lines = known.read_text().splitlines()
    assert known.read_text().startswith(kept) and lines[-1].startswith('|1|')
    done = run('--delete', 'other.example.com', str(known))
    assert (done.returncode, done.stdout) == (
        0, f'Key for "other.example.com" deleted in file "{known}"\n')
    assert known.read_text().startswith(kept + f'10.0.0.1 {other}\n')


@pytest.mark.parametrize('port', ['abc', '70000'])
def test_a_bad_port_cannot_connect(port, tmp_path):
    done = run('-k', '-p', port, '127.0.0.1', str(tmp_path / 'kh'))
    assert done.returncode == 2
    assert f"not a valid port number: '{port}'" in done.stderr
