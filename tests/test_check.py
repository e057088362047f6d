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


def test_a_hosts_file_problem_is_reported_once(ws):
    write_ini(ws.hosts_cfg, {'h1': {**FTP_HOST, 'timeout': 'soon'}})
    ws.write_job('job1', source={'host_id': 'h1'})
    ws.write_job('job2', target={'host_id': 'h1'})
    done = check(ws)
    assert done.returncode == 3
    assert done.stdout.splitlines() == [
        f"{ws.hosts_cfg}: [h1] timeout: expected a number >= 0, got 'soon'",
        f'1 problem(s) found; checked {ws.app_cfg}, 1 host(s), 2 job(s)',
    ]
    with open(ws.hosts_cfg, 'w') as fh:     # not an INI file at all
        fh.write('[h1\n')
    done = check(ws, 'job1')
    assert done.returncode == 3
    assert done.stdout.splitlines() == [
        f'{ws.hosts_cfg}, line 1: not a valid INI file: expected a [section] first',
        f'1 problem(s) found; checked {ws.app_cfg}, 1 job(s)',
    ]


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
        f'{ws.jobs_dir}/hot.cfg: [source] delete: the daemon needs delete = yes, archive_dir, '
        'remember = yes, a [target] overwrite other than always or a [job] ready_file, or '
        'every scan sends the same files again']
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
    done = check(ws, 'job1', '')
    assert done.returncode == 4 and 'a JOBID is empty' in done.stderr


def test_observability_options(ws):
    """Each bad value is a problem naming its file, section and option."""
    app_cases = [
        ({'notify': {'ping_url': 'ftp://hc.example.com/uuid'}},
         '[notify] ping_url: expected an http:// or https:// URL, got a ftp: URL'),
        ({'notify': {'webhook_url': 'hooks.example.com/T0/B0'}},
         '[notify] webhook_url: expected an http:// or https:// URL'),
        ({'notify': {'webhook_on': 'always'}},
         "[notify] webhook_on: expected one of success, error, done, got 'always'"),
        ({'notify': {'webhook_format': 'xml'}},
         "[notify] webhook_format: expected one of json, text, got 'xml'"),
        ({'notify': {'http_timeout': '0'}},
         "[notify] http_timeout: expected a number > 0, got '0'"),
        ({'logging': {'format': 'yaml'}},
         "[logging] format: expected one of text, json, got 'yaml'"),
        ({'global': {'metrics_dir': ws.app_cfg}},
         f'[global] metrics_dir: {ws.app_cfg}: not a directory'),
        ({'global': {'metrics_dir': os.path.join(ws.root, 'nothing')}},
         f'[global] metrics_dir: {ws.root}/nothing: no such directory'),
    ]
    ws.write_job()
    for sections, problem in app_cases:
        ws.write_app(sections)
        done = check(ws)
        assert (done.returncode, done.stdout.splitlines()[0]) == (3, f'{ws.app_cfg}: {problem}')
    ws.write_app({'global': {'metrics_dir': ws.root}, 'logging': {'format': 'json'},
                  'notify': {'ping_url': 'https://hc.example.com/ping/{job_id}',
                             'webhook_url': 'http://[::1]:8065/hooks/x', 'webhook_on': 'ERROR',
                             'webhook_format': 'Text', 'http_timeout': '2.5'}})
    assert check(ws).returncode == 0

    job_cases = [
        ({'job': {'hook_timeout': '-1'}}, "[job] hook_timeout: expected a number > 0, got '-1'"),
        ({'job': {'before': 'mount "/mnt/share'}},
         "[job] before: expected a command line: no closing quotation, got 'mount \"/mnt/share'"),
        ({'job': {'after': "umount \\"}},
         "[job] after: expected a command line: no escaped character, got 'umount \\'"),
        ({'notify': {'ping_url': 'https://hc.example.com:http/x'}},
         '[notify] ping_url: expected an http:// or https:// URL, with a valid host and port'),
        ({'notify': {'webhook_on': 'sometimes'}},
         "[notify] webhook_on: expected one of success, error, done, got 'sometimes'"),
    ]
    job_file = os.path.join(ws.jobs_dir, 'job1.cfg')
    for sections, problem in job_cases:
        ws.write_job(**sections)
        done = check(ws)
        assert (done.returncode, done.stdout.splitlines()[0]) == (3, f'{job_file}: {problem}')
    ws.write_job(job={'before': "mount -t cifs '//server/share name' /mnt", 'after': 'umount /mnt',
                      'hook_timeout': '30'}, notify={'ping_url': 'http://127.0.0.1/x'})
    assert check(ws).returncode == 0
