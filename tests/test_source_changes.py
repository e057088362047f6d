"""A source file that is not the file the listing showed by the time it is read, sent
or deleted: rewritten in place to the same size, replaced by a rename (a writer that
saves atomically), a symbolic link swapped for one that leads outside the source, a
file that grows without end. Such a file is a source error; its source is never
deleted and nothing from outside the source reaches the target."""

import os
import signal
import subprocess

import pytest

from faults import BIG, setup_job, stop_in_the_middle
from helpers import make_files, tree


def rewrite_in_place(path: str) -> bytes:
    """Changes the first bytes of ``path``, keeping its size; returns its new start."""
    new = b'NEW VERSION ' * 4
    with open(path, 'r+b') as fh:
        fh.write(new)
    return new


def replace_by_rename(path: str) -> bytes:
    """Replaces ``path`` by another file of the same size, as an atomic save does."""
    new = b'SAVED ANEW ' * 4
    size = os.path.getsize(path)
    with open(path + '.new', 'wb') as fh:
        fh.write(new)
        fh.truncate(size)
    os.replace(path + '.new', path)
    return new


def starts_with(path: str, data: bytes) -> bool:
    with open(path, 'rb') as fh:
        return fh.read(len(data)) == data


def run_changing(ws, setup, change) -> tuple[subprocess.CompletedProcess, bytes]:
    """Runs the job; while big.bin is being written, ``change`` changes its source."""
    proc = ws.popen('-v', 'job1', stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert stop_in_the_middle(proc, setup, least=1 << 20), 'copied too fast to catch'
        new = change(os.path.join(setup.source, BIG))
        os.kill(proc.pid, signal.SIGCONT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), new


@pytest.mark.parametrize('change', [rewrite_in_place, replace_by_rename])
@pytest.mark.parametrize('protocol', ['local', 'SFTP'])
def test_a_source_changed_to_the_same_size_while_sent_is_kept(ws, tmp_path, live_sshd,
                                                               protocol, change):
    setup = setup_job(ws, protocol, 'up', tmp_path, sshd=live_sshd, marked=True,
                      source={'delete': 'yes'})
    done, new = run_changing(ws, setup, change)
    assert done.returncode == 1, done.stderr
    assert done.stdout == ('Job finished: 2 file(s) transferred, 1 source error(s), '
                           '0 target error(s)\n')
    assert starts_with(os.path.join(setup.source, BIG), new)    # the new version is kept
    assert f'source error: {BIG}: changed while being transferred' in ws.log_text()
    # read from a local disk, the changed file is checked as soon as it is read: the
    # copy mixing both versions never takes the final name
    assert sorted(os.listdir(setup.target)) == ['a.txt', 'b.txt']


def test_a_remote_source_changed_while_sent_is_not_deleted(ws, tmp_path, live_sshd):
    setup = setup_job(ws, 'SFTP', 'down', tmp_path, sshd=live_sshd, marked=True,
                      source={'delete': 'yes'})

    def change(path):
        new = rewrite_in_place(path)
        stat = os.stat(path)       # SFTP gives whole seconds: a change shows in the next one
        os.utime(path, (stat.st_atime, stat.st_mtime + 10))
        return new

    done, new = run_changing(ws, setup, change)
    assert done.returncode == 1, done.stderr
    assert starts_with(os.path.join(setup.source, BIG), new)
    assert (f'source error: {BIG}: transferred, but the source was not deleted: it changed '
            'while being transferred (its modification time changed)') in ws.log_text()
    assert sorted(os.listdir(setup.source)) == [BIG]          # the others were deleted


def test_a_link_swapped_for_one_leading_outside_is_not_followed(ws, tmp_path):
    """The link is checked when listed (inside the source) and the opened file is
    checked against that: a swap in between cannot reach a file outside."""
    outside = tmp_path / 'outside.txt'
    outside.write_bytes(b'SECRET')                     # as long as the file inside
    setup = setup_job(ws, 'local', 'up', tmp_path, marked=True)
    make_files(setup.source, {'inside.txt': b'inside'})
    link = os.path.join(setup.source, 'link.txt')      # sorted after big.bin
    os.symlink('inside.txt', link)

    def swap(path):
        os.symlink(str(outside), link + '.new')
        os.replace(link + '.new', link)
        return b''

    done, _ = run_changing(ws, setup, swap)
    assert done.returncode == 1, done.stderr
    assert 'source error: link.txt: changed while being transferred' in ws.log_text()
    assert b'SECRET' not in tree(setup.target).values()
    assert sorted(tree(setup.target)) == ['a.txt', 'b.txt', BIG, 'inside.txt']


def test_a_file_that_reads_without_end_stops_at_its_listed_size(ws, ftp_server, tmp_path):
    server = ftp_server(hostile=[{'name': 'endless.bin', 'type': 'file', 'size': 1000,
                                  'endless': True}])
    os.makedirs(server.path('data'))
    from remote import ftp_host, write_hosts
    write_hosts(ws, srv=ftp_host(server))
    ws.write_job(source={'host_id': 'srv', 'path': '/data', 'delete': 'yes'},
                 target={'temp': 'dot'})
    done = ws.run('-v', 'job1')
    assert done.returncode == 1, done.stderr
    assert ('source error: endless.bin: changed while being transferred (it grew past the '
            '1000 bytes listed)') in ws.log_text()
    assert os.listdir(ws.dst) == []
    assert 'DELE /data/endless.bin' not in server.commands()
