"""SIGKILL at random points of a many-file job with ``delete = yes`` (local to local,
local to SFTP, SFTP to local), then the same job again until a run completes: every
file ends up exactly once and intact, in the source or the target; no temp file is
left on either side; no record of files being written (``JOBID.writing.PID``) stays
in locks_dir. Many iterations kill the next run too, while it cleans up after the
first one.

Between the runs a file may be in both places, identical: the run was killed after
the file was renamed into place and before its source was deleted, and the next
run sends it again (at least once, never lost). That is allowed, and counted; after
the completing run it is a defect like any other. A temp file left between the runs
must hold the start of its file (resume continues it).

Where a kill lands: one complete run of each case is timed first; a kill then comes
after the log names the Nth file transferred (N random among the files left) and a
random part of a quarter of that run's duration, or now and then at a random moment
of its start-up (while it takes over the record of a killed run).

The random choices (files, sizes, number of kills, kill points) come from
``random.Random`` seeded with FAULT_SEED (default `SEED`), the case and the
iteration; a failure names all three. When a kill lands depends on the machine's
load too, so a replay repeats the choices, not the exact instant.
FAULT_ITERATIONS=N runs N iterations of every case; ``-m 'not slow'`` leaves out
the wider set of cases.
"""

import itertools
import os
import random
import re
import shutil
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass

import pytest

from faults import json_result
from filetransfer.config.tempnames import TempNames
from helpers import Workspace, make_files, tree
from procs import wait_for
from remote import sftp_host, write_hosts

SEED = int(os.environ.get('FAULT_SEED', '20240611'))
ITERATIONS = int(os.environ.get('FAULT_ITERATIONS', '0'))     # 0: iterations_of()
FOLDERS = ('', 'sub/', 'sub/deeper/', 'other/')
STARTED = ' started: '                          # in the log's first line of a run
TRANSFERRED = re.compile(r' INFO +transferred ')  # a file's line in the log


@dataclass(frozen=True)
class Case:
    direction: str       # 'local' (local to local), 'up' (to SFTP), 'down' (from SFTP)
    temp: str
    resume: bool
    connections: int

    def __str__(self):
        return (f'{self.direction}-{self.temp}-resume_{"yes" if self.resume else "no"}'
                f'-connections_{self.connections}')


ALL_CASES = [Case(*values) for values in itertools.product(
    ('local', 'up', 'down'), ('dot', 'ext:.part', 'dir:incoming'), (False, True), (1, 4))]
# Every direction with every temp mode; resume and connections each both ways per
# direction and per temp mode.
DEFAULT_CASES = [
    Case('local', 'dot', False, 4), Case('local', 'ext:.part', True, 1),
    Case('local', 'dir:incoming', True, 4),
    Case('up', 'dot', True, 1), Case('up', 'ext:.part', False, 4),
    Case('up', 'dir:incoming', True, 1),
    Case('down', 'dot', True, 4), Case('down', 'ext:.part', False, 1),
    Case('down', 'dir:incoming', False, 4),
]
SLOW_CASES = [case for case in ALL_CASES if case not in DEFAULT_CASES]


def make_originals(rng) -> dict[str, bytes]:
    """Twenty files in four folders: some empty, most small, three of a few MiB
    (long enough for kills to land in the middle of them)."""
    sizes = [0] * 3 + [rng.randint(1, 64 << 10) for _ in range(14)] + \
        [rng.randint(2 << 20, 5 << 20) for _ in range(3)]
    rng.shuffle(sizes)
    return {f'{rng.choice(FOLDERS)}f{index:02}.bin': rng.randbytes(size)
            for index, size in enumerate(sizes)}


