"""Hostile configuration values through the real command: a log format that cannot
format a record, key, known-hosts and mail template files that are devices, FIFOs
or too large. Each is a clear error naming the file, never a hang or a traceback:
exit 3 when the loader sees it, exit 2 (a refused connection) when the key or the
known-hosts file is read on connecting."""

import os
import subprocess

import pytest

from helpers import command_argv, make_files, write_ini
from remote import write_hosts
from servers.common import free_port

TIMEOUT = 60    # only against a hang


@pytest.fixture
def odd_files(tmp_path):
    """name -> path: a FIFO, /dev/zero, a link to /dev/zero, a file of 1 MiB + 1 byte."""
    folder = tmp_path / 'odd'
    folder.mkdir()
    os.mkfifo(folder / 'fifo')
    os.symlink('/dev/zero', folder / 'zero-link')
    (folder / 'huge').write_bytes(b'#' * ((1 << 20) + 1))
    return {'fifo': str(folder / 'fifo'), 'zero': '/dev/zero',
            'zero-link': str(folder / 'zero-link'), 'huge': str(folder / 'huge')}


REASONS = {'fifo': 'not a regular file', 'zero': 'not a regular file',
           'zero-link': 'not a regular file', 'huge': 'larger than 1 MiB'}


def assert_refused(done, code, *texts):
    assert done.returncode == code, done.stdout + done.stderr
    output = done.stdout + done.stderr
    for text in texts:
        assert text in output
    assert 'Traceback' not in output


@pytest.mark.parametrize('msg_format', ['%(thread)c', '%(message)-99999999999s',
                                        '%(message).123456s', '%(message)99999s'])
def test_log_format_that_cannot_format_exits_3(ws, msg_format):
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_app(logging={'log_dir': ws.log_dir, 'msg_format': msg_format})
    ws.write_job()
    done = ws.run('job1', timeout=TIMEOUT)
    assert_refused(done, 3, f'{ws.app_cfg}: [logging] msg_format: expected a logging format')
    assert not os.path.exists(ws.dst)


def sftp_job(ws, **host):
    port = free_port()    # nothing listens: the files are read before connecting
    write_hosts(ws, srv={'type': 'SFTP', 'host': f'127.0.0.1:{port}', 'user': 'u',
                         'timeout': '30', **host})
    ws.write_job(target={'host_id': 'srv'})
    return f'SFTP 127.0.0.1:{port}'


@pytest.mark.parametrize('kind', list(REASONS))
def test_key_file_that_is_no_small_regular_file_refuses_the_connection(ws, odd_files, kind,
                                                                       tmp_path):
    known_hosts = tmp_path / 'known_hosts'
    known_hosts.write_text('')
    where = sftp_job(ws, key_file=odd_files[kind], known_hosts=str(known_hosts))
    done = ws.run('job1', timeout=TIMEOUT)
    assert_refused(done, 2)
    assert (f'{where}: cannot read key file {odd_files[kind]}: {REASONS[kind]}'
            in ws.log_text())


@pytest.mark.parametrize('kind', list(REASONS))
def test_known_hosts_that_is_no_small_regular_file_refuses_the_connection(ws, odd_files, kind):
    where = sftp_job(ws, password='p', known_hosts=odd_files[kind])
    done = ws.run('job1', timeout=TIMEOUT)
    assert_refused(done, 2)
    assert (f'{where}: cannot read known_hosts file {odd_files[kind]}: {REASONS[kind]}'
            in ws.log_text())


def mail_job(ws, folder, app_template=None, job_template=None):
    ws.write_app({'global': {'mail_cfgs_dir': folder},
                  'mail': {'host': f'127.0.0.1:{free_port()}', 'from_addr': 'ft@example.com',
                           'timeout': '5'},
                  'notify': {'done': 'ops@example.com',
                             **({'mail_cfg': app_template} if app_template else {})}})
    return ws.write_job(**({'notify': {'mail_cfg': job_template}} if job_template else {}))


@pytest.mark.parametrize('kind', ['fifo', 'zero-link', 'huge'])
def test_mail_template_that_is_no_small_regular_file_exits_3(ws, odd_files, kind):
    make_files(ws.src, {'a.txt': 'A'})
    folder, name = os.path.split(odd_files[kind])
    mail_job(ws, folder, app_template=name)
    done = ws.run('job1', timeout=TIMEOUT)
    assert_refused(done, 3, f'{ws.app_cfg}: [notify] mail_cfg: {odd_files[kind]}: '
                            f'{REASONS[kind]}')
    job_path = mail_job(ws, folder, job_template=name)
    done = ws.run('job1', timeout=TIMEOUT)
    assert_refused(done, 3, f'{job_path}: [notify] mail_cfg: {odd_files[kind]}: '
                            f'{REASONS[kind]}')
    assert not os.path.exists(ws.dst)


def check(ws, *args):
    return subprocess.run(command_argv('check', '-c', ws.app_cfg, *args), capture_output=True,
                          text=True, timeout=TIMEOUT, cwd=ws.root)


def test_check_reports_the_template_and_with_connect_the_key_file(ws, odd_files, tmp_path):
    write_ini(ws.hosts_cfg, {})
    mail_job(ws, os.path.dirname(odd_files['fifo']), job_template='fifo')
    done = check(ws)
    assert_refused(done, 3, f'[notify] mail_cfg: {odd_files["fifo"]}: not a regular file')
    known_hosts = tmp_path / 'known_hosts'
    known_hosts.write_text('')
    ws.write_app()
    where = sftp_job(ws, key_file=odd_files['fifo'], known_hosts=str(known_hosts))
    done = check(ws, '--connect')
    assert_refused(done, 2, f'{where}: cannot read key file {odd_files["fifo"]}: '
                            'not a regular file')


@pytest.mark.parametrize('option', ['-k', '-d'])
@pytest.mark.parametrize('kind', ['fifo', 'zero'])
def test_known_hosts_maintenance_refuses_a_file_that_is_not_regular(ws, odd_files, option,
                                                                    kind):
    done = subprocess.run(command_argv(option, '127.0.0.1', odd_files[kind]),
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert_refused(done, 3, f'cannot read {odd_files[kind]}: not a regular file')
