"""Shell completion through click's protocol, with the real command."""

import os
import subprocess

import pytest

from helpers import command_argv


def complete(ws, shell, words, cword):
    env = {**os.environ, 'FILETRANSFER_CFG': ws.app_cfg, '_FILETRANSFER_COMPLETE':
           f'{shell}_complete', 'COMP_WORDS': words, 'COMP_CWORD': str(cword)}
    done = subprocess.run(command_argv(), capture_output=True, text=True, env=env, timeout=60)
    assert (done.returncode, done.stderr) == (0, '')
    lines = done.stdout.splitlines()
    # zsh (and fish since click 8.4): type, value, help on three lines each;
    # bash (and older fish): "type,value[\thelp]" on one line
    if shell == 'zsh' or lines and ',' not in lines[0]:
        return lines[1::3]
    return [line.split(',')[1].split('\t')[0] for line in lines]


@pytest.fixture
def jobs(ws):
    ws.write_job('nightly')
    ws.write_job('check')
    return ws


def test_first_word_offers_subcommands_and_job_ids(jobs):
    assert complete(jobs, 'bash', 'filetransfer ', 1) == ['daemon', 'check', 'runs', 'state',
                                                          'check',
                                                          'nightly']
    assert complete(jobs, 'bash', 'filetransfer ni', 1) == ['nightly']
    assert complete(jobs, 'bash', f'filetransfer -c {jobs.app_cfg} ', 3) == ['check', 'nightly']
    assert '--dry-run' in complete(jobs, 'bash', 'filetransfer --d', 1)


def test_subcommand_options_and_arguments(jobs):
    assert complete(jobs, 'bash', 'filetransfer daemon --', 2) == [
        '--config', '--foreground', '--status', '--stop', '--help']
    assert complete(jobs, 'zsh', 'filetransfer daemon --st', 2) == ['--status', '--stop']
    assert complete(jobs, 'fish', 'filetransfer daemon --st', '--st') == ['--status', '--stop']
    assert complete(jobs, 'bash', 'filetransfer check ', 2) == ['check', 'nightly']
    assert complete(jobs, 'bash', 'filetransfer check --c', 2) == ['--config', '--connect']


def test_completion_script():
    env = {**os.environ, '_FILETRANSFER_COMPLETE': 'bash_source'}
    done = subprocess.run(command_argv(), capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0
    assert '_FILETRANSFER_COMPLETE=bash_complete' in done.stdout
    assert 'complete -o nosort -F _filetransfer_completion filetransfer' in done.stdout
