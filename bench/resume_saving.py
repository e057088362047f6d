"""How much time `[target] resume = yes` saves: a 1 GiB file (random bytes) is
uploaded, the upload is killed (SIGKILL) once 80 % of it arrived, and the next run
is timed with and without resume. Targets: a local directory and SFTP to a local
OpenSSH sshd (started as in the tests; needs sshd installed).

    .venv/bin/python bench/resume_saving.py [SIZE_MIB] [PERCENT]

Prints one line per target and mode. Not part of the test run.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests'))

from helpers import Workspace  # noqa: E402
from remote import sftp_host, write_hosts  # noqa: E402
from servers.sshd import SshServer, available  # noqa: E402

sys.path.insert(0, HERE)
from lab import make_random  # noqa: E402


def kill_at(ws, partial: str, size: int, percent: int) -> int:
    """Runs the job and kills it once ``partial`` holds ``percent`` % of ``size``."""
    proc = ws.popen('job1')
    goal = size * percent // 100
    while proc.poll() is None:
        try:
            if os.path.getsize(partial) >= goal:
                break
        except OSError:
            pass
        time.sleep(0.002)
    else:
        raise SystemExit('the upload ended before it could be interrupted')
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(0.5)        # a server may still write what it had received
    return os.path.getsize(partial)


def timed_run(ws) -> float:
    started = time.monotonic()
    done = ws.run('job1', timeout=3600)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f'run failed: {done.stderr}')
    return seconds


def measure(name, ws, target_options, remote, size, percent) -> None:
    partial = os.path.join(remote, '.big.bin')
    for resume in ('no', 'yes'):
        shutil.rmtree(remote, ignore_errors=True)
        ws.write_job(target={**target_options, 'path': remote, 'temp': 'dot',
                             'resume': resume})
        full = timed_run(ws)
        shutil.rmtree(remote, ignore_errors=True)
        have = kill_at(ws, partial, size, percent)
        rerun = timed_run(ws)
        same = subprocess.run(['cmp', '-s', os.path.join(ws.src, 'big.bin'),
                               os.path.join(remote, 'big.bin')]).returncode == 0
        print(f'{name:6} resume={resume:3}  full upload {full:6.2f} s   killed at '
              f'{100 * have / size:5.1f} %   next run {rerun:6.2f} s   identical: {same}',
              flush=True)


def main() -> None:
    size = int(sys.argv[1]) << 20 if len(sys.argv) > 1 else 1 << 30
    percent = int(sys.argv[2]) if len(sys.argv) > 2 else 80
    root = tempfile.mkdtemp(prefix='filetransfer-bench-')
    try:
        ws = Workspace(root)
        make_random(os.path.join(ws.src, 'big.bin'), size)
        measure('local', ws, {}, os.path.join(root, 'local-target'), size, percent)
        if not available():
            print('SFTP: sshd is not installed; skipped')
            return
        server = SshServer(os.path.join(root, 'sshd'))
        server.setup()
        server.start()
        try:
            write_hosts(ws, srv=sftp_host(server))
            measure('SFTP', ws, {'host_id': 'srv'}, os.path.join(root, 'sftp-target'), size,
                    percent)
        finally:
            server.stop()
            from servers.sshd import remove_password_user
            remove_password_user(server)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == '__main__':
    main()
