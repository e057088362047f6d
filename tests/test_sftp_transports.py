"""The two SFTP transports (OpenSSH's `ssh -s sftp` and paramiko's own) and how
`transport = auto` chooses between them, against the real OpenSSH sshd."""

import contextlib
import os
import shutil
import signal
import subprocess

import pytest

from helpers import make_files, tree
from remote import known_hosts_with_another_key, sftp_host, write_hosts

# larger than what is kept in flight (4 MiB), not a multiple of any request size
BIG = os.urandom((9 << 20) + 12345)
FILES = {'big.bin': BIG, 'empty.txt': b'', 'sub/a.txt': b'A' * 100}


def round_trip(ws, tmp_path, **host):
    """Uploads FILES, then downloads them back; returns the transports used."""
    remote = tmp_path / 'remote'
    make_files(ws.src, FILES)
    write_hosts(ws, srv=host)
    ws.write_job('up', job={'log_level': 'DEBUG'}, source={'recursive': 'yes'},
                 target={'host_id': 'srv', 'path': str(remote), 'temp': 'dot'})
    done = ws.run('up')
    assert (done.returncode, done.stderr) == (0, '')
    assert tree(remote) == FILES
    back = tmp_path / 'back'
    ws.write_job('down', job={'log_level': 'DEBUG'},
                 source={'host_id': 'srv', 'path': str(remote), 'recursive': 'yes',
                         'delete': 'yes'},
                 target={'path': str(back)})
    done = ws.run('down')
    assert (done.returncode, done.stderr) == (0, '')
    assert tree(back) == FILES
    assert tree(remote) == {}
    return used_transport(ws, 'up'), used_transport(ws, 'down')


def used_transport(ws, job_id='job1') -> str:
    text = ws.log_text(job_id)
    used = {name for name in ('ssh', 'paramiko') if f'SFTP over {name},' in text}
    assert len(used) == 1, text
    return used.pop()


@pytest.mark.parametrize('transport, expected', [('auto', 'ssh'), ('openssh', 'ssh'),
                                                 ('paramiko', 'paramiko')])
def test_both_transports_move_files_intact(ws, live_sshd, tmp_path, transport, expected):
    used = round_trip(ws, tmp_path, **sftp_host(live_sshd, transport=transport))
    assert used == (expected, expected)


