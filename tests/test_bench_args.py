"""The bench's command lines (bench/run.py, bench/delayproxy.py) refuse bad values
with a usage error, before anything starts; and the report of a case whose every
contender failed is written, not a traceback."""

import os
import subprocess
import sys

import pytest

BENCH = os.path.join(os.path.dirname(__file__), '..', 'bench')
sys.path.insert(0, BENCH)

import report  # noqa: E402
from timing import Case, Contender  # noqa: E402


def run(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, os.path.join(BENCH, script), *args],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize('args, said', [
    (['--runs', '0'], 'argument --runs: 0 is not at least 1'),
    (['--runs', 'x'], "argument --runs: not a whole number: 'x'"),
    (['--size', '1.5'], "argument --size: not a whole number: '1.5'"),
    (['--budget', '0'], 'argument --budget: 0 is not above 0'),
    (['--rtts', '0,-1'], 'argument --rtts: -1 is not at least 0'),
    (['--rtts', ','], 'argument --rtts: no number given'),
    (['--growth', '10,0'], 'argument --growth: 0 is not at least 1'),
    (['--new', '30', '--among', '20'], '--new 30 is more than --among 20'),
    (['--only', ','], '--only names no case'),
    (['--only', 'nosuch'], 'unknown cases: nosuch'),
    (['--python', '/nonexistent/python'], 'no such Python, or no filetransfer command'),
])
def test_run_refuses_a_bad_value(args, said):
    done = run('run.py', *args, '--results', '-')
    assert done.returncode == 2, done.stderr
    assert said in done.stderr
    assert 'Traceback' not in done.stderr and done.stdout == ''


@pytest.mark.parametrize('args, said', [
    (['--rtt-ms', '-5', '127.0.0.1:22'], 'argument --rtt-ms: -5 is not at least 0'),
    (['--rtt-ms', 'nan', '127.0.0.1:22'], 'argument --rtt-ms: nan is not at least 0'),
    (['--rate', '0', '127.0.0.1:22'], 'argument --rate: 0 is not above 0'),
    (['nohost'], "argument target: 'nohost' is not HOST:PORT"),
    (['127.0.0.1:99999'], "argument target: '127.0.0.1:99999' is not HOST:PORT"),
])
def test_delay_proxy_refuses_a_bad_value(args, said):
    done = run('delayproxy.py', *args)
    assert done.returncode == 2, done.stderr
    assert said in done.stderr
    assert 'Traceback' not in done.stderr and done.stdout == ''


def test_a_case_whose_contenders_all_failed_leaves_the_targets_table_as_it_is():
    failed = Case('SFTP upload 1 file', 'MB/s', 1, [], {'sftp -b': 1.0})
    ran = Case('local 1 file', 'MB/s', 1 << 20,
               [Contender('filetransfer', [], ours=True, seconds=[1.0], rss_kib=[2048]),
                Contender('cp', [], seconds=[0.5], rss_kib=[1024])], {'cp': 0.95})
    table = report.targets([failed, ran])
    assert 'SFTP upload 1 file' not in table
    assert '| local 1 file | 0.50 × cp | ≥ 0.95 × | NO |' in table


@pytest.mark.parametrize('args, said', [
    (['--files', '0'], 'argument --files: 0 is not at least 1'),
    (['--rtt-ms', '0'], 'argument --rtt-ms: 0 is not above 0'),
])
def test_roundtrips_refuses_a_bad_value(args, said):
    done = run('roundtrips.py', *args)
    assert done.returncode == 2, done.stderr
    assert said in done.stderr
    assert 'Traceback' not in done.stderr and done.stdout == ''
