"""`filetransfer -k` and `-d` against the real sshd, and the known-hosts rules."""

import subprocess

import pytest

from filetransfer.endpoints.sftp import hostkeys
from helpers import command_argv, make_files, tree
from remote import sftp_host, write_hosts


def run(*args, answer=''):
    """The command with ``answer`` on stdin (a pipe, not a terminal)."""
    return subprocess.run(command_argv(*args), capture_output=True, text=True, timeout=60,
                          input=answer)


def server_keys(sshd) -> dict:
    """key type -> base64 key of the server's host keys."""
    keys = {}
    for path in sshd.host_keys.values():
        keytype, blob = open(path + '.pub').read().split()[:2]
        keys[keytype] = blob
    return keys


def keygen_find(sshd, path) -> str:
    """What OpenSSH's own ssh-keygen finds for the server in a known-hosts file."""
    done = subprocess.run(['ssh-keygen', '-F', f'[127.0.0.1]:{sshd.port}', '-f', str(path)],
                          capture_output=True, text=True)
    return done.stdout


def job_works(ws, sshd, known, tmp_path) -> bool:
    make_files(ws.src, {'a.txt': 'A'})
    write_hosts(ws, srv=sftp_host(sshd, known_hosts=str(known)))
    ws.write_job(target={'host_id': 'srv', 'path': str(tmp_path / 'remote')})
    done = ws.run('-v', 'job1')
    return done.returncode == 0 and tree(tmp_path / 'remote') == {'a.txt': b'A'}


def test_fetch_into_a_new_file(ws, live_sshd, tmp_path):
    known = tmp_path / 'new_known_hosts'
    done = run('-k', '-p', str(live_sshd.port), '127.0.0.1', str(known), answer='yes\n')
    assert (done.returncode, done.stderr) == (0, '')
    [line] = known.read_text().splitlines()        # the key the handshake chose
    name = f'[127.0.0.1]:{live_sshd.port}'
    keytype, blob = line.split()[1:]
    assert line.startswith(name + ' ') and server_keys(live_sshd)[keytype] == blob
    assert f'Save this key to file "{known}" (yes/no)? ' in done.stdout
    assert done.stdout.endswith(f'Key for "{name}" added in new file "{known}"\n')
    assert oct(known.stat().st_mode & 0o777) == '0o644'
    assert keygen_find(live_sshd, known).count(f'# Host {name} found') == 1
    assert job_works(ws, live_sshd, known, tmp_path)


def test_fetch_hashed(ws, live_sshd, tmp_path):
    known = tmp_path / 'known_hosts'
    known.write_text('# kept\nother.example ssh-ed25519 '
                     'AAAAC3NzaC1lZDI1NTE5AAAAIBSM7BMG9G9Wn0q1bWnF8r1ZqH0GbL/TL0DJ2SxUk1Dp\n')
    done = run('-k', '-H', '-p', str(live_sshd.port), '127.0.0.1', str(known), answer='YES\n')
    assert done.returncode == 0, done.stderr
    text = known.read_text()
    assert text.startswith('# kept\nother.example ssh-ed25519 ')
    assert '127.0.0.1' not in text and text.count('|1|') == 1
    assert 'Host [127.0.0.1]:' in keygen_find(live_sshd, known)    # OpenSSH reads our hashes
    assert job_works(ws, live_sshd, known, tmp_path)


def test_fetch_replaces_a_stale_entry_and_keeps_the_rest(ws, live_sshd, tmp_path):
    stale = open(live_sshd.client_keys['ed25519'] + '.pub').read().split()[:2]
    name = f'[127.0.0.1]:{live_sshd.port}'
    known = tmp_path / 'known_hosts'
    known.write_text(f'# a comment\n'
                     f'{name} {" ".join(stale)}\n'
                     f'{hostkeys.hash_name(name)} {" ".join(stale)}\n'
                     f'other.example,{name} {" ".join(stale)} with comment\n'
                     f'[127.0.0.1]:* {" ".join(stale)}\n')
    assert not job_works(ws, live_sshd, known, tmp_path)        # a changed key first
    assert 'has CHANGED' in ws.log_text()
    done = run('-k', '-p', str(live_sshd.port), '127.0.0.1', str(known), answer='yes\n')
    assert done.returncode == 0, done.stderr
    assert f'Key for "{name}" replaced in file "{known}"' in done.stdout
    lines = known.read_text().splitlines()
    assert lines[:3] == ['# a comment', f'other.example {" ".join(stale)} with comment',
                         f'[127.0.0.1]:* {" ".join(stale)}']
    assert len(lines) == 3 + 1 and lines[3].startswith(name + ' ')
    assert job_works(ws, live_sshd, known, tmp_path)