class Iteration:
    """One job in a fresh workspace under ``root``, its source filled with
    ``originals``."""

    def __init__(self, root, case: Case, originals: dict, sshd=None):
        self.ws = Workspace(root)
        self.sshd = sshd
        self.originals = originals
        self.temp = TempNames.parse(case.temp)
        remote = os.path.join(str(root), 'remote')
        self.source, self.target = {'local': (self.ws.src, self.ws.dst),
                                    'up': (self.ws.src, remote),
                                    'down': (remote, self.ws.dst)}[case.direction]
        on_server = {'host_id': 'srv', 'path': remote}
        if sshd is not None:
            write_hosts(self.ws, srv=sftp_host(sshd))
        self.ws.write_job(
            job={'single_instance': 'yes'},
            source={'delete': 'yes', 'recursive': 'yes',
                    **(on_server if case.direction == 'down' else {})},
            target={'temp': case.temp, 'resume': 'yes' if case.resume else 'no',
                    'connections': str(case.connections),
                    **(on_server if case.direction == 'up' else {})})
        make_files(self.source, originals)

    def log_counts(self) -> tuple[int, int]:
        """(runs started, files transferred) so far, from the job's log."""
        text = self.ws.log_text()
        return text.count(STARTED), len(TRANSFERRED.findall(text))

    def files_left(self) -> int:
        return sum(len(names) for _, _, names in os.walk(self.source))

    def timed_run(self) -> tuple[float, float]:
        """Runs the job to its end: the seconds until its log said it started (the
        source open), and from then on to its end."""
        before = self.log_counts()[0]
        began = time.monotonic()
        proc = self.ws.popen('job1', stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
        try:
            wait_for(lambda: self.log_counts()[0] > before, timeout=60, interval=0.002,
                     proc=proc)
            started = time.monotonic()
            assert (proc.wait(timeout=120), proc.stderr.read()) == (0, '')
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        return started - began, time.monotonic() - started

    def killed_run(self, delay: float, files: int | None) -> int:
        """Runs the job and sends it SIGKILL ``delay`` seconds after its launch or,
        with ``files``, after its log said it started and transferred that many
        files; its exit status (-9 when killed, 0 when it ended first)."""
        started, transferred = self.log_counts()

        def far_enough():
            runs, files_done = self.log_counts()
            return runs > started and files_done >= transferred + files

        proc = self.ws.popen('job1', stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if files is not None:
                wait_for(far_enough, timeout=120, interval=0.002, proc=proc)
            time.sleep(delay)
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            status = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.settle()
        return status

    def settle(self) -> None:
        """Waits until the server has ended the killed run's sessions: until then its
        sftp-server may still carry out requests that run sent."""
        if self.sshd is not None:
            try:
                wait_for(lambda: not self.sshd.sessions(), timeout=30, interval=0.01)
            except AssertionError:
                raise AssertionError(f'sessions of a killed run still open after 30 s: '
                                     f'{self.sshd.sessions()}') from None

    def findings(self, complete: bool) -> tuple[list[str], set, int]:
        """What breaks the invariant now (between runs when not ``complete``), the
        files in both source and target, and the number of temp files."""
        source, target = tree(self.source), tree(self.target)
        found, in_both, temp_files = [], set(), 0
        for path, data in self.originals.items():
            places = [side for side, files in (('source', source), ('target', target))
                      if path in files]
            for side, files in (('source', source), ('target', target)):
                if path in files and files[path] != data:
                    found.append(f'{path} corrupted in the {side} ({len(files[path])} bytes, '
                                 f'{len(data)} expected)')
            if not places:
                found.append(f'{path} lost (in neither source nor target)')
            elif len(places) == 2:
                in_both.add(path)
                if complete:
                    found.append(f'{path} in both source and target')
        for path in sorted(set(source) - set(self.originals)):
            found.append(f'{path} appeared in the source')
        temps = {self.temp.temp_path(path): path for path in self.originals}
        for path in sorted(set(target) - set(self.originals)):
            original = self.originals.get(temps.get(path))
            if original is None:
                found.append(f'{path} appeared in the target')
            elif complete:
                found.append(f'temp file {path} left in the target')
            elif not original.startswith(target[path]):
                found.append(f'temp file {path} is not a prefix of {temps[path]}')
            else:
                temp_files += 1
        if complete:
            records = sorted(name for name in os.listdir(self.ws.locks_dir)
                             if '.writing.' in name)
            for name in records:
                with open(os.path.join(self.ws.locks_dir, name), encoding='utf-8') as fh:
                    found.append(f'record {name} left in locks_dir: {fh.read()!r}')
        return found, in_both, temp_files


def iterations_of(case: Case, wider: bool) -> int:
    """FAULT_ITERATIONS, else a few (more of the local ones, which are quick); fewer
    for each case of the wider set."""
    if ITERATIONS:
        return ITERATIONS
    if case.direction == 'local':
        return 2 if wider else 3
    return 1 if wider else 2


def run_case(case: Case, iterations: int, tmp_path, request) -> None:
    """Times one complete run, then kills and runs the job again ``iterations``
    times; stops at the first iteration that finds a defect."""
    sshd = request.getfixturevalue('live_sshd') if case.direction != 'local' else None
    measure = Iteration(tmp_path / 'measure', case,
                        make_originals(random.Random(f'{SEED}/{case}/measure')), sshd)
    starting, busy = measure.timed_run()
    found = measure.findings(complete=True)[0]
    assert found == [], f'{case}: a run without kills: {found}'
    shutil.rmtree(measure.ws.root)
    seen = Counter()
    for number in range(iterations):
        rng = random.Random(f'{SEED}/{case}/{number}')
        iteration = Iteration(tmp_path / str(number), case, make_originals(rng), sshd)
        where = f'FAULT_SEED={SEED} case {case} iteration {number}'
        history, sent_again = [], set()
        # the first iteration kills the run after a killed one too (in its clean-up)
        for _ in range(2 if number == 0 else rng.randint(1, 3)):
            if rng.random() < 0.8:     # while files move: after a file and a bit
                files = int(rng.random() * iteration.files_left())
                delay = rng.uniform(0, busy / 4)
                when = f'{delay:.3f} s after file {files}'
            else:      # while the run starts (and takes over a killed run's record)
                files = None
                delay = rng.uniform(0, starting)
                when = f'{delay:.3f} s after its launch'
            status = iteration.killed_run(delay, files)
            history.append(f'{"killed" if status == -signal.SIGKILL else "ended"} {when}')
            assert status in (0, -signal.SIGKILL), f'{where}: {history}: exit status {status}'
            found, in_both, temp_files = iteration.findings(complete=False)
            assert found == [], f'{where}: after {history}: {found}'
            sent_again |= in_both
            if status:
                seen['kills'] += 1
                seen['kills leaving temp files'] += temp_files > 0
        done = iteration.ws.run('--json', 'job1')
        assert (done.returncode, done.stderr) == (0, ''), \
            f'{where}: the run after {history} failed: {done.stdout} {done.stderr}'
        assert json_result(done)['status'] == 'success'
        found, _, _ = iteration.findings(complete=True)
        assert found == [], f'{where}: after {history} and a complete run: {found}'
        seen['files sent again'] += len(sent_again)
        shutil.rmtree(iteration.ws.root)     # some 10 MiB each; a failing one is kept
    print(f'{case}: {iterations} iterations, a run {starting:.2f} s + '
          f'{busy:.2f} s: {dict(seen)}')


@pytest.mark.parametrize('case', DEFAULT_CASES, ids=str)
def test_killed_runs_then_a_complete_one_leave_every_file_once(case, tmp_path, request):
    run_case(case, iterations_of(case, wider=False), tmp_path, request)


@pytest.mark.slow
@pytest.mark.parametrize('case', SLOW_CASES, ids=str)
def test_killed_runs_every_combination(case, tmp_path, request):
    run_case(case, iterations_of(case, wider=True), tmp_path, request)
