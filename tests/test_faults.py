"""Network faults in the middle of a job, through the real command against real
servers: the server killed (sshd stopped, the FTP server process killed), the
connection hanging (the server frozen with SIGSTOP: `timeout` must fire), the server
back before the next try, and a slow link that must not be taken for a hung one.
Each ends in the documented exit code with the right per-file counts."""

import json
import os
import signal
import subprocess

import pytest

from faults import BIG, SMALL, counts, same_file, setup_job, stop_in_the_middle
from helpers import make_files, tree
from procs import wait_for
from remote import ftp_host, write_hosts

CASES = [('SFTP', 'up'), ('SFTP', 'down'), ('FTP', 'up'), ('FTPS', 'down')]


def _comm(pid):
    try:
        with open(f'/proc/{pid}/comm') as fh:
            return fh.read().strip()
    except OSError:
        return None


class Breaker:
    """Stops, freezes and restores the server of a Setup."""

    def __init__(self, setup):
        self.setup = setup
        self.frozen = []

    def kill(self):
        self.setup.server.stop()

    def restart(self):
        self.setup.server.start()

    def freeze(self):
        server = self.setup.server
        if self.setup.protocol == 'SFTP':     # the session's sftp-server stops answering
            self.frozen = [pid for pid in server.sessions() if _comm(pid) == 'sftp-server']
            assert self.frozen
            for pid in self.frozen:
                os.kill(pid, signal.SIGSTOP)
        else:
            server.freeze()

    def thaw(self):
        if self.setup.protocol == 'SFTP':
            for pid in self.frozen:
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
        else:
            self.setup.server.thaw()


def run_broken(ws, setup, breaker, *, during, after=None, timeout=120):
    """Runs the job with --json; ``during(breaker)`` once big.bin is half-way (the
    command frozen meanwhile), ``after(breaker)`` once the first try failed."""
    proc = ws.popen('-v', '--json', 'job1', stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    text=True)
    try:
        assert stop_in_the_middle(proc, setup, least=1 << 20), 'copied too fast to catch'
        during(breaker)
        os.kill(proc.pid, signal.SIGCONT)
        if after is not None:
            wait_for(lambda: 'trying again in' in ws.log_text(), proc=proc, timeout=60)
            after(breaker)
        out, err = proc.communicate(timeout=timeout)
    finally:
        breaker.thaw()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, json.loads(out), err


def fault_job(ws, tmp_path, live_sshd, ftp_server, protocol, direction, **options):
    options.setdefault('host', {'timeout': '30'})
    return setup_job(ws, protocol, direction, tmp_path, sshd=live_sshd, ftp_server=ftp_server,
                     source={'delete': 'yes'}, **options)


@pytest.mark.parametrize('protocol, direction', CASES)
def test_server_killed_mid_transfer_exit_2_and_what_arrived_is_counted(
        ws, tmp_path, live_sshd, ftp_server, protocol, direction):
    setup = fault_job(ws, tmp_path, live_sshd, ftp_server, protocol, direction)
    code, result, stderr = run_broken(ws, setup, Breaker(setup), during=Breaker.kill)
    assert code == 2, stderr
    assert result['status'] == 'failure' and 'connection lost' in result['error']
    assert counts(result) == (2, 0, 0)
    assert sorted(item['path'] for item in result['files']) == sorted(SMALL)
    assert not os.path.exists(setup.final())
    assert sorted(os.listdir(setup.source)) == [BIG]     # only what arrived was deleted
    setup.server.start()
    done = ws.run('job1')                                # the next run finishes the work
    assert (done.returncode, done.stderr) == (0, '')
    assert sorted(tree(setup.target)) == sorted([*SMALL, BIG]) and os.listdir(setup.source) == []


@pytest.mark.parametrize('protocol, direction', CASES)
def test_server_killed_and_back_before_the_retry_every_file_once(
        ws, tmp_path, live_sshd, ftp_server, protocol, direction):
    setup = fault_job(ws, tmp_path, live_sshd, ftp_server, protocol, direction,
                      job={'retries': '2'})
    big = os.path.join(setup.source, BIG)
    reference = str(tmp_path / 'reference')
    os.link(big, reference)
    code, result, stderr = run_broken(ws, setup, Breaker(setup),
                                      during=lambda b: (b.kill(), b.restart()))
    assert code == 0, stderr
    assert counts(result) == (3, 0, 0)
    assert sorted(item['path'] for item in result['files']) == sorted([*SMALL, BIG])
    assert sorted(tree(setup.target)) == sorted([*SMALL, BIG])      # no temp file left
    assert same_file(setup.final(), reference)
    assert os.listdir(setup.source) == []
    log = ws.log_text()
    assert 'try 1 of 3 failed' in log and log.count('transferred a.txt') == 1


@pytest.mark.parametrize('protocol, direction', [('SFTP', 'down'), ('FTP', 'down'),
                                                 ('FTPS', 'up')])
def test_hung_connection_timeout_fires_exit_2(ws, tmp_path, live_sshd, ftp_server, protocol,
                                             direction):
    setup = fault_job(ws, tmp_path, live_sshd, ftp_server, protocol, direction,
                      host={'timeout': '1'})
    code, result, stderr = run_broken(ws, setup, Breaker(setup), during=Breaker.freeze,
                                      timeout=60)
    assert code == 2, stderr
    assert 'no answer within the timeout (1.0 s)' in result['error']
    assert counts(result) == (2, 0, 0)
    assert not os.path.exists(setup.final())


