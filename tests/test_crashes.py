"""SIGKILL of the `filetransfer` process in the middle of a large file, then another
run: no partial file under the final name, the lock free, the ready file kept until
a run succeeds, and the next run completes and leaves no temp file of the killed one."""

import os
import signal

import pytest

from faults import BIG, SMALL, setup_job, stop_in_the_middle
from helpers import tree

CASES = [('local', 'up'), ('SFTP', 'up'), ('SFTP', 'down'), ('FTP', 'up'), ('FTP', 'down')]


def killed_in_the_middle(ws, setup):
    """Runs the job and kills it (SIGKILL) while big.bin is being written."""
    proc = ws.popen('job1')
    try:
        assert stop_in_the_middle(proc, setup), 'copied too fast to catch'
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def big_of(setup):
    with open(os.path.join(setup.source, BIG), 'rb') as fh:
        return fh.read()


@pytest.mark.parametrize('protocol, direction, temp', [
    *((protocol, direction, 'dot') for protocol, direction in CASES),
    ('SFTP', 'up', 'dir:.incoming'), ('SFTP', 'down', 'ext:.part')])
def test_killed_run_then_the_next_run_completes(ws, tmp_path, live_sshd, ftp_server,
                                                protocol, direction, temp):
    setup = setup_job(ws, protocol, direction, tmp_path, sshd=live_sshd,
                      ftp_server=ftp_server, temp=temp,
                      job={'ready_file': 'READY'}, source={'delete': 'yes'})
    open(os.path.join(setup.source, 'READY'), 'w').close()
    killed_in_the_middle(ws, setup)

    assert not os.path.exists(setup.final())          # never a partial file under its name
    found = tree(setup.target)
    assert {name: found.get(name) for name in SMALL} == SMALL
    assert setup.lock_is_free()
    assert sorted(os.listdir(setup.source)) == ['READY', BIG]    # the small ones deleted

    expected = {**SMALL, BIG: big_of(setup)}
    done = ws.run('job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert tree(setup.target) == expected              # no temp file left
    assert os.listdir(setup.source) == []              # READY deleted after the success
    assert sorted(os.listdir(ws.locks_dir)) == ['job1.lock', 'state.sqlite3']   # no record kept


@pytest.mark.parametrize('protocol, direction', CASES)
def test_temp_file_of_a_killed_run_is_removed_when_its_source_is_gone(
        ws, tmp_path, live_sshd, ftp_server, protocol, direction):
    """The next run removes the temp file of a killed run also when it has no reason
    to write that file again."""
    setup = setup_job(ws, protocol, direction, tmp_path, sshd=live_sshd,
                      ftp_server=ftp_server)
    killed_in_the_middle(ws, setup)
    assert os.path.exists(setup.partial())
    os.unlink(os.path.join(setup.source, BIG))          # withdrawn by its producer
    done = ws.run('job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert tree(setup.target) == SMALL
    assert f'removed {os.path.basename(setup.partial())}' in ws.log_text()


def test_killed_run_without_temp_leaves_no_partial_file_after_the_next_run(ws, tmp_path,
                                                                          live_sshd):
    """Without temp a partial file does stand under its final name until the next
    run; that run removes it when it has no reason to write the file again."""
    setup = setup_job(ws, 'SFTP', 'up', tmp_path, sshd=live_sshd, temp=None)
    killed_in_the_middle(ws, setup)
    assert os.path.getsize(setup.final()) < os.path.getsize(os.path.join(setup.source, BIG))
    os.unlink(os.path.join(setup.source, BIG))
    done = ws.run('job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert tree(setup.target) == SMALL
