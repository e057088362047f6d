"""Runs the contenders of a case alternately and times them.

Each run is a whole process, timed from start to exit (start-up, connection and login
included, as a cron job sees them). Its peak RSS is measured by GNU time
(``/usr/bin/time -f %M``), which starts the command itself: the kernel hands a new
process the peak of the process it was forked from, so a command forked straight from
this (larger) Python process would show this process's peak, not its own. The figure
is the largest single process of the command's tree (say filetransfer or its ssh
child, rsync or its ssh), not their sum.
"""

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

GNU_TIME = '/usr/bin/time'


class BenchError(Exception):
    pass


@dataclass
class Contender:
    """One tool in a case: ``argv`` runs it, ``prepare`` resets its target first,
    ``check`` raises BenchError when its result is wrong; ``ours`` marks filetransfer."""

    name: str
    argv: list
    prepare: object = None
    check: object = None
    env: dict | None = None
    ours: bool = False
    seconds: list = field(default_factory=list)
    rss_kib: list = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


@dataclass
class Case:
    """Contenders doing the same work: ``amount`` bytes ('MB/s') or files ('files/s')
    in one run, or nothing to count ('s': only the time is shown). The first
    contender is filetransfer with its default settings. ``targets`` maps a
    contender's name to the least ratio (filetransfer's speed ÷ its) the project aims
    at; ``notes`` go under the case's table."""

    title: str
    unit: str
    amount: int
    contenders: list
    targets: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    group: str = ''
    load: float | None = None     # the machine's load average when the case ended



def rss_available() -> bool:
    return os.access(GNU_TIME, os.X_OK)


def run_timed(contender: Contender) -> tuple[float, int | None]:
    """Runs a contender once: (wall seconds, peak RSS in KiB or None without GNU time)."""
    with tempfile.NamedTemporaryFile(prefix='rss-') as rss, tempfile.TemporaryFile() as err:
        argv = contender.argv
        if rss_available():
            argv = [GNU_TIME, '-f', '%M', '-o', rss.name, *argv]
        started = time.perf_counter()
        code = subprocess.call(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=err, env=contender.env)
        seconds = time.perf_counter() - started
        if code:
            err.seek(0)
            raise BenchError(f'{contender.name} exited with {code}: '
                             f'{err.read()[-1500:].decode(errors="replace")}')
        lines = rss.read().decode().split()
    return seconds, int(lines[-1]) if lines else None


def measure(case: Case, runs: int, budget: float) -> None:
    """Runs the contenders of ``case`` in turn, ``runs`` rounds; a contender whose
    runs took ``budget`` seconds in all sits out the later rounds (it ran once at
    least). A contender that fails is reported and left out of the case."""
    for number in range(runs):
        for contender in case.contenders:
            if contender.seconds is None or (contender.seconds and
                                             sum(contender.seconds) >= budget):
                continue
            try:
                if contender.prepare:
                    contender.prepare()
                os.sync()        # no run pays for what the one before left to write
                seconds, rss = run_timed(contender)
                if contender.check:
                    contender.check()
            except BenchError as exc:
                print(f'  {case.title}: {exc}', flush=True)
                case.notes.append(f'{contender.name} failed: {str(exc)[:300]}')
                contender.seconds = None
                continue
            contender.seconds.append(seconds)
            contender.rss_kib.append(rss)
            print(f'  {case.title} #{number + 1} {contender.name}: {seconds:.3f} s',
                  flush=True)
    case.contenders = [item for item in case.contenders if item.seconds]
    case.load = os.getloadavg()[0]
    for contender in case.contenders:
        if contender.prepare:
            contender.prepare()      # leaves the disk as it was


def installed(program: str) -> bool:
    return shutil.which(program) is not None
