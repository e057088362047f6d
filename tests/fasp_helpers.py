"""Shared by the faspmanager and FASP job tests: the installed ascp emulator, orders for
the test sshd, a listener recording events, a wrapper recording how ascp was run."""

import json
import os
import signal
import sys
import threading

import pytest

import faspmanager as fm
from faspmanager.testing import emulator_path


def emulator() -> str:
    path = emulator_path()
    if path is None:
        pytest.fail('the ascp-emulator console script is not installed (run make test)')
    return path


def gone(pid) -> bool:
    """Whether process ``pid`` no longer exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def ended(pid) -> bool:
    """Whether process ``pid`` is gone, or a zombie no one reaps (as PID 1 of a
    container may leave it)."""
    try:
        with open(f'/proc/{pid}/stat') as fh:
            return fh.read().rsplit(')', 1)[1].split()[0] in ('Z', 'X')
    except FileNotFoundError:
        return True


def key_auth(sshd) -> dict:
    return {'dest_user': sshd.user, 'dest_host': sshd.host,
            'dest_identity': sshd.client_keys['ed25519']}


def download_auth(sshd) -> dict:
    return {'source_user': sshd.user, 'source_host': sshd.host,
            'source_identity': sshd.client_keys['ed25519']}


def options(sshd, **kwargs) -> fm.TransferOptions:
    kwargs.setdefault('tcp_port', sshd.port)
    kwargs.setdefault('target_rate_kbps', 800000)
    return fm.TransferOptions(**kwargs)


class Recorder:
    """A listener keeping every event; ``wait_for`` blocks (bounded) for one."""

    def __init__(self):
        self.events = []
        self._cond = threading.Condition()

    def __call__(self, event):
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def types(self):
        with self._cond:
            return [event.event_type.value for event in self.events]

    def wait_for(self, predicate, timeout=30.0):
        with self._cond:
            if not self._cond.wait_for(lambda: any(predicate(e) for e in self.events),
                                       timeout):
                raise AssertionError(f'no such event within {timeout} s; got {self.types()}')
            return next(e for e in self.events if predicate(e))

    def of_type(self, name):
        with self._cond:
            return [event for event in self.events if event.event_type.value == name]


def kill_job_with_its_ascp(proc, wrapper, partial, locks_dir=None) -> None:
    """SIGKILLs the job ``proc`` once ascp wrote some bytes to ``partial`` and, with
    ``locks_dir``, the job's journal there records it (after ascp's first STATS
    event), then waits (bounded) for its one ascp run to end; kills what is left of
    it anyway."""
    from procs import wait_for

    def recorded():
        if locks_dir is None:
            return True
        name = os.path.basename(partial)
        for journal in os.listdir(locks_dir):
            if '.writing.' in journal:
                with open(os.path.join(locks_dir, journal), errors='replace') as fh:
                    if name in fh.read():
                        return True
        return False

    try:
        assert wait_for(lambda: os.path.exists(partial) and os.path.getsize(partial) > 0
                        and recorded(), proc=proc), proc.communicate()
        proc.kill()
        proc.wait()
        [run] = wrapper.runs
        wait_for(lambda: ended(run['pid']), timeout=10)
    finally:
        for run in wrapper.runs:
            if not ended(run['pid']):
                os.kill(run['pid'], signal.SIGKILL)


WRAPPER = '''#!{python}
import json, os, sys
with open({record!r}, 'a') as fh:
    fh.write(json.dumps({{'pid': os.getpid(), 'argv': sys.argv[1:],
                         'password': os.environ.get('ASPERA_SCP_PASS')}}) + '\\n')
{body}
os.execv({emulator!r}, [{emulator!r}] + sys.argv[1:])
'''


class AscpWrapper:
    """An executable to use as ascp_path: it records each run (pid, argv, the password
    it got in ASPERA_SCP_PASS) in ``runs``, runs ``body`` (Python, may change
    ``sys.argv`` or ``os.environ``), then becomes the ascp emulator (same pid)."""

    def __init__(self, folder, body=''):
        self.path = str(folder / 'ascp-wrapper')
        self.record = str(folder / 'ascp-runs.jsonl')
        with open(self.path, 'w') as fh:
            fh.write(WRAPPER.format(python=sys.executable, record=self.record, body=body,
                                    emulator=emulator()))
        os.chmod(self.path, 0o755)

    @property
    def runs(self) -> list[dict]:
        try:
            with open(self.record) as fh:
                return [json.loads(line) for line in fh]
        except FileNotFoundError:
            return []
