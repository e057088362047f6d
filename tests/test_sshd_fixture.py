"""The sshd fixture itself works: key login, host key check, password user, stop."""

import os
import subprocess

import pytest


def test_key_login_with_strict_host_key_checking(live_sshd, tmp_path):
    batch = tmp_path / 'batch'
    (tmp_path / 'up.txt').write_text('hello')
    batch.write_text(f'put {tmp_path}/up.txt {tmp_path}/down.txt\n')
    done = subprocess.run(['sftp', *live_sshd.ssh_config_options(), '-b', str(batch),
                           f'{live_sshd.user}@{live_sshd.host}'],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / 'down.txt').read_text() == 'hello'


def test_password_user_logs_in(live_sshd, password_user):
    import paramiko
    name, password, home = password_user
    client = paramiko.SSHClient()
    client.load_host_keys(live_sshd.known_hosts)
    client.connect(live_sshd.host, live_sshd.port, name, password, look_for_keys=False,
                   allow_agent=False, timeout=10)
    sftp = client.open_sftp()
    with sftp.open(f'{home}/x.txt', 'w') as fh:
        fh.write('x')
    client.close()
    assert open(os.path.join(home, 'x.txt')).read() == 'x'


def test_stop_ends_sessions_and_start_comes_back(live_sshd):
    import paramiko
    client = paramiko.SSHClient()
    client.load_host_keys(live_sshd.known_hosts)
    client.connect(live_sshd.host, live_sshd.port, live_sshd.user,
                   key_filename=live_sshd.client_keys['ed25519'], look_for_keys=False,
                   allow_agent=False, timeout=10)
    sftp = client.open_sftp()
    live_sshd.stop()
    with pytest.raises((OSError, EOFError, paramiko.SSHException)):
        sftp.listdir('/')
    live_sshd.start()
    client.close()