def test_auto_takes_paramiko_for_a_password_login(ws, live_sshd, password_user, tmp_path):
    name, password, writable = password_user
    host = sftp_host(live_sshd, user=name, password=password, key_file=None)
    make_files(ws.src, {'a.txt': 'A'})
    write_hosts(ws, srv=host)
    ws.write_job(job={'log_level': 'DEBUG'},
                 target={'host_id': 'srv', 'path': os.path.join(writable, 'in')})
    done = ws.run('job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert used_transport(ws) == 'paramiko'


def test_auto_takes_paramiko_for_a_key_others_may_read(ws, live_sshd, tmp_path):
    """ssh refuses such a key file; paramiko takes it, so the job still runs."""
    key = tmp_path / 'open_key'
    shutil.copy(live_sshd.client_keys['ed25519'], key)
    os.chmod(key, 0o644)
    used = round_trip(ws, tmp_path, **sftp_host(live_sshd, key_file=str(key)))
    assert used == ('paramiko', 'paramiko')


def test_auto_takes_paramiko_when_ssh_is_not_installed(ws, live_sshd, tmp_path):
    env = {**os.environ, 'PATH': str(tmp_path / 'empty-bin')}
    make_files(ws.src, {'a.txt': 'A'})
    write_hosts(ws, srv=sftp_host(live_sshd))
    ws.write_job(job={'log_level': 'DEBUG'},
                 target={'host_id': 'srv', 'path': str(tmp_path / 'remote')})
    done = ws.run('job1', env=env)
    assert (done.returncode, done.stderr) == (0, '')
    assert used_transport(ws) == 'paramiko'

    write_hosts(ws, srv=sftp_host(live_sshd, transport='openssh'))
    done = ws.run('-v', 'job1', env=env)
    assert done.returncode == 2
    assert 'transport = openssh, but the OpenSSH client (ssh) is not installed' in done.stderr


def test_openssh_refuses_a_changed_host_key_once(ws, live_sshd, tmp_path):
    """ssh's strict checking against our known-hosts file: no retry, no transfer."""
    known = known_hosts_with_another_key(tmp_path, live_sshd)
    entry = known.read_text()
    make_files(ws.src, {'a.txt': 'A'})
    write_hosts(ws, srv=sftp_host(live_sshd, known_hosts=str(known), transport='openssh'))
    ws.write_job(job={'retries': '3'}, target={'host_id': 'srv', 'path': str(tmp_path / 'r')})
    done = ws.run('-v', 'job1')
    assert done.returncode == 2
    assert 'Host key verification failed' in done.stderr
    assert 'trying again' not in ws.log_text()
    assert known.read_text() == entry
    assert not (tmp_path / 'r').exists()


def test_openssh_names_an_unknown_host(ws, live_sshd, tmp_path):
    known = tmp_path / 'known_hosts'
    known.write_text('')
    make_files(ws.src, {'a.txt': 'A'})
    write_hosts(ws, srv=sftp_host(live_sshd, known_hosts=str(known), transport='openssh'))
    ws.write_job(target={'host_id': 'srv', 'path': str(tmp_path / 'r')})
    done = ws.run('-v', 'job1')
    assert done.returncode == 2
    assert f'transport = openssh, but the host is not in {known}' in done.stderr


def test_openssh_without_a_usable_key_is_a_config_error(ws, live_sshd, tmp_path):
    write_hosts(ws, srv=sftp_host(live_sshd, key_file=None, password='secret-pw',
                                  transport='openssh'))
    ws.write_job(target={'host_id': 'srv', 'path': str(tmp_path / 'r')})
    done = ws.run('job1')
    assert done.returncode == 3
    assert f'{ws.hosts_cfg}' in done.stderr and '[srv] transport' in done.stderr
    assert 'secret-pw' not in done.stderr


def test_no_ssh_process_outlives_the_job(ws, live_sshd, tmp_path):
    make_files(ws.src, {'a.txt': 'A'})
    write_hosts(ws, srv=sftp_host(live_sshd))
    ws.write_job(job={'log_level': 'DEBUG'},
                 target={'host_id': 'srv', 'path': str(tmp_path / 'r')})
    done = ws.run('job1')
    assert done.returncode == 0
    assert used_transport(ws) == 'ssh'
    listed = subprocess.run(['pgrep', '-f', f'UserKnownHostsFile={live_sshd.known_hosts}'],
                            capture_output=True, text=True)
    assert listed.stdout == ''


SPY_ON_SSH = '''
import json, subprocess, sys
started = []
real_init = subprocess.Popen.__init__
def init(self, argv, *args, **kwargs):
    started.append([argv[0], 'paramiko' in sys.modules])
    real_init(self, argv, *args, **kwargs)
subprocess.Popen.__init__ = init
import filetransfer
run, _ = filetransfer.configure(sys.argv[1], sys.argv[2])
result, code = run()
print(json.dumps([code, started]))
'''


@pytest.mark.parametrize('direction', ['up', 'down'])
def test_ssh_logs_in_while_the_sftp_code_loads(ws, live_sshd, tmp_path, direction):
    """The `ssh` child starts before paramiko is imported (some 100 ms), so that the
    login is under way meanwhile; the job then uses that child."""
    import json
    import sys

    far = tmp_path / 'far'
    make_files(ws.src, {'a.txt': 'a'})
    make_files(far, {'b.txt': 'b'})
    write_hosts(ws, srv=sftp_host(live_sshd, transport='openssh'))
    remote = {'host_id': 'srv', 'path': str(far)}
    if direction == 'up':
        ws.write_job('job1', target=remote)
    else:
        ws.write_job('job1', source=remote)
    done = subprocess.run([sys.executable, '-c', SPY_ON_SSH, ws.app_cfg, 'job1'],
                          capture_output=True, text=True, timeout=120)
    code, started = json.loads(done.stdout)
    assert code == 0, done.stderr
    assert [os.path.basename(program) for program, _ in started] == ['ssh']
    assert started[0][1] is False
    assert tree(far if direction == 'up' else ws.dst) == \
        ({'a.txt': b'a', 'b.txt': b'b'} if direction == 'up' else {'b.txt': b'b'})


def counted_ssh(tmp_path, then: str = ''):
    """An environment whose `ssh` notes each start (its pid) in the file returned,
    then runs OpenSSH's ssh, or ``then``."""
    real = shutil.which('ssh')
    folder = tmp_path / 'counting-bin'
    folder.mkdir()
    starts = tmp_path / 'ssh-starts'
    script = folder / 'ssh'
    then = then or f'exec {real} "$@"'
    script.write_text(f'#!/bin/sh\necho $$ >> {starts}\n{then}\n')
    script.chmod(0o755)
    return {**os.environ, 'PATH': f'{folder}:{os.environ["PATH"]}'}, starts


def started(starts) -> list[int]:
    return [int(pid) for pid in starts.read_text().split()] if starts.exists() else []


def test_the_login_starts_once_and_after_the_before_command(ws, live_sshd, tmp_path):
    """The login begins as soon as the run holds its lock, while the rest loads, and
    the endpoint takes it over; a before command (which may set up the way to the
    server) still runs before the target's login starts."""
    env, starts = counted_ssh(tmp_path)
    seen = tmp_path / 'seen-by-before'
    note = tmp_path / 'note-starts'
    note.write_text(f'#!/bin/sh\ncat {starts} 2>/dev/null | wc -l > {seen}\n')
    note.chmod(0o755)
    make_files(ws.src, {'a.txt': 'A'})
    remote = tmp_path / 'remote'
    write_hosts(ws, srv=sftp_host(live_sshd))
    ws.write_job('up', job={'before': str(note)}, target={'host_id': 'srv', 'path': str(remote)})
    done = ws.run('up', env=env)
    assert (done.returncode, done.stderr) == (0, '')
    assert seen.read_text().strip() == '0'
    assert len(started(starts)) == 1

    ws.write_job('up2', target={'host_id': 'srv', 'path': str(tmp_path / 'remote2')})
    ws.write_job('down', source={'host_id': 'srv', 'path': str(remote)},
                 target={'path': str(tmp_path / 'back')})
    for job_id in ('up2', 'down'):
        starts.unlink()
        done = ws.run(job_id, env=env)
        assert (done.returncode, done.stderr) == (0, '')
        assert len(started(starts)) == 1, job_id
    assert tree(tmp_path / 'back') == {'a.txt': b'A'}


def test_a_login_started_early_ends_with_a_run_that_fails_before_it(ws, live_sshd, tmp_path):
    """The source is missing: the target is never opened, and the login begun for it
    does not outlive the run (here an `ssh` that would wait 30 s)."""
    env, starts = counted_ssh(tmp_path, then='exec sleep 30')
    write_hosts(ws, srv=sftp_host(live_sshd))
    ws.write_job(source={'path': str(tmp_path / 'missing')},
                 target={'host_id': 'srv', 'path': str(tmp_path / 'remote')})
    done = ws.run('job1', env=env)
    pids = started(starts)
    try:
        assert done.returncode == 2, done.stderr
        assert len(pids) == 1
        with pytest.raises(ProcessLookupError):
            os.kill(pids[0], 0)
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
