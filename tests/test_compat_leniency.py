"""Values FileTransfer 0.11 took leniently are taken the same way (an unknown log
level is INFO, any text is a lock name, a negative number is 0, an option of another
host type is ignored), each with a WARNING in the run's log and a problem line in
`filetransfer check` (which then exits 3)."""

import os
import subprocess

import pytest

from helpers import command_argv, make_files, tree
from remote import ftp_host, sftp_host, write_hosts


def check(ws):
    return subprocess.run(command_argv('check', '-c', ws.app_cfg), capture_output=True,
                          text=True, timeout=120, cwd=ws.root)


def run_ok(ws, *args):
    done = ws.run(*args, 'job1')
    assert done.returncode == 0, done.stderr
    return done


# -- log_level ------------------------------------------------------------------------

@pytest.mark.parametrize('value', ['verbose', '10', '40', 'WARN', 'FATAL', ''])
def test_an_unknown_log_level_is_info(ws, value):
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_app(logging={'log_dir': ws.log_dir, 'log_level': value})
    ws.write_job()
    run_ok(ws)
    log = ws.log_text()
    assert 'INFO     job job1 (job1) started' in log and ' DEBUG ' not in log
    assert (f"WARNING  {ws.app_cfg}: [logging] log_level: not a log level (DEBUG, INFO, "
            f"WARNING, ERROR, CRITICAL or NOTSET): INFO is used (value '{value}')") in log
    done = check(ws)
    assert done.returncode == 3
    assert f'{ws.app_cfg}: [logging] log_level: not a log level' in done.stdout


def test_an_unknown_job_log_level_is_info_whatever_the_application_says(ws):
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_app(logging={'log_dir': ws.log_dir, 'log_level': 'ERROR'})
    ws.write_job(job={'log_level': 'bogus'})
    run_ok(ws)
    assert 'INFO     transferred a.txt' in ws.log_text()
    ws.write_job('job2', job={'log_level': 'debug'})     # names in any case
    assert ws.run('job2').returncode == 0
    assert ' DEBUG ' in ws.log_text('job2') and 'WARNING' not in ws.log_text('job2')


# -- single_instance ----------------------------------------------------------------

def test_any_text_is_a_lock_name(ws):
    from filelock import FileLock

    make_files(ws.src, {'a.txt': 'A'})
    job_path = ws.write_job(job={'single_instance': 'nightly batch'})
    lock = os.path.join(ws.locks_dir, 'nightly batch.lock')
    os.makedirs(ws.locks_dir)
    with FileLock(lock, timeout=0):       # another run holds it
        done = ws.run('-v', 'job1')
        assert done.returncode == 0 and tree(ws.dst) == {}
        assert done.stderr.startswith('SingleInstanceError: ')
    run_ok(ws)
    assert tree(ws.dst) == {'a.txt': b'A'} and os.path.exists(lock)
    assert (f"WARNING  {job_path}: [job] single_instance: a lock name with other characters "
            "than letters, digits, _ . -: the lock file is 'nightly batch.lock' in "
            "locks_dir (value 'nightly batch')") in ws.log_text()
    assert f'{job_path}: [job] single_instance: a lock name' in check(ws).stdout


@pytest.mark.parametrize('value,lock_file', [('x.lock', 'x.lock.lock'), ('a/b', 'a/b.lock')])
def test_lock_names_are_file_names_in_locks_dir(ws, value, lock_file):
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job(job={'single_instance': value})
    run_ok(ws)
    assert os.path.isfile(os.path.join(ws.locks_dir, lock_file))


def test_a_lock_name_leaving_locks_dir_is_refused(ws):
    job_path = ws.write_job(job={'single_instance': '../x'})
    done = ws.run('job1')
    assert done.returncode == 3
    assert f'{job_path}: [job] single_instance: expected yes/no or a lock name inside' \
        in done.stderr


# -- negative numbers ---------------------------------------------------------------