def test_delete_removes_plain_and_hashed_entries_only(live_sshd, tmp_path):
    key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBSM7BMG9G9Wn0q1bWnF8r1ZqH0GbL/TL0DJ2SxUk1Dp'
    known = tmp_path / 'known_hosts'
    known.write_text(f'# header\n'
                     f'[server.example]:2222 {key}\n'
                     f'{hostkeys.hash_name("[server.example]:2222")} {key}\n'
                     f'server.example {key}\n'
                     f'a.example,[server.example]:2222 {key}\n'
                     f'@revoked [server.example]:2222 {key}\n')
    done = run('-d', '-p', '2222', 'server.example', str(known))
    assert done.returncode == 0, done.stderr
    assert known.read_text() == (f'# header\nserver.example {key}\na.example {key}\n'
                                 f'@revoked [server.example]:2222 {key}\n')
    done = run('-d', 'server.example', str(known))            # port 22: the plain name
    assert done.returncode == 0
    assert known.read_text() == f'# header\na.example {key}\n@revoked [server.example]:2222 {key}\n'
    done = run('-d', 'server.example', str(known))
    assert (done.returncode, done.stderr) == (0, '')
    assert done.stdout == f'Key for "server.example" not found in file "{known}"\n'


def test_fetch_from_a_server_that_is_down(tmp_path):
    from servers.common import free_port
    known = tmp_path / 'known_hosts'
    port = free_port()
    done = run('-k', '-p', str(port), '127.0.0.1', str(known))
    assert done.returncode == 2
    assert f'cannot connect to [127.0.0.1]:{port}: Connection refused' in done.stderr
    assert not known.exists()


@pytest.mark.parametrize('args', [
    ['-k', 'host'], ['-k', 'host', 'file', 'extra'], ['-k', '-d', 'host', 'file'],
    ['-d', '-H', 'host', 'file'], ['-p', '22', 'host', 'file'], ['-H', 'host', 'file'],
    ['-k', '-p'],
])
def test_usage_errors_exit_4(args):
    done = run(*args)
    assert done.returncode == 4, done.stderr
    assert 'Traceback' not in done.stderr


def test_file_errors_exit_3(live_sshd, tmp_path):
    done = run('-d', 'host', str(tmp_path / 'missing'))
    assert done.returncode == 3 and 'cannot read' in done.stderr
    done = run('-d', 'host', str(tmp_path))
    assert done.returncode == 3
    done = run('-k', '-p', str(live_sshd.port), '127.0.0.1', str(tmp_path / 'no' / 'file'),
               answer='yes\n')
    assert done.returncode == 3 and 'cannot write' in done.stderr


# -- matching rules ----------------------------------------------------------------

KEY = hostkeys.HostKey('ssh-ed25519', b'one')
OTHER = hostkeys.HostKey('ssh-ed25519', b'two')


def known_hosts(tmp_path, text):
    path = tmp_path / 'known_hosts'
    path.write_text(text)
    return hostkeys.KnownHosts.read(str(path))


def line(patterns, key=KEY, marker=''):
    import base64
    return f'{marker}{patterns} {key.keytype} {base64.b64encode(key.blob).decode()}\n'


def test_ports_wildcards_and_negation(tmp_path):
    known = known_hosts(tmp_path, line('*.example.com,!bad.example.com')
                        + line('[10.0.0.1]:2222') + line('10.0.0.2'))
    assert known.check('a.example.com', 22, KEY) is None
    assert 'unknown' in known.check('bad.example.com', 22, KEY)
    assert known.check('10.0.0.1', 2222, KEY) is None
    assert 'unknown' in known.check('10.0.0.1', 22, KEY)       # another port, another host
    assert known.check('10.0.0.2', 22, KEY) is None
    assert 'unknown' in known.check('10.0.0.2', 2200, KEY)
    assert 'CHANGED' in known.check('10.0.0.2', 22, OTHER)


def test_revoked_key_is_refused(tmp_path):
    known = known_hosts(tmp_path, line('host') + line('*', marker='@revoked '))
    assert '@revoked' in known.check('host', 22, KEY)


def test_unreadable_lines_are_ignored(tmp_path):
    known = known_hosts(tmp_path, 'garbage\nhost ssh-ed25519 !!!notbase64\n' + line('host'))
    assert known.check('host', 22, KEY) is None
