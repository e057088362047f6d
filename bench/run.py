"""Benchmarks of the `filetransfer` command against the tools operators would
otherwise use (sftp, scp, rsync, rclone, lftp, cp), measured in the same run on this
machine, on 127.0.0.1 and over links with a round-trip time (a delay proxy in front of
the test sshd). Prints the results and writes them, with the machine's details, to
bench/RESULTS.md.

    make bench                      # installs the tools first (Debian packages, as root)
    make bench BENCH_ARGS='--runs 5 --only sftp,latency --latency-files 100'
    .venv/bin/python bench/run.py --help

The cases are built by cases.py (127.0.0.1) and latency.py (through the proxy), run by
timing.py against what lab.py sets up, and written by report.py.
"""

import argparse
import datetime
import os
import shlex
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import cases  # noqa: E402
from argtypes import number, numbers  # noqa: E402
import latency  # noqa: E402
import proxycheck  # noqa: E402
import report  # noqa: E402
from lab import Lab, make_random  # noqa: E402
from timing import measure, rss_available  # noqa: E402

STARTUP_RUNS = 15
BUILDERS = {
    'startup': cases.startup,
    'local': cases.local,
    'sftp': cases.sftp,
    'small': cases.small,
    'ftp': lambda lab, settings: cases.ftp(lab, settings, tls=False),
    'ftps': lambda lab, settings: cases.ftp(lab, settings, tls=True),
    'latency': latency.latency,
    'growth': cases.growth,
    'remember': cases.remember,
    'fewnew': latency.few_new,
    'proftpd': cases.proftpd,
}
NEEDS_SSHD = {'sftp', 'small', 'latency', 'growth', 'remember', 'fewnew', 'proxy'}
CHOICES = ('proxy', *BUILDERS)


def settings_from(argv: list) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--runs', type=number(int, 1), default=3, help='runs of each tool per case')
    parser.add_argument('--budget', type=number(float, 0, above=True), default=40.0,
                        help='seconds of runs after which a tool runs no more in a case')
    parser.add_argument('--only', default=','.join(CHOICES),
                        help=f'comma-separated cases of {", ".join(CHOICES)}')
    parser.add_argument('--size', type=number(int, 1), default=1024, help='MiB of the big file')
    parser.add_argument('--files', type=number(int, 1), default=5000,
                        help='number of 4 KiB files (small, remember)')
    parser.add_argument('--rtts', type=numbers(float, 0), default=[0, 10, 50],
                        help='round-trip times (ms) of the latency cases')
    parser.add_argument('--latency-size', type=number(int, 1), default=64,
                        help='MiB of the file of the latency cases')
    parser.add_argument('--latency-files', type=number(int, 1), default=500,
                        help='number of 4 KiB files of the latency cases')
    parser.add_argument('--growth', type=numbers(int, 1), default=[500, 5000, 20000],
                        help='numbers of 4 KiB files of the growth cases')
    parser.add_argument('--among', type=number(int, 1), default=20000,
                        help='files in the server folder of the fewnew cases')
    parser.add_argument('--new', type=number(int, 1), default=10, help='of them new (fewnew)')
    parser.add_argument('--few-new-rtts', type=numbers(float, 0), default=[0, 50],
                        help='round-trip times (ms) of the fewnew cases')
    parser.add_argument('--tiny-files', type=number(int, 1), default=100,
                        help='number of 100-byte files (proftpd)')
    parser.add_argument('--python', default=sys.executable,
                        help='the Python of the installation timed: its filetransfer '
                             'command and its "import click" (make bench: .venv-bench, '
                             'installed by pip install . as a user installs it)')
    parser.add_argument('--results', default=os.path.join(HERE, 'RESULTS.md'),
                        help='where the results go (- for nowhere)')
    settings = parser.parse_args(argv)
    chosen = [name.strip() for name in settings.only.split(',') if name.strip()]
    unknown = set(chosen) - set(CHOICES)
    if unknown:
        parser.error(f'unknown cases: {", ".join(sorted(unknown))}')
    if not chosen:
        parser.error('--only names no case')
    if settings.new > settings.among:
        parser.error(f'--new {settings.new} is more than --among {settings.among}')
    command = os.path.join(os.path.dirname(settings.python), 'filetransfer')
    if not os.access(settings.python, os.X_OK) or not os.access(command, os.X_OK):
        parser.error(f'--python {settings.python}: no such Python, or no filetransfer '
                     'command beside it (make bench-install)')
    settings.chosen = chosen
    settings.command = shlex.join(['bench/run.py', *argv])
    settings.size <<= 20
    settings.latency_size <<= 20
    return settings


def main(argv: list) -> int:
    settings = settings_from(argv)
    if not rss_available():
        print('GNU time (/usr/bin/time) is not installed: no peak RSS', flush=True)
    root = tempfile.mkdtemp(prefix='filetransfer-bench-')
    lab = Lab(root, settings.python)
    measured, proxy_figures = [], ''
    started = datetime.datetime.now()
    clock = time.monotonic()
    load_at_start = os.getloadavg()[0]
    try:
        print(f'making the data in {root} ...', flush=True)
        make_random(lab.path('big', 'big.bin'), settings.size)
        if NEEDS_SSHD & set(settings.chosen):
            lab.start_sshd()
        for name in settings.chosen:
            if name in ('ftp', 'ftps') and not lab.start_ftpd(name == 'ftps'):
                continue
            if name in NEEDS_SSHD and not lab.sshd:
                continue
            if name == 'proxy':
                print('the delay proxy:', flush=True)
                proxy_figures = proxycheck.validate(settings.rtts)
                print(proxy_figures, flush=True)
                continue
            for case in BUILDERS[name](lab, settings):
                print(f'{case.title}:', flush=True)
                measure(case, max(settings.runs, STARTUP_RUNS) if name == 'startup'
                        else settings.runs, settings.budget)
                measured.append(case)
    finally:
        lab.stop()
        shutil.rmtree(root, ignore_errors=True)
    minutes = (time.monotonic() - clock) / 60
    text = report.document(started, settings, proxy_figures, measured, lab.skipped, minutes,
                           (load_at_start, os.getloadavg()[0]))
    print()
    print(text)
    if settings.results != '-':
        with open(settings.results, 'w', encoding='utf-8') as fh:
            fh.write(text)
        print(f'\nwritten to {settings.results}')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
