"""The shipped examples as a user meets them: `make demo`, the crontab's promise
that a job prints nothing when all is well, and the library example of
docs/library.md pasted into a fresh directory."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from helpers import command_argv

REPO = Path(__file__).resolve().parents[1]
LOG_LINE = r'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO     '


def test_make_demo_shows_the_log_the_exit_code_and_the_files(tmp_path):
    shutil.copy(REPO / 'Makefile', tmp_path)
    shutil.copytree(REPO / 'conf.example', tmp_path / 'conf.example')
    bin_dir = os.path.dirname(command_argv()[0]) if command_argv()[0] != sys.executable \
        else os.path.dirname(sys.executable)
    # -o install: the package is installed already (this test runs from it)
    done = subprocess.run(['make', '-s', '-o', 'install', 'demo', f'BIN={bin_dir}'],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr) == (0, '')
    expected = [
        re.escape('job example (Example: copy the sample reports) started: '
                  'conf.example/data -> demo/target'),
        r'transferred prices.csv \(36 bytes in \d+\.\d\d s\)',
        r'transferred reports/notes.txt \(31 bytes in \d+\.\d\d s\)',
        r'transferred reports/regions.csv \(19 bytes in \d+\.\d\d s\)',
        r'transferred summary.txt \(32 bytes in \d+\.\d\d s\)',
        r'job example finished: 4 file\(s\) transferred, 0 source error\(s\), 0 target '
        r'error\(s\) in \d+\.\d s \(exit code 0\)',
    ]
    lines = done.stdout.splitlines()
    assert len(lines) == 12, done.stdout
    for line, pattern in zip(lines, expected):
        assert re.fullmatch(LOG_LINE + pattern, line), line
    assert lines[6:] == ['exit code: 0', 'files in demo/target:', './prices.csv',
                         './reports/notes.txt', './reports/regions.csv', './summary.txt']


def test_the_example_run_as_the_crontab_runs_it_prints_nothing(tmp_path):
    """conf.example/crontab: cron mails what a job prints; all being well, nothing."""
    shutil.copytree(REPO / 'conf.example', tmp_path / 'conf.example')
    (tmp_path / 'demo' / 'outbox').mkdir(parents=True)   # the hot folder, still empty
    crontab = (REPO / 'conf.example' / 'crontab').read_text()
    assert 'prints nothing when all is well' in crontab
    runs = re.findall(r'^\S+ \S+ \S+ \S+ \S+ +/usr/local/bin/filetransfer (.*-- (\S+))$',
                      crontab, re.M)
    assert [job_id for _, job_id in runs] == ['example', 'hotfolder']   # hotfolder: not ready
    for args, _ in runs:
        args = args.replace('$CFG', 'conf.example/filetransfer.cfg').split()
        done = subprocess.run(command_argv(*args), cwd=tmp_path, capture_output=True,
                              text=True, timeout=120)
        assert (done.returncode, done.stdout, done.stderr) == (0, '', ''), args
    [log_file] = os.listdir(tmp_path / 'demo' / 'logs' / 'example')
    assert 'exit code 0' in (tmp_path / 'demo' / 'logs' / 'example' / log_file).read_text()


def library_doc_example() -> str:
    text = (REPO / 'docs' / 'library.md').read_text(encoding='utf-8')
    match = re.search(r'```python\n(.*?)```\n', text, re.S)
    assert match, 'docs/library.md: no python block'
    return match.group(1)


def test_library_doc_example_runs_in_a_fresh_directory(tmp_path):
    code = library_doc_example()
    (tmp_path / 'example.py').write_text(code)
    done = subprocess.run([sys.executable, 'example.py'], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert 'Traceback' not in done.stderr
    # each print() of the example shows what its comment says
    promised = re.findall(r'^print\(.*?\)[ \t]+# (.*)$', code, re.M)
    assert promised and done.stdout.splitlines() == promised