@pytest.mark.parametrize('protocol, direction', [('SFTP', 'up'), ('FTP', 'up')])
def test_hung_connection_then_the_server_answers_again_before_the_retry(
        ws, tmp_path, live_sshd, ftp_server, protocol, direction):
    setup = fault_job(ws, tmp_path, live_sshd, ftp_server, protocol, direction,
                      host={'timeout': '1'}, job={'retries': '1'})
    code, result, stderr = run_broken(ws, setup, Breaker(setup), during=Breaker.freeze,
                                      after=Breaker.thaw)
    assert code == 0, stderr
    assert counts(result) == (3, 0, 0)
    assert sorted(tree(setup.target)) == sorted([*SMALL, BIG])
    assert 'no answer within the timeout' in ws.log_text()


@pytest.mark.parametrize('protocol', ['SFTP', 'FTP'])
def test_server_down_at_the_start_and_back_before_the_retry(ws, tmp_path, live_sshd,
                                                            ftp_server, protocol):
    setup = fault_job(ws, tmp_path, live_sshd, ftp_server, protocol, 'up', big=0,
                      job={'retries': '1'})
    setup.server.stop()
    proc = ws.popen('-v', 'job1', stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: 'trying again in 1 s' in ws.log_text(), proc=proc)
        setup.server.start()
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert tree(setup.target) == SMALL


@pytest.mark.parametrize('tls', [False, True])
def test_a_slow_link_that_keeps_moving_is_not_a_hung_one(ws, ftp_server, tls):
    """The server reads an upload evenly at 512 kB/s, with a timeout of 1 s: a
    megabyte takes longer than the timeout, but data moves all the time."""
    server = ftp_server(tls=tls, slow_read=1 << 19)
    data = os.urandom(3 << 19)
    make_files(ws.src, {'big.bin': data})
    write_hosts(ws, srv=ftp_host(server, timeout='1', keep_alive='0'))
    ws.write_job(target={'host_id': 'srv', 'path': 'up', 'temp': 'dot'})
    done = ws.run('-v', 'job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert tree(server.path('up')) == {'big.bin': data}


@pytest.mark.parametrize('temp', ['dot', None])
def test_a_server_that_loses_data_never_leaves_a_half_file_under_its_name(ws, tmp_path, temp):
    """The SFTP server answers every write with success but keeps only 1 MiB of a
    file: the upload is a target error, the file never appears cut short."""
    from servers.paramiko_sftp import PlainSftpServer

    served = tmp_path / 'served'
    make_files(served, {'up/big.bin': b'the old version'})
    data = os.urandom(3 << 20)
    make_files(ws.src, {'big.bin': data, 'small.txt': b'small'})
    server = PlainSftpServer(str(tmp_path), str(served), keep_at_most=1 << 20)
    try:
        write_hosts(ws, srv={'type': 'SFTP', 'host': f'127.0.0.1:{server.port}',
                             'user': server.user, 'password': server.password,
                             'known_hosts': server.known_hosts, 'timeout': '30'})
        ws.write_job(source={'delete': 'yes'},
                     target={'host_id': 'srv', 'path': '/up', **({'temp': temp} if temp else {})})
        done = ws.run('--json', 'job1')
    finally:
        server.stop()
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    assert counts(result) == (1, 0, 1)
    [failed] = [item for item in result['files'] if item['tag'] == '<']
    assert failed['path'] == 'big.bin'
    assert f'the server stored {1 << 20} bytes of {3 << 20}' in failed['error']
    expected = {'small.txt': b'small'}
    if temp:
        expected['big.bin'] = b'the old version'     # untouched until the copy is complete
    assert tree(served / 'up') == expected
    assert tree(ws.src) == {'big.bin': data}


def test_a_file_cut_off_by_a_lost_connection_is_removed_by_the_next_try(
        ws, tmp_path, live_sshd, monkeypatch, caplog):
    """The server goes down in the middle of big.bin; before the next try big.bin is
    withdrawn from the source: that try removes what the first one left."""
    import threading

    import filetransfer
    from filetransfer.run import job as job_module

    setup = fault_job(ws, tmp_path, live_sshd, None, 'SFTP', 'up', job={'retries': '1'})

    def between_tries(seconds):
        os.unlink(os.path.join(setup.source, BIG))
        live_sshd.start()

    def stop_server():
        wait_for(lambda: os.path.exists(setup.partial())
                 and os.path.getsize(setup.partial()) >= 1 << 20, timeout=60)
        live_sshd.stop()

    monkeypatch.setattr(job_module, 'retry_wait', between_tries)
    caplog.set_level('INFO', logger='filetransfer')
    stopper = threading.Thread(target=stop_server)
    stopper.start()
    try:
        result, code = filetransfer.configure(ws.app_cfg, 'job1')[0]()
    finally:
        stopper.join(60)
    assert code == 0 and result.files_cnt == 2
    assert tree(setup.target) == SMALL
    assert 'removed .big.bin, left unfinished on the target by an earlier run' in caplog.text
