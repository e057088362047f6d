"""`[target] resume = yes`: an interrupted file continues from the bytes its temp file
holds when they match the source; otherwise it is written again from the start."""

import os
import re
import signal
import subprocess

import pytest

import filetransfer

from faults import BIG, same_file, setup_job, stop_in_the_middle
from filetransfer.run.resume import CHECK_BYTES
from helpers import make_files, tree, write_ini

DIRECTIONS = [('local', 'up'), ('SFTP', 'up'), ('SFTP', 'down'), ('FTP', 'up'),
              ('FTP', 'down')]
SIZE = 8 << 20


def resumable_job(ws, tmp_path, protocol, direction, live_sshd, ftp_server, **options):
    options.setdefault('big', SIZE)
    options.setdefault('ftp_options', {'throttle': None})
    return setup_job(ws, protocol, direction, tmp_path, sshd=live_sshd, ftp_server=ftp_server,
                     marked=True, target={'resume': 'yes'}, small=False, **options)


def source_bytes(setup, start=0, end=None) -> bytes:
    with open(os.path.join(setup.source, BIG), 'rb') as fh:
        fh.seek(start)
        return fh.read(None if end is None else end - start)


@pytest.mark.parametrize('protocol, direction', DIRECTIONS)
def test_the_bytes_of_the_temp_file_are_kept_and_the_rest_is_sent(
        ws, tmp_path, live_sshd, ftp_server, protocol, direction):
    """The temp file's first bytes differ from the source on purpose: they are kept,
    which shows that only the rest was sent (the check compares the tail before the
    resume point, as documented)."""
    setup = resumable_job(ws, tmp_path, protocol, direction, live_sshd, ftp_server)
    point = 5 * SIZE // 8 + 12345
    kept = b'KEPT' + source_bytes(setup, 4, point)
    setup.leave_partial(kept)
    done = ws.run('-v', 'job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert not os.path.exists(setup.partial())
    with open(setup.final(), 'rb') as fh:
        result = fh.read()
    assert result == kept + source_bytes(setup, point)
    assert f'resuming big.bin at byte {point} of {SIZE} (the {CHECK_BYTES} bytes before ' \
           'it match the source)' in ws.log_text()


@pytest.mark.parametrize('protocol, direction, temp_content, reason', [
    *((protocol, direction, 'changed tail', 'differ from the source')
      for protocol, direction in DIRECTIONS),
    ('SFTP', 'up', 'longer', 'has more bytes'),
    ('FTP', 'down', 'longer', 'has more bytes'),
    ('local', 'up', 'short and different', 'differ from the source'),
])
def test_a_temp_file_that_does_not_match_is_written_again(
        ws, tmp_path, live_sshd, ftp_server, protocol, direction, temp_content, reason):
    setup = resumable_job(ws, tmp_path, protocol, direction, live_sshd, ftp_server)
    if temp_content == 'changed tail':
        data = bytearray(source_bytes(setup, 0, 3 * SIZE // 4))
        data[-10] ^= 0xff
    elif temp_content == 'longer':
        data = source_bytes(setup) + b'more'
    else:
        data = b'not the source'
    setup.leave_partial(bytes(data))
    done = ws.run('-v', 'job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert same_file(setup.final(), os.path.join(setup.source, BIG))
    assert not os.path.exists(setup.partial())
    log = ws.log_text()
    assert 'not resuming big.bin' in log and reason in log and 'resuming big.bin at' not in log


def test_a_complete_temp_file_is_only_renamed(ws, tmp_path, live_sshd, ftp_server):
    setup = resumable_job(ws, tmp_path, 'SFTP', 'up', live_sshd, ftp_server)
    setup.leave_partial(source_bytes(setup))
    done = ws.run('-v', 'job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert same_file(setup.final(), os.path.join(setup.source, BIG))
    assert f'resuming big.bin at byte {SIZE} of {SIZE}' in ws.log_text()


def test_an_ftp_server_without_rest_gets_the_whole_file(ws, tmp_path, live_sshd, ftp_server):
    setup = resumable_job(ws, tmp_path, 'FTP', 'up', live_sshd, ftp_server,
                          ftp_options={'throttle': None, 'rest': False})
    setup.leave_partial(source_bytes(setup, 0, SIZE // 2))
    done = ws.run('-v', 'job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert same_file(setup.final(), os.path.join(setup.source, BIG))
    assert 'cannot continue files' in ws.log_text()
    assert not any(line.startswith('REST') for line in setup.server.commands())


# -- interrupted for real ----------------------------------------------------------

BIG_MARKED = {'SFTP': 96 << 20, 'FTP': 24 << 20, 'local': 1 << 30}


@pytest.mark.parametrize('protocol, direction', DIRECTIONS[1:])
def test_a_lost_connection_is_resumed_by_the_next_try(ws, tmp_path, live_sshd, ftp_server,
                                                      protocol, direction):
    setup = resumable_job(ws, tmp_path, protocol, direction, live_sshd, ftp_server,
                          big=BIG_MARKED[protocol], job={'retries': '2'},
                          ftp_options={'throttle': 16 << 20})
    proc = ws.popen('-v', 'job1', stderr=subprocess.PIPE, text=True)
    try:
        assert stop_in_the_middle(proc, setup, least=1 << 20), 'copied too fast to catch'
        setup.server.stop()                  # the host goes down in the middle of the file
        setup.server.start()
        os.kill(proc.pid, signal.SIGCONT)
        stderr = proc.communicate(timeout=120)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert same_file(setup.final(), os.path.join(setup.source, BIG))
    log = ws.log_text()
    assert 'try 1 of 3 failed' in log and 'resuming big.bin at byte' in log
    assert tree(setup.target).keys() == {BIG}


@pytest.mark.parametrize('protocol, how', [('local', signal.SIGKILL), ('SFTP', signal.SIGKILL),
                                           ('SFTP', signal.SIGTERM), ('FTP', signal.SIGTERM)])
def test_the_next_run_resumes_a_killed_or_terminated_one(ws, tmp_path, live_sshd, ftp_server,
                                                         protocol, how):
    setup = resumable_job(ws, tmp_path, protocol, 'up', live_sshd, ftp_server,
                          big=BIG_MARKED[protocol], ftp_options={'throttle': 16 << 20})
    proc = ws.popen('job1')
    try:
        assert stop_in_the_middle(proc, setup, least=1 << 20), 'copied too fast to catch'
        os.kill(proc.pid, how)
        os.kill(proc.pid, signal.SIGCONT)
        assert proc.wait(timeout=60) == (5 if how == signal.SIGTERM else -how)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    have = os.path.getsize(setup.partial())           # kept for the next run
    assert 0 < have < BIG_MARKED[protocol] and not os.path.exists(setup.final())
    done = ws.run('job1')
    assert done.returncode == 0, done.stderr
    assert same_file(setup.final(), os.path.join(setup.source, BIG))
    # at least what was there (a server may still write what it had received)
    resumed_at = int(re.search(r'resuming big\.bin at byte (\d+) of', ws.log_text())[1])
    assert resumed_at >= have
    assert sorted(os.listdir(ws.locks_dir)) == ['job1.lock', 'state.sqlite3']


# -- configuration -------------------------------------------------------------------

def test_resume_needs_temp_and_is_not_for_fasp(ws, live_sshd):
    from test_fasp_jobs import fasp_host
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job(target={'resume': 'yes'})
    done = ws.run('job1')
    assert done.returncode == 3
    assert '[target] resume: needs temp' in done.stderr
    ws.write_job(target={'resume': 'maybe', 'temp': 'dot'})
    done = ws.run('job1')
    assert done.returncode == 3 and "[target] resume: expected yes/no, got 'maybe'" in done.stderr
    ws.write_job(target={'resume': 'yes', 'temp': 'dot'})
    done = ws.run('job1')
    assert (done.returncode, tree(ws.dst)) == (0, {'a.txt': b'A'})
    write_ini(ws.hosts_cfg, {'fasp': fasp_host(live_sshd)})
    ws.write_job(target={'resume': 'yes', 'temp': 'ext:.part', 'host_id': 'fasp',
                         'path': '/in'})
    done = ws.run('job1')
    assert done.returncode == 3
    assert "[target] resume: not for FASP transfers; set the FASP host's resume" in done.stderr


def test_a_fasp_hosts_own_resume_option_is_not_this_one():
    from filetransfer.config import loader, schema
    inline = loader.endpoint_from_mapping(
        'transfer()', 'target', {'type': 'FASP', 'host': 'h', 'user': 'u', 'password': 'p',
                                 'resume': 'sparse', 'path': '/in', 'temp': 'ext:.part'},
        schema.Target)
    assert inline.host.resume_check == 'sparse' and inline.options.resume is False
    sftp = loader.endpoint_from_mapping(
        'transfer()', 'target', {'type': 'SFTP', 'host': 'h', 'user': 'u', 'password': 'p',
                                 'known_hosts': 'k', 'resume': 'yes', 'path': '/in',
                                 'temp': 'dot'}, schema.Target)
    assert sftp.options.resume is True


def test_resume_needs_the_record_in_locks_dir(ws):
    """Only the job's own partial files are continued; the record in locks_dir says
    which they are."""
    write_ini(ws.app_cfg, {'global': {'jobs_dir': ws.jobs_dir}})     # no locks_dir
    ws.write_job(target={'temp': 'dot', 'resume': 'yes'})
    done = ws.run('job1')
    assert done.returncode == 3
    assert '[global] locks_dir: required because' in done.stderr
    assert '[target] resume is set' in done.stderr
    with pytest.raises(filetransfer.ConfigError, match=r'\[target\] resume: needs a job'):
        filetransfer.transfer({'path': ws.src, 'files': '*'},
                              {'path': ws.dst, 'temp': 'dot', 'resume': 'yes'})
