"""Several files at once (`connections`), against the real OpenSSH sshd and a real
FTP server, through the real command."""

import json
import os
import signal
import subprocess

import pytest

from faults import counts
from helpers import make_files, tree
from procs import make_sparse, wait_for
from remote import ftp_host, sftp_host, write_hosts

MANY = {f'{folder}f{number:02d}.txt': os.urandom(number * 997)
        for number in range(30) for folder in ('', 'sub/')}


@pytest.mark.parametrize('temp', [None, 'dot'])
def test_upload_and_download_with_several_connections(ws, live_sshd, tmp_path, temp):
    remote = tmp_path / 'remote'
    make_files(ws.src, MANY)
    write_hosts(ws, srv=sftp_host(live_sshd, connections='4'))
    temp_option = {'temp': temp} if temp else {}
    ws.write_job('up', job={'log_level': 'DEBUG'},
                 source={'recursive': 'yes', 'delete': 'yes'},
                 target={'host_id': 'srv', 'path': str(remote), **temp_option})
    done = ws.run('--json', 'up')
    assert done.returncode == 0, done.stderr
    assert counts(json.loads(done.stdout)) == (len(MANY), 0, 0)
    assert tree(remote) == MANY
    assert tree(ws.src) == {}
    assert '4 files at once' in ws.log_text('up')

    back = tmp_path / 'back'
    ws.write_job('down', job={'log_level': 'DEBUG'},
                 source={'host_id': 'srv', 'path': str(remote), 'recursive': 'yes',
                         'delete': 'yes'},
                 target={'path': str(back), 'connections': '3', **temp_option})
    done = ws.run('--json', 'down')
    assert done.returncode == 0, done.stderr
    assert counts(json.loads(done.stdout)) == (len(MANY), 0, 0)
    assert tree(back) == MANY
    assert tree(remote) == {}
    assert '3 files at once' in ws.log_text('down')


def test_ftp_upload_with_several_connections(ws, ftp_server):
    server = ftp_server()
    make_files(ws.src, MANY)
    write_hosts(ws, srv=ftp_host(server, connections='3'))
    ws.write_job(job={'log_level': 'DEBUG'}, source={'recursive': 'yes'},
                 target={'host_id': 'srv', 'path': '/up', 'temp': 'dot'})
    done = ws.run('--json', 'job1')
    assert done.returncode == 0, done.stderr
    assert counts(json.loads(done.stdout)) == (len(MANY), 0, 0)
    assert tree(server.path('up')) == MANY
    assert '3 files at once' in ws.log_text()


def test_a_failed_file_is_counted_and_the_others_arrive(ws, live_sshd, tmp_path):
    remote = tmp_path / 'remote'
    make_files(ws.src, MANY)
    os.makedirs(remote / 'f07.txt')          # a directory where a file should go
    write_hosts(ws, srv=sftp_host(live_sshd, connections='4'))
    ws.write_job(source={'recursive': 'yes', 'delete': 'yes'},
                 target={'host_id': 'srv', 'path': str(remote)})
    done = ws.run('--json', 'job1')
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    assert counts(result) == (len(MANY) - 1, 0, 1)
    [failed] = [item for item in result['files'] if item['tag'] == '<']
    assert failed['path'] == 'f07.txt'
    assert tree(ws.src) == {'f07.txt': MANY['f07.txt']}      # kept: not transferred
    assert tree(remote) == {name: data for name, data in MANY.items() if name != 'f07.txt'}


def test_sigterm_stops_every_connection_and_leaves_no_partial_file(ws, live_sshd, tmp_path):
    remote = tmp_path / 'remote'
    names = [f'big{number}.bin' for number in range(6)]
    for name in names:
        make_sparse(os.path.join(ws.src, name), 64 << 20)
    write_hosts(ws, srv=sftp_host(live_sshd, connections='3'))
    ws.write_job(job={'log_level': 'DEBUG'},
                 target={'host_id': 'srv', 'path': str(remote), 'temp': 'dot'})
    proc = ws.popen('job1')
    try:
        # three files are being written at once
        wait_for(lambda: sum(os.path.exists(remote / f'.{name}') for name in names) >= 3,
                 proc=proc)
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=60) == 5
    finally:
        if proc.poll() is None:
            proc.kill()
    left = tree(remote)
    assert not [name for name in left if name.startswith('.')], ws.log_text()  # no temp
    for name, data in left.items():                                 # complete ones only
        assert len(data) == 64 << 20, name
    listed = subprocess.run(['pgrep', '-f', f'UserKnownHostsFile={live_sshd.known_hosts}'],
                            capture_output=True, text=True)
    assert listed.stdout == ''                                       # no ssh child left


def test_a_lost_connection_ends_the_try_and_the_next_one_finishes(ws, live_sshd, tmp_path):
    remote = tmp_path / 'remote'
    names = [f'big{number}.bin' for number in range(4)]
    for name in names:
        make_sparse(os.path.join(ws.src, name), 64 << 20)
    write_hosts(ws, srv=sftp_host(live_sshd, connections='2'))
    ws.write_job(job={'retries': '3'},
                 target={'host_id': 'srv', 'path': str(remote), 'temp': 'dot'})
    proc = ws.popen('-v', 'job1', stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: any(os.path.exists(remote / f'.{name}') for name in names),
                 proc=proc)
        live_sshd.stop()
        live_sshd.start()
        stderr = proc.communicate(timeout=120)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert 'try 1 of 4 failed' in ws.log_text()
    assert tree(remote) == tree(ws.src)


@pytest.mark.parametrize('value', ['0', '17', 'many'])
def test_connections_outside_1_to_16_is_a_config_error(ws, live_sshd, tmp_path, value):
    write_hosts(ws, srv=sftp_host(live_sshd, connections=value))
    ws.write_job(target={'host_id': 'srv', 'path': str(tmp_path / 'remote')})
    done = ws.run('-v', 'job1')
    assert done.returncode == 3
    assert '[srv] connections' in done.stderr
    assert 'expected a whole number from 1 to 16' in done.stderr
