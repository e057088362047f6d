"""What the single-instance lock and the run history cost per run: a job that copies
one small local file, run with no state at all (no locks_dir, no state_db: no lock,
no history), with locks_dir (a lock file, the record file, the SQLite history) and
with a PostgreSQL state_db (advisory lock, record and history in the database, on
a server started as in the tests: tests/servers/postgres.py, Unix socket).

Two measures per mode: whole runs of the command (start-up included, as a timer
sees them) and runs of the library in one process (`Job.run`, each with its own
connection, as a run has): the second shows the database work alone.

    .venv/bin/python bench/lock_overhead.py [--runs N] [--results FILE]

`make bench` runs it after bench/run.py. Prints a table (medians, and the overhead
against no state) and writes it to bench/LOCK_OVERHEAD.md.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests'))

from helpers import Workspace, command_argv, ini_value, make_files, write_ini  # noqa: E402

MODES = ('none', 'sqlite', 'postgres')


def configure(ws: Workspace, mode: str, server) -> str:
    """Writes the application file of ``mode``; returns its path."""
    settings = {'jobs_dir': ws.jobs_dir}
    if mode == 'sqlite':
        settings['locks_dir'] = ws.locks_dir
    elif mode == 'postgres':
        settings['state_db'] = ini_value(server.new_database().url)
    path = os.path.join(ws.root, f'{mode}.cfg')
    write_ini(path, {'global': settings, 'logging': {'disabled': 'yes'}})
    ws.write_job(f'job_{mode}', job={'single_instance': 'no' if mode == 'none' else 'yes'})
    return path


def time_commands(configs: dict, runs: int) -> dict:
    """{mode: [seconds of each run]}; the modes take turns, so a change in the
    machine's load falls on all of them."""
    seconds = {mode: [] for mode in configs}
    for _ in range(runs):
        for mode, config in configs.items():
            started = time.perf_counter()
            done = subprocess.run(command_argv('-c', config, f'job_{mode}'),
                                  capture_output=True, text=True)
            seconds[mode].append(time.perf_counter() - started)
            if done.returncode:
                raise SystemExit(f'job_{mode} failed ({done.returncode}): {done.stderr}')
    return seconds


def time_library(config: str, job_id: str, runs: int) -> list[float]:
    """Runs the job ``runs`` times in a child process (a fresh interpreter per
    mode, so no driver is loaded before it is measured)."""
    probe = f'''
import json, time
from filetransfer.run.job import load
job = load({config!r}, {job_id!r})
job.run()      # loads the modules of the path once
seconds = []
for _ in range({runs}):
    started = time.perf_counter()
    job.run()
    seconds.append(time.perf_counter() - started)
print(json.dumps(seconds))
'''
    done = subprocess.run([sys.executable, '-c', probe], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f'{job_id} failed in the library: {done.stderr}')
    import json
    return json.loads(done.stdout.splitlines()[-1])


def ms(value: float) -> str:
    return f'{value * 1000:.1f} ms'


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--runs', type=int, default=20)
    parser.add_argument('--results', default=os.path.join(HERE, 'LOCK_OVERHEAD.md'))
    args = parser.parse_args()
    from servers import postgres

    if not postgres.available():
        print('PostgreSQL is not installed (make test-deps installs it): only none and sqlite',
              file=sys.stderr)
    server = None
    with tempfile.TemporaryDirectory(prefix='filetransfer-lockbench-') as root:
        ws = Workspace(root)
        make_files(ws.src, {'a.txt': 'x' * 1000})
        modes = MODES if postgres.available() else MODES[:2]
        try:
            if 'postgres' in modes:
                server = postgres.PostgresServer().setup()
                server.start()
            configs = {mode: configure(ws, mode, server) for mode in modes}
            command = {mode: statistics.median(seconds)
                       for mode, seconds in time_commands(configs, args.runs).items()}
            library = {mode: statistics.median(time_library(configs[mode], f'job_{mode}',
                                                            args.runs))
                       for mode in modes}
        finally:
            if server is not None:
                server.stop()
                server.remove()
    lines = ['| state | command run (median) | overhead | library run (median) | overhead |',
             '|---|---|---|---|---|']
    for mode in modes:
        lines.append(f'| {mode} | {ms(command[mode])} | '
                     f'{ms(command[mode] - command["none"]) if mode != "none" else "-"} | '
                     f'{ms(library[mode])} | '
                     f'{ms(library[mode] - library["none"]) if mode != "none" else "-"} |')
    table = '\n'.join(lines)
    print(table)
    with open(args.results, 'w', encoding='utf-8') as fh:
        fh.write('# Lock and history overhead per run\n\n'
                 f'Measured by bench/lock_overhead.py ({args.runs} runs per mode; a job '
                 'copying one 1000-byte local file; PostgreSQL on a Unix socket of this '
                 f'machine).\n\n{table}\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