def test_negative_timeout_and_keep_alive_are_0(ws, ftp_server):
    server = ftp_server()
    make_files(ws.src, {'a.txt': 'A'})
    write_hosts(ws, srv=ftp_host(server, timeout='-5', keep_alive='-1'))
    ws.write_job(target={'host_id': 'srv', 'path': '/'})
    run_ok(ws)
    assert tree(server.home) == {'a.txt': b'A'}
    assert not any(command.startswith('NOOP') for command in server.commands())
    log = ws.log_text()
    for option, value in (('timeout', '-5'), ('keep_alive', '-1')):
        assert (f"WARNING  {ws.hosts_cfg}: [srv] {option}: not a number >= 0: counts as 0 "
                f"(none) (value '{value}')") in log
    done = check(ws)
    assert done.returncode == 3
    assert f'{ws.hosts_cfg}: [srv] timeout: not a number >= 0' in done.stdout
    assert f'{ws.hosts_cfg}: [srv] keep_alive: not a number >= 0' in done.stdout


def test_negative_retries_is_one_try(ws):
    from servers.common import free_port

    write_hosts(ws, srv={'type': 'FTP', 'host': f'127.0.0.1:{free_port()}', 'user': 'u',
                         'password': 'p', 'timeout': '10'})
    job_path = ws.write_job(job={'retries': '-3'}, target={'host_id': 'srv'})
    done = ws.run('job1')
    assert done.returncode == 2
    log = ws.log_text()
    assert 'trying again' not in log and 'try 1 of' not in log
    assert (f"WARNING  {job_path}: [job] retries: a negative number counts as 0 "
            "(value '-3')") in log


# -- options of another host type ----------------------------------------------------

def test_sftp_options_of_an_ftp_host_are_ignored(ws, ftp_server):
    server = ftp_server()
    make_files(ws.src, {'a.txt': 'A'})
    write_hosts(ws, srv=ftp_host(server, key_file='/nonexistent/key',
                                 known_hosts='/nonexistent', key_pass='x'))
    ws.write_job(target={'host_id': 'srv', 'path': '/'})
    run_ok(ws)
    assert tree(server.home) == {'a.txt': b'A'}
    log = ws.log_text()
    for option in ('key_file', 'known_hosts', 'key_pass'):
        assert (f'WARNING  {ws.hosts_cfg}: [srv] {option}: does not apply to a host of '
                'type FTP; ignored') in log
    done = check(ws)
    assert done.returncode == 3
    assert done.stdout.count('does not apply to a host of type FTP') == 3


def test_ftp_options_of_an_sftp_host_are_ignored(ws, live_sshd, tmp_path):
    make_files(ws.src, {'a.txt': 'A'})
    write_hosts(ws, srv=sftp_host(live_sshd, passive_mode='no', dir_a_option='no',
                                  keep_alive='5'))
    ws.write_job(target={'host_id': 'srv', 'path': str(tmp_path / 'remote')})
    run_ok(ws)
    assert tree(tmp_path / 'remote') == {'a.txt': b'A'}
    assert (f'WARNING  {ws.hosts_cfg}: [srv] passive_mode: does not apply to a host of '
            'type SFTP; ignored') in ws.log_text()


def test_options_of_another_type_from_default_are_no_warning(ws, ftp_server):
    server = ftp_server()
    make_files(ws.src, {'a.txt': 'A'})
    section = ftp_host(server)
    ws_hosts = '[DEFAULT]\nknown_hosts = /etc/ssh/known\n[srv]\n' + ''.join(
        f'{name} = {value}\n' for name, value in section.items())
    with open(ws.hosts_cfg, 'w') as fh:
        fh.write(ws_hosts)
    ws.write_job(target={'host_id': 'srv', 'path': '/'})
    run_ok(ws)
    assert 'does not apply' not in ws.log_text()
    assert check(ws).returncode == 0


def test_a_value_of_the_wrong_type_is_still_an_error(ws):
    write_hosts(ws, srv={'type': 'FTP', 'host': 'h', 'user': 'u', 'password': 'p',
                         'key_type': 'XYZ'})
    ws.write_job(target={'host_id': 'srv'})
    done = ws.run('job1')
    assert done.returncode == 3
    assert f'{ws.hosts_cfg}: [srv] key_type: expected one of RSA' in done.stderr
