"""Start-up time of the command, against `python -c "import click"` of the same
interpreter: `filetransfer -V`, and a local job that exits because its ready file
is missing. The three are run in turn, RUNS times each; the medians are compared.

    .venv/bin/python bench/startup.py [RUNS]

Run it with the venv's python: the command is taken from the same directory.
Prints one line per command. Not part of the test run.
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests'))

from helpers import Workspace  # noqa: E402


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    script = shutil.which('filetransfer', path=os.path.dirname(sys.executable))
    if not script:
        raise SystemExit(f'no filetransfer command beside {sys.executable}')
    with tempfile.TemporaryDirectory() as root:
        ws = Workspace(root)
        ws.write_job(job={'ready_file': 'go.now'})
        commands = {
            'import click': [sys.executable, '-c', 'import click'],
            'filetransfer -V': [script, '-V'],
            'job not ready': [script, '-c', ws.app_cfg, 'job1'],
        }
        times = {name: [] for name in commands}
        for _ in range(runs):
            for name, argv in commands.items():
                started = time.perf_counter()
                subprocess.run(argv, check=True, cwd=root, stdout=subprocess.DEVNULL)
                times[name].append(time.perf_counter() - started)
    base = statistics.median(times['import click'])
    for name, seconds in times.items():
        median = statistics.median(seconds)
        print(f'{name:16s} median {median * 1000:6.1f} ms  x{median / base:.2f}')


if __name__ == '__main__':
    main()
