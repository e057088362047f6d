"""``[job] before`` and ``after``: real commands run by the real command, their
environment and output, a failing and a hanging ``before``, a SIGTERM while one runs,
and the children a command forks (stopped with it)."""

import json
import os
import signal
import stat

from filelock import FileLock

from helpers import make_files, tree
from procs import wait_for
from servers.common import free_port


def script(tmp_path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text('#!/bin/sh\n' + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for init to reap it does not)."""
    try:
        with open(f'/proc/{pid}/stat') as fh:
            return fh.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except FileNotFoundError:
        return False


def read(path) -> str:
    with open(path, encoding='utf-8') as fh:
        return fh.read()


# Writes what the after command was given into the folder $1.
AFTER = '''echo "$FILETRANSFER_JOB_ID $FILETRANSFER_EXIT_CODE" > "$1/after.env"
cp "$FILETRANSFER_RESULT" "$1/result.json"
echo "$FILETRANSFER_RESULT" > "$1/result.path"
echo cleaned up
'''


def test_before_and_after_around_the_transfer(ws, tmp_path):
    out = str(tmp_path)
    make_files(ws.src, {'a.txt': 'A'})
    before = script(tmp_path, 'before.sh', '''echo "$FILETRANSFER_JOB_ID" > "$1/before.env"
ls "$2" > "$1/before.ls" 2>/dev/null
echo mounted
echo "a note" >&2
''')
    after = script(tmp_path, 'after.sh', AFTER)
    ws.write_job(job={'before': f'{before} {out} {ws.dst}', 'after': f"'{after}' {out}"})
    done = ws.run('--json', 'job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert read(tmp_path / 'before.env') == 'job1\n'
    assert not os.path.exists(tmp_path / 'before.ls') or read(tmp_path / 'before.ls') == ''
    assert read(tmp_path / 'after.env') == 'job1 0\n'
    assert json.loads(read(tmp_path / 'result.json')) == json.loads(done.stdout)
    assert not os.path.exists(read(tmp_path / 'result.path').strip())   # removed after
    assert tree(ws.dst) == {'a.txt': b'A'}
    messages = [line.split(maxsplit=3)[3] for line in ws.log_text().splitlines()]
    order = [f"before command '{before}' started", 'before: mounted', 'before (stderr): a note',
             'transferred a.txt', f"after command '{after}' started", 'after: cleaned up',
             'job job1 finished']
    positions = [next(index for index, message in enumerate(messages)
                      if message.startswith(text)) for text in order]
    assert positions == sorted(positions), messages


def test_not_run_when_the_job_does_not_run(ws, tmp_path):
    before = script(tmp_path, 'before.sh', 'touch "$1/ran"\n')
    ws.write_job(job={'before': f'{before} {tmp_path}', 'after': f'{before} {tmp_path}',
                      'ready_file': 'go', 'single_instance': 'yes'})
    assert ws.run('job1').returncode == 0                          # not ready
    make_files(ws.src, {'go': ''})
    os.makedirs(ws.locks_dir, exist_ok=True)
    with FileLock(os.path.join(ws.locks_dir, 'job1.lock')):
        assert ws.run('job1').returncode == 0                      # already running
    assert not os.path.exists(tmp_path / 'ran')


def test_a_failing_before_stops_the_job_and_after_still_runs(ws, tmp_path):
    make_files(ws.src, {'a.txt': 'A'})
    before = script(tmp_path, 'mount.sh', 'echo tries >> "$1/tries"\n'
                    'for line in one two three four; do echo "$line" >&2; done\nexit 3\n')
    after = script(tmp_path, 'after.sh', AFTER)
    ws.write_job(job={'before': f'{before} {tmp_path}', 'after': f'{after} {tmp_path}',
                      'retries': '2'})
    done = ws.run('--json', 'job1')
    assert done.returncode == 2
    error = f"before command '{before}' failed (exit code 3): two | three | four"
    assert json.loads(done.stdout)['error'] == error
    assert read(tmp_path / 'tries') == 'tries\n'                   # not tried again
    assert not os.path.exists(ws.dst)                              # nothing transferred
    assert read(tmp_path / 'after.env') == 'job1 2\n'
    log = ws.log_text()
    assert f'job job1 failed: {error}; 0 file(s) transferred' in log and 'try 1' not in log


def test_before_runs_once_whatever_the_tries(ws, tmp_path):
    make_files(ws.src, {'a.txt': 'A'})
    before = script(tmp_path, 'before.sh', 'echo tries >> "$1/tries"\n')
    with open(ws.hosts_cfg, 'w') as fh:        # a target that refuses every connection
        fh.write(f'[srv]\ntype = FTP\nhost = 127.0.0.1:{free_port()}\nuser = u\n'
                 'password = p\n')
    os.chmod(ws.hosts_cfg, 0o600)
    ws.write_job(job={'before': f'{before} {tmp_path}', 'retries': '1'},
                 target={'host_id': 'srv', 'path': 'in'})
    assert ws.run('job1').returncode == 2
    assert 'try 1 of 2 failed' in ws.log_text()
    assert read(tmp_path / 'tries') == 'tries\n'


# Forks a child that ignores SIGTERM, notes both pids in $1, then waits.
FORKING = '''sh -c 'trap "" TERM; exec sleep 300' &
echo $! > "$1/child.pid"
echo $$ > "$1/hook.pid"
echo "waiting for the share" >&2
wait
'''


def test_a_before_that_takes_too_long_is_stopped_with_its_children(ws, tmp_path):
    make_files(ws.src, {'a.txt': 'A'})
    before = script(tmp_path, 'slow.sh', FORKING)
    ws.write_job(job={'before': f'{before} {tmp_path}', 'hook_timeout': '1'})
    done = ws.run('--json', 'job1')
    assert done.returncode == 2
    assert json.loads(done.stdout)['error'] == (
        f"before command '{before}' did not end within 1 s (stopped): waiting for the share")
    for name in ('hook.pid', 'child.pid'):
        pid = int(read(tmp_path / name))
        wait_for(lambda: not alive(pid), timeout=30)
    assert not os.path.exists(ws.dst)


def test_sigterm_during_before_stops_its_process_group_exit_5(ws, tmp_path):
    make_files(ws.src, {'a.txt': 'A'})
    before = script(tmp_path, 'slow.sh', FORKING)
    after = script(tmp_path, 'after.sh', AFTER)
    ws.write_job(job={'before': f'{before} {tmp_path}', 'after': f'{after} {tmp_path}'})
    proc = ws.popen('job1')
    wait_for(lambda: os.path.exists(tmp_path / 'hook.pid') and
             read(tmp_path / 'hook.pid').strip(), proc=proc)
    pids = [int(read(tmp_path / name)) for name in ('hook.pid', 'child.pid')]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 5
    for pid in pids:                         # the child ignored SIGTERM: it got SIGKILL
        wait_for(lambda: not alive(pid), timeout=30)
    assert read(tmp_path / 'after.env') == 'job1 5\n'
    assert not os.path.exists(ws.dst)
    assert 'job job1 terminated: terminated by signal SIGTERM' in ws.log_text()


def test_a_failing_after_is_a_warning(ws, tmp_path):
    make_files(ws.src, {'a.txt': 'A'})
    after = script(tmp_path, 'umount.sh', 'echo "umount: target is busy" >&2\nexit 32\n')
    ws.write_job(job={'after': after})
    done = ws.run('--json', 'job1')
    assert (done.returncode, json.loads(done.stdout)['error']) == (0, None)
    assert (f"WARNING  after command '{after}' failed (exit code 32): umount: target is busy; "
            'the exit code stays 0') in ws.log_text()


def test_a_command_that_cannot_be_started(ws, tmp_path):
    make_files(ws.src, {'a.txt': 'A'})
    missing = str(tmp_path / 'no-such-program')
    ws.write_job(job={'before': missing})
    done = ws.run('--json', 'job1')
    assert done.returncode == 2
    assert json.loads(done.stdout)['error'] == \
        f"before command '{missing}' cannot be started: No such file or directory"


def test_a_sigterm_during_after_lets_it_finish_and_the_outcome_stands(ws, tmp_path):
    """The run's outcome is decided before after runs: like the mail, the clean-up it
    does is not cut short (hook_timeout bounds it)."""
    make_files(ws.src, {'a.txt': 'A'})
    after = script(tmp_path, 'after.sh', 'echo $$ > "$1/after.pid"\nsleep 1\n'
                   'echo "$FILETRANSFER_EXIT_CODE" > "$1/after.done"\n')
    ws.write_job(job={'after': f'{after} {tmp_path}'})
    proc = ws.popen('job1')
    wait_for(lambda: os.path.exists(tmp_path / 'after.pid'), proc=proc)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    assert read(tmp_path / 'after.done') == '0\n'
    assert 'SIGTERM came after the transfer was complete; the outcome stands' in ws.log_text()
