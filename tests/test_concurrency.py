"""Several processes of the same single_instance job started at once: exactly one
transfers, every file arrives once and intact, and delete never removes a file twice
or before its copy is in place."""

import json
import os
import signal
import stat
import subprocess

import pytest

from helpers import make_files, tree
from procs import make_dense, make_sparse, wait_for
from remote import sftp_host, write_hosts

RUNS = 5


def finished(proc) -> dict:
    out, err = proc.communicate(timeout=120)
    assert (proc.returncode, err) == (0, ''), err
    return json.loads(out)


@pytest.mark.parametrize('remote', [None, 'source', 'target'])
def test_simultaneous_runs_of_a_single_instance_job(ws, tmp_path, live_sshd, remote):
    files = {f'f{index:02}.txt': os.urandom(1000 + index) for index in range(20)}
    server_dir = str(tmp_path / 'remote')
    source_dir, target_dir = (server_dir, ws.dst) if remote == 'source' else \
        (ws.src, server_dir if remote == 'target' else ws.dst)
    make_files(source_dir, files)
    if remote:
        make_sparse(os.path.join(source_dir, 'zz-big.bin'), 64 << 20)
    else:   # a local copy skips holes: only a dense file keeps it busy
        make_dense(os.path.join(source_dir, 'zz-big.bin'), 1 << 30)
    big_size = os.path.getsize(os.path.join(source_dir, 'zz-big.bin'))
    write_hosts(ws, srv=sftp_host(live_sshd))
    on_server = {'host_id': 'srv', 'path': server_dir}
    ws.write_job(job={'single_instance': 'yes'},
                 source={**(on_server if remote == 'source' else {}), 'delete': 'yes'},
                 target={**(on_server if remote == 'target' else {}), 'temp': 'dot'})
    procs = {proc.pid: proc for proc in (
        ws.popen('--json', 'job1', stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(RUNS))}
    try:
        # The run that holds the lock keeps its record of files being written (named
        # by its pid) in locks_dir: it is held still until all the others ended.
        winner = wait_for(lambda: os.path.exists(os.path.join(target_dir, '.zz-big.bin'))
                          and next((int(name.rsplit('.', 1)[1]) for name in
                                    os.listdir(ws.locks_dir) if '.writing.' in name), None))
        os.kill(winner, signal.SIGSTOP)
        results = {}
        for pid, proc in procs.items():
            if pid != winner:
                results[pid] = finished(proc)
        os.kill(winner, signal.SIGCONT)
        results[winner] = finished(procs[winner])
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.kill()
                proc.wait()
    assert results[winner]['status'] == 'success'
    assert results[winner]['files_cnt'] == len(files) + 1
    assert [results[pid]['status'] for pid in procs if pid != winner] == \
        ['already_running'] * (RUNS - 1)
    assert os.path.getsize(os.path.join(target_dir, 'zz-big.bin')) == big_size
    os.unlink(os.path.join(target_dir, 'zz-big.bin'))
    assert tree(target_dir) == files
    assert tree(source_dir) == {}
    lock = os.path.join(ws.locks_dir, 'job1.lock')
    assert stat.S_IMODE(os.stat(lock).st_mode) == 0o600
    assert sorted(os.listdir(ws.locks_dir)) == ['job1.lock', 'state.sqlite3']
