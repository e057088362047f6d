"""A local target's copy is on disk (fsync of the file and of its directory)
before its source is deleted or archived, or recorded as sent: a crash of the
machine right after cannot lose the file. Seen in the system calls of the real
command, under strace."""

import os
import re
import shutil
import subprocess

import pytest

from helpers import Workspace, command_argv, make_files

pytestmark = pytest.mark.skipif(shutil.which("strace") is None,
                                reason='strace is not installed')

CALLS = 'fsync,fdatasync,unlink,unlinkat,rename,renameat,renameat2'


def traced(ws: Workspace, tmp_path) -> list[str]:
    """Runs job1 under strace; the calls naming files of the workspace, in order
    (file descriptors shown as the paths they are open on)."""
    out = tmp_path / 'strace.out'
    done = subprocess.run(['strace', '-f', '-y', '-qq', '-e', f'trace={CALLS}', '-o', str(out),
                           *command_argv('-c', ws.app_cfg, 'job1')],
                          capture_output=True, text=True, timeout=120, cwd=ws.root)
    assert done.returncode == 0, done.stderr
    return [line for line in out.read_text().splitlines() if ws.root in line]


def first(calls: list[str], pattern: str) -> int:
    for number, line in enumerate(calls):
        if re.search(pattern, line):
            return number
    raise AssertionError(f'no call matches {pattern}:\n' + '\n'.join(calls))


def synced(calls: list[str], path: str) -> int:
    return first(calls, rf'f(data)?sync\(\d+<{re.escape(path)}>\)')


@pytest.mark.parametrize('source', [{'delete': 'yes'}, {'archive_dir': '../archive'},
                                    {'remember': 'yes'}])
def test_the_copy_is_on_disk_before_its_source_goes_or_is_recorded(tmp_path, source):
    """The file written is synced before it takes its final name, its directory
    after; both before the source is deleted or archived."""
    ws = Workspace(tmp_path)
    make_files(ws.src, {'a.txt': b'a' * 100, 'sub/b.txt': b'b' * 200})
    ws.write_job(source={'recursive': 'yes', **source}, target={'temp': 'ext:part'})
    calls = traced(ws, tmp_path)
    for name in ('a.txt', 'sub/b.txt'):
        final = os.path.join(ws.dst, name)
        rename = first(calls, rf'rename.*{re.escape(final)}\.part.*{re.escape(final)}')
        data_synced = synced(calls, final + '.part')
        folder = re.escape(os.path.dirname(final))
        name_synced = max(number for number, line in enumerate(calls)
                          if re.search(rf'fsync\(\d+<{folder}>\)', line))
        assert data_synced < rename < name_synced
        if 'delete' in source:
            assert name_synced < first(calls, rf'unlink.*{re.escape(os.path.join(ws.src, name))}')
        if 'archive_dir' in source:
            assert name_synced < first(calls, rf'rename.*{re.escape(os.path.join(ws.src, name))}"')
    with open(os.path.join(ws.dst, 'sub/b.txt'), 'rb') as fh:
        assert fh.read() == b'b' * 200


def test_a_plain_copy_is_not_synced(tmp_path):
    """The source stays and nothing records it: as cp and rsync, no fsync."""
    ws = Workspace(tmp_path)
    make_files(ws.src, {'a.txt': b'a' * 100})
    ws.write_job()
    calls = traced(ws, tmp_path)
    assert not [line for line in calls if 'sync(' in line and ws.dst in line]
    assert os.path.exists(os.path.join(ws.dst, 'a.txt'))


def tracer_of(pid: int) -> int:
    with open(f'/proc/{pid}/status') as fh:
        return int(next(line for line in fh if line.startswith('TracerPid:')).split()[1])


def stamped(path, pattern: str) -> float:
    """The time (strace -ttt) of the first call in ``path`` that matches."""
    with open(path) as fh:
        for line in fh:
            if re.search(pattern, line):
                return float(re.match(r'\s*(?:\d+\s+)?(\d+\.\d+) ', line).group(1))
    raise AssertionError(f'no call matches {pattern}')


@pytest.mark.parametrize('transport', ['openssh', 'paramiko'])
def test_an_sftp_server_syncs_the_copy_before_its_source_is_deleted(live_sshd, tmp_path,
                                                                    transport):
    """fsync@openssh.com: OpenSSH's sftp-server calls fsync() on each file before the
    job deletes its source."""
    from remote import sftp_host, write_hosts
    from procs import wait_for

    ws = Workspace(tmp_path)
    far = tmp_path / 'far'
    make_files(ws.src, {'a.txt': b'a' * 100, 'b.txt': b'b' * 5000})
    write_hosts(ws, srv=sftp_host(live_sshd, transport=transport))
    ws.write_job(source={'delete': 'yes'}, target={'host_id': 'srv', 'path': str(far)})
    server_calls, client_calls = tmp_path / 'server.strace', tmp_path / 'client.strace'
    tracer = subprocess.Popen(['strace', '-f', '-y', '-qq', '-ttt', '-e', 'trace=fsync',
                               '-o', str(server_calls), '-p', str(live_sshd.proc.pid)])
    try:
        wait_for(lambda: tracer_of(live_sshd.proc.pid) == tracer.pid, proc=tracer)
        done = subprocess.run(['strace', '-f', '-qq', '-ttt', '-e', 'trace=unlink,unlinkat',
                               '-o', str(client_calls), *command_argv('-c', ws.app_cfg, 'job1')],
                              capture_output=True, text=True, timeout=120, cwd=ws.root)
    finally:
        tracer.terminate()
        tracer.wait(timeout=30)
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(far)) == ['a.txt', 'b.txt'] and not os.listdir(ws.src)
    for name in ('a.txt', 'b.txt'):
        synced_at = stamped(server_calls, rf'fsync\(\d+<{re.escape(str(far / name))}>\)')
        deleted_at = stamped(client_calls, rf'unlink.*{re.escape(os.path.join(ws.src, name))}')
        assert synced_at < deleted_at


def test_a_server_without_fsync_gets_the_files_all_the_same(tmp_path):
    """A server without fsync@openssh.com (paramiko's) answers 'unsupported': the job
    says so once and moves every file."""
    from remote import write_hosts
    from servers.paramiko_sftp import PlainSftpServer

    ws = Workspace(tmp_path)
    served = tmp_path / 'served'
    served.mkdir()
    make_files(ws.src, {name: name.encode() for name in ('a.txt', 'b.txt', 'c.txt')})
    server = PlainSftpServer(str(tmp_path), str(served))
    try:
        write_hosts(ws, srv={'type': 'SFTP', 'host': f'127.0.0.1:{server.port}',
                             'user': server.user, 'password': server.password,
                             'known_hosts': server.known_hosts, 'timeout': '30'})
        ws.write_job(source={'delete': 'yes'},
                     target={'host_id': 'srv', 'path': '/', 'connections': '1'})
        done = ws.run('job1')
    finally:
        server.stop()
    assert (done.returncode, done.stderr) == (0, '')
    assert sorted(os.listdir(served)) == ['a.txt', 'b.txt', 'c.txt'] and not os.listdir(ws.src)
    assert ws.log_text().count('no fsync@openssh.com') == 1
