"""`filetransfer check` through the real command."""

import os
import subprocess

import pytest

from helpers import command_argv, make_files, write_ini

FTP_HOST = {'type': 'FTP', 'host': 'ftp.example.com', 'user': 'u', 'password': 'hunter2'}


@pytest.fixture
def ws(ws):
    """The workspace with an empty hosts file (its application config names one)."""
    write_ini(ws.hosts_cfg, {})
    return ws


def check(ws, *args, env=None):
    return subprocess.run(command_argv('check', '-c', ws.app_cfg, *args), capture_output=True,
                          text=True, timeout=60, cwd=ws.root, env=env)


def test_all_valid_exit_0(ws):
    write_ini(ws.hosts_cfg, {'h1': FTP_HOST, 'h2': {**FTP_HOST, 'type': 'FTPS'}})
    ws.write_job('job1')
    ws.write_job('job2', target={'host_id': 'h1'})
    done = check(ws)
    assert (done.returncode, done.stderr) == (0, '')
    assert done.stdout == f'no problem found; checked {ws.app_cfg}, 2 host(s), 2 job(s)\n'
    assert not os.path.exists(ws.dst)


def test_one_line_per_problem_exit_3(ws):
    write_ini(ws.hosts_cfg, {'good': FTP_HOST, 'unused': {**FTP_HOST, 'timeout': 'soon'},
                             'nopass': {'type': 'FTP', 'host': 'h', 'user': 'u'}})
    ws.write_job('good')
    ws.write_job('badvalue', source={'recursive': 'maybe'})
    ws.write_job('samedir', target={'path': ws.src})
    ws.write_job('badhost', source={'host_id': 'nosuch'})
    done = check(ws)
    assert done.returncode == 3
    jobs = ws.jobs_dir
    assert done.stdout.splitlines() == [
        f"{ws.hosts_cfg}: [unused] timeout: expected a number >= 0, got 'soon'",
        f'{ws.hosts_cfg}: [nopass] password: required option is missing',
        f'{jobs}/badhost.cfg: [source] host_id: no host [nosuch] in {ws.hosts_cfg}',
        f"{jobs}/badvalue.cfg: [source] recursive: expected yes/no, got 'maybe'",
        f'{jobs}/samedir.cfg: [source] path and [target] path are the same directory '
        f'({ws.src})',
        f'5 problem(s) found; checked {ws.app_cfg}, 3 host(s), 4 job(s)',
    ]
    assert 'hunter2' not in done.stdout


def test_named_jobs_only(ws):
    ws.write_job('good')
    ws.write_job('bad', source={'recursive': 'maybe'})
    done = check(ws, 'good')
    assert done.returncode == 0 and '1 job(s)' in done.stdout
    done = check(ws, 'good', 'missing')
    assert done.returncode == 3
    assert f"{ws.jobs_dir}/missing.cfg: no such job file (job id 'missing')" in done.stdout


def test_broken_application_config(ws):
    ws.write_app({'logging': {'use_subdirs': 'LOUD'}})
    done = check(ws)
    assert done.returncode == 3
    assert done.stdout.startswith(f'{ws.app_cfg}: [logging] use_subdirs: expected yes/no')
    ws.write_app({'daemon': {'jobs': 'job1', 'interval': '0'}})
    done = check(ws)
    assert done.returncode == 3
    assert f"{ws.app_cfg}: [daemon] interval: expected a number > 0, got '0'" in done.stdout


def test_daemon_jobs_are_checked(ws):
    ws.write_app({'daemon': {'jobs': 'hot, gone', 'pidfile': 'd.pid'}})
    ws.write_job('hot')
    ws.write_job('cron')   # not run by the daemon: it may keep its files
    done = check(ws)
    assert done.returncode == 3
    assert done.stdout.splitlines()[:2] == [
        f"{ws.app_cfg}: [daemon] jobs: no job file for 'gone' ({ws.jobs_dir}/gone.cfg)",
        f'{ws.jobs_dir}/hot.cfg: [source] delete: the daemon needs delete = yes or a '
        '[job] ready_file, or every scan sends the same files again']
    ws.write_job('hot', job={'ready_file': 'READY'})
    ws.write_app({'daemon': {'jobs': '*', 'pidfile': 'd.pid'}})
    done = check(ws)
    assert done.returncode == 3 and 'cron.cfg: [source] delete: the daemon needs' in done.stdout
    ws.write_job('cron', source={'delete': 'yes'})
    assert check(ws).returncode == 0


def test_connect_reports_each_endpoint(ws):
    make_files(ws.src, {'a.txt': 'A'})
    blocker = os.path.join(ws.root, 'a-file')
    make_files(ws.root, {'a-file': ''})
    ws.write_job('job1')
    ws.write_job('job2')
    ws.write_job('nosource', source={'path': os.path.join(ws.root, 'missing')})
    ws.write_job('notarget', target={'path': os.path.join(blocker, 'out')})
    done = check(ws, '--connect')
    assert done.returncode == 2
    missing = os.path.join(ws.root, 'missing')
    assert done.stdout.splitlines() == [
        f'source {ws.src} (job job1, job2, notarget): reachable',
        f'target {ws.dst} (job job1, job2, nosource): reachable',
        f'source {missing} (job nosource): unreachable: source directory {missing} '
        'does not exist',
        f'target {blocker}/out (job notarget): unreachable: cannot create target directory '
        f'{blocker}/out: Not a directory',
        f'2 problem(s) found; checked {ws.app_cfg}, 4 job(s), 4 endpoint(s) opened',
    ]
    assert check(ws, '--connect', 'job1').returncode == 0
    ws.write_job('job2', source={'recursive': 'maybe'})
    assert check(ws, '--connect').returncode == 3   # configuration problems come first


def test_missing_hosts_file_is_a_problem(ws):
    os.unlink(ws.hosts_cfg)
    ws.write_job()
    done = check(ws)
    assert done.returncode == 3
    assert done.stdout.splitlines()[0] == f'{ws.hosts_cfg}: cannot read: No such file or directory'


def test_usage_errors_exit_4(ws):
    env = {k: v for k, v in os.environ.items() if k != 'FILETRANSFER_CFG'}
    done = subprocess.run(command_argv('check'), capture_output=True, text=True, env=env)
    assert done.returncode == 4 and 'use -c CONFIG' in done.stderr
    done = check(ws, '--nope')
    assert done.returncode == 4 and 'No such option' in done.stderr
