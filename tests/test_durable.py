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
    ws = Workspace(tmp_path)
    make_files(ws.src, {'a.txt': b'a' * 100, 'sub/b.txt': b'b' * 200})
    ws.write_job(source={'recursive': 'yes', **source}, target={'temp': 'ext:part'})
    calls = traced(ws, tmp_path)
    for name in ('a.txt', 'sub/b.txt'):
        final = os.path.join(ws.dst, name)
        rename = first(calls, rf'rename.*{re.escape(final)}\.part.*{re.escape(final)}')
        file_synced = synced(calls, final)
        folder_synced = max(number for number, line in enumerate(calls)
                            if re.search(rf'fsync\(\d+<{re.escape(os.path.dirname(final))}>\)',
                                         line))
        assert rename < file_synced and rename < folder_synced
        if 'delete' in source:
            assert max(file_synced, folder_synced) < first(
                calls, rf'unlink.*{re.escape(os.path.join(ws.src, name))}')
        if 'archive_dir' in source:
            assert max(file_synced, folder_synced) < first(
                calls, rf'rename.*{re.escape(os.path.join(ws.src, name))}"')
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
