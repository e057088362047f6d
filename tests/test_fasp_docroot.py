"""FASP jobs against an Aspera server as its transfer users know it (the aspera_account
fixture: aspshell runs ascp and ascmd only, no SFTP, no shell; the user's paths are
below a docroot). The ready file, dry runs, daemon scans, the ready file's removal and
the clean-up after a failure go through ascmd, in ascp's path space; nothing outside
the docroot is touched. Uploads: the server names its partial files; resume keeps
them for the next run; a killed job takes ascp with it."""

import json
import os
import secrets
import signal
import subprocess

import pytest

from fasp_helpers import AscpWrapper, emulator, ended, kill_job_with_its_ascp
from helpers import command_argv, make_files, tree, write_ini
from procs import make_sparse, wait_for

SLOW = '4000'        # kbit/s: 500 kB/s, an 8 MiB file takes 16 s


@pytest.fixture(autouse=True)
def _frequent_stats(monkeypatch):
    monkeypatch.setenv('ASCP_EMULATOR_STATS_INTERVAL', '0.2')


def fasp_host(account, **options) -> dict:
    """A FASP host for the Aspera account (None drops an option)."""
    host = {'type': 'FASP', 'host': f'{account.host}:{account.port}', 'user': account.user,
            'key_file': account.key_file, 'ascp_path': emulator(),
            'target_rate_kbps': '800000'}
    host.update(options)
    return {key: value for key, value in host.items() if value is not None}


def hosts(ws, account, **options) -> None:
    write_ini(ws.hosts_cfg, {'fasp': fasp_host(account, **options)})


@pytest.fixture
def place():
    """A path of the test's own in the docroot ('/ft-XXXX'). The same path on this
    machine's file system is what a client confusing the two would touch."""
    return f'/ft-{secrets.token_hex(4)}'


def untouched_outside(*paths) -> bool:
    """Whether the job's docroot paths do not exist on this machine's file system
    (a listing, ready file, delete or clean-up outside the docroot would act there,
    a target would even create the directory)."""
    return not any(os.path.lexists(path) for path in paths)


def kill_ascp_while_writing(wrapper, partial, proc=None) -> None:
    """Kills the ascp of the last session once ``partial`` holds some bytes: a
    session that fails in the middle of a file."""
    assert wait_for(lambda: os.path.exists(partial) and os.path.getsize(partial) > 0,
                    proc=proc), proc and proc.communicate()
    os.kill(wrapper.runs[-1]['pid'], signal.SIGKILL)


def mark(path: str) -> None:
    """Changes the first bytes of a partial file (sizes stay): a run that continues
    it keeps them, a run that sends the file again does not."""
    with open(path, 'r+b') as fh:
        fh.write(b'RESUMED')


# -- the two jobs, every remote operation through ascmd --------------------------------

def test_upload_job(ws, aspera_account, place, tmp_path):
    account = aspera_account
    account.configure(partial_file_suffix='.partial')
    files = {'a.csv': b'A' * 100, 'sub/b.csv': os.urandom(200_000)}
    make_files(ws.src, {**files, 'c.txt': 'C', 'READY': ''})
    wrapper = AscpWrapper(tmp_path)
    hosts(ws, account, ascp_path=wrapper.path)
    ws.write_job(job={'ready_file': 'READY'},
                 source={'files': '*.csv', 'recursive': 'yes', 'delete': 'yes'},
                 target={'host_id': 'fasp', 'path': place, 'temp': 'ext:.partial'})
    done = ws.run('--dry-run', 'job1')
    assert done.returncode == 0 and '  a.csv  (100 bytes)' in done.stdout, done.stderr
    done = ws.run('--json', 'job1')
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)['files_cnt'] == 2
    assert tree(account.path(place)) == files
    assert tree(ws.src) == {'c.txt': b'C'}           # sent files and READY deleted
    # the server names the partial file of an upload: the job does not pretend to
    [run] = wrapper.runs
    assert not any(arg.startswith('--partial-file-suffix') for arg in run['argv'])
    assert run['argv'][-1] == place
    assert untouched_outside(place)


def test_download_job(ws, aspera_account, place, tmp_path):
    account = aspera_account
    files = {'a.csv': 'A' * 10, 'sub/b.csv': 'B'}
    for name, data in {**files, 'c.txt': 'C', '.d.csv': 'D'}.items():
        account.put(f'{place}/{name}', data)
    wrapper = AscpWrapper(tmp_path)
    hosts(ws, account, ascp_path=wrapper.path)
    ws.write_job(job={'ready_file': 'READY'},
                 source={'host_id': 'fasp', 'path': place, 'files': '*.csv', 'ignore': '.*',
                         'recursive': 'yes', 'delete': 'yes'},
                 target={'temp': 'ext:.part'})
    done = ws.run('-v', 'job1')                          # not ready yet
    assert done.returncode == 0 and 'ready file READY not present' in done.stderr
    assert wrapper.runs == []
    account.put(f'{place}/READY')
    done = ws.run('--dry-run', '--json', 'job1')
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)['files'] == [
        {'path': 'a.csv', 'size': 10, 'action': 'send', 'source': 'delete'},
        {'path': 'sub/b.csv', 'size': 1, 'action': 'send', 'source': 'delete'}]
    done = ws.run('job1')
    assert done.returncode == 0, done.stderr + ws.log_text()
    assert tree(ws.dst) == {name: data.encode() for name, data in files.items()}
    # ascp removed what it sent; the job removed READY (through ascmd)
    assert tree(account.path(place)) == {'c.txt': b'C', '.d.csv': b'D'}
    [run] = wrapper.runs
    assert '--partial-file-suffix=.part' in run['argv']       # this machine receives
    assert untouched_outside(place)


def test_daemon_scans_a_fasp_source_and_sends_to_a_fasp_target(ws, aspera_account, place):
    from test_daemon import Hot

    account = aspera_account
    hot = Hot(ws)
    try:
        hot.configure(jobs='down, up')
        hosts(ws, account)
        outbox = os.path.join(ws.root, 'outbox')
        ws.write_job('down', job={'ready_file': 'READY'},
                     source={'host_id': 'fasp', 'path': f'{place}/out', 'files': '*'})
        ws.write_job('up', job={'ready_file': 'READY'}, source={'path': outbox},
                     target={'host_id': 'fasp', 'path': f'{place}/in'})
        account.mkdir(f'{place}/out')
        hot.start()
        hot.wait_log('job down: nothing to do', 2)         # its scans reach the docroot
        account.put(f'{place}/out/x.bin', b'X' * 5000)
        account.put(f'{place}/out/READY')
        make_files(outbox, {'y.bin': 'Y', 'READY': ''})
        wait_for(lambda: tree(ws.dst) == {'x.bin': b'X' * 5000}, timeout=60)
        wait_for(lambda: tree(account.path(f'{place}/in')) == {'y.bin': b'Y'}, timeout=60)
        hot.wait_log('job down finished (exit code 0)')
        hot.wait_log('job up finished (exit code 0)')
        assert not os.path.exists(account.path(f'{place}/out/READY'))
        assert 'job down failed' not in hot.log()
        assert untouched_outside(place)
    finally:
        hot.command('--stop')
        hot.kill_leftover()


# -- after a failure --------------------------------------------------------------------

@pytest.mark.parametrize('how', ['ascp dies', 'SIGTERM'])
def test_a_failed_upload_leaves_no_partial_file_on_the_server(ws, aspera_account, place,
                                                              tmp_path, how):
    account = aspera_account
    account.configure(partial_file_suffix='.partial')
    make_sparse(os.path.join(ws.src, 'big.bin'), 8 << 20)
    make_files(ws.src, {'later.bin': 'Z'})
    wrapper = AscpWrapper(tmp_path)
    hosts(ws, account, ascp_path=wrapper.path, target_rate_kbps=SLOW)
    ws.write_job(target={'host_id': 'fasp', 'path': place, 'temp': 'ext:.partial'})
    proc = ws.popen('job1', stderr=subprocess.PIPE, text=True)
    partial = account.path(f'{place}/big.bin.partial')
    if how == 'SIGTERM':
        assert wait_for(lambda: os.path.exists(partial), proc=proc), proc.communicate()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 5
        wait_for(lambda: ended(wrapper.runs[0]['pid']), timeout=10)
    else:
        kill_ascp_while_writing(wrapper, partial, proc)
        assert proc.wait(timeout=60) == 2
    log = ws.log_text()
    assert 'removed the unfinished big.bin.partial from the target' in log, log
    assert tree(account.path(place)) == {}
    assert not [name for name in os.listdir(ws.locks_dir) if '.writing.' in name]
    assert untouched_outside(place)


def test_a_failed_download_leaves_no_partial_file(ws, aspera_account, place, tmp_path):
    account = aspera_account
    make_sparse(account.path(f'{place}/big.bin'), 8 << 20)
    account.put(f'{place}/READY')
    wrapper = AscpWrapper(tmp_path)
    hosts(ws, account, ascp_path=wrapper.path, target_rate_kbps=SLOW)
    ws.write_job(job={'ready_file': 'READY'},
                 source={'host_id': 'fasp', 'path': place, 'files': '*'},
                 target={'temp': 'ext:.part'})
    proc = ws.popen('job1', stderr=subprocess.PIPE, text=True)
    kill_ascp_while_writing(wrapper, os.path.join(ws.dst, 'big.bin.part'), proc)
    assert proc.wait(timeout=60) == 2
    assert 'removed the unfinished big.bin.part from the target' in ws.log_text()
    assert tree(ws.dst) == {}
    assert sorted(tree(account.path(place))) == ['READY', 'big.bin']   # the run failed
    assert untouched_outside(place)


# -- resume -------------------------------------------------------------------------------

def test_resume_keeps_an_upload_for_the_next_run(ws, aspera_account, place, tmp_path):
    """With resume_check, a failed file keeps its partial file and ascp's checkpoint
    on the server, and nothing in the journal makes the next run remove them: the
    next run continues the file. Without resume_check, both are removed."""
    account = aspera_account
    account.configure(partial_file_suffix='.partial')
    source = os.path.join(ws.src, 'big.bin')
    make_sparse(source, 8 << 20)
    wrapper = AscpWrapper(tmp_path)
    hosts(ws, account, ascp_path=wrapper.path, target_rate_kbps=SLOW, resume_check='attributes')
    ws.write_job(target={'host_id': 'fasp', 'path': place, 'temp': 'ext:.partial'})
    partial = account.path(f'{place}/big.bin.partial')
    checkpoint = account.path(f'{place}/big.bin.aspx')
    proc = ws.popen('job1', stderr=subprocess.PIPE, text=True)
    kill_ascp_while_writing(wrapper, partial, proc)
    assert proc.wait(timeout=60) == 2
    assert sorted(os.listdir(account.path(place))) == ['big.bin.aspx', 'big.bin.partial']
    assert 'kept the unfinished big.bin.partial on the target for the next run' in \
        ws.log_text()
    assert not [name for name in os.listdir(ws.locks_dir) if '.writing.' in name]
    mark(partial)

    hosts(ws, account, ascp_path=wrapper.path, resume_check='attributes')
    done = ws.run('job1')
    assert done.returncode == 0, done.stderr
    assert os.listdir(account.path(place)) == ['big.bin']
    with open(account.path(f'{place}/big.bin'), 'rb') as fh:
        assert fh.read(7) == b'RESUMED'                  # continued, not sent again
    assert os.path.getsize(account.path(f'{place}/big.bin')) == 8 << 20

    # without resume_check: the partial file goes, and the checkpoint with it
    os.remove(account.path(f'{place}/big.bin'))
    account.put(f'{place}/big.bin.aspx', 'an earlier run with resume left this')
    hosts(ws, account, ascp_path=wrapper.path, target_rate_kbps=SLOW)
    proc = ws.popen('job1', stderr=subprocess.PIPE, text=True)
    kill_ascp_while_writing(wrapper, partial, proc)
    assert proc.wait(timeout=60) == 2
    assert os.listdir(account.path(place)) == []
    assert 'removed the unfinished big.bin.aspx from the target' in ws.log_text()
    assert not os.path.exists(checkpoint) and untouched_outside(place)


def test_resume_keeps_a_download_for_the_next_run(ws, aspera_account, place, tmp_path):
    account = aspera_account
    make_sparse(account.path(f'{place}/big.bin'), 8 << 20)
    account.own(account.docroot)
    wrapper = AscpWrapper(tmp_path)
    hosts(ws, account, ascp_path=wrapper.path, target_rate_kbps=SLOW, resume_check='attributes')
    ws.write_job(source={'host_id': 'fasp', 'path': place, 'files': '*'},
                 target={'temp': 'ext:.part'})
    partial = os.path.join(ws.dst, 'big.bin.part')
    proc = ws.popen('job1', stderr=subprocess.PIPE, text=True)
    kill_ascp_while_writing(wrapper, partial, proc)
    assert proc.wait(timeout=60) == 2
    assert sorted(os.listdir(ws.dst)) == ['big.bin.aspx', 'big.bin.part']
    mark(partial)
    hosts(ws, account, ascp_path=wrapper.path, resume_check='attributes')
    done = ws.run('job1')
    assert done.returncode == 0, done.stderr
    assert os.listdir(ws.dst) == ['big.bin']
    with open(os.path.join(ws.dst, 'big.bin'), 'rb') as fh:
        assert fh.read(7) == b'RESUMED'


# -- a killed job --------------------------------------------------------------------------

@pytest.mark.parametrize('resume', [None, 'attributes'])
def test_a_killed_job_takes_ascp_with_it_and_the_next_run_is_right(ws, aspera_account, place,
                                                                    tmp_path, resume):
    """SIGKILL leaves no time for anything: ascp (which here would go on without its
    manager, as a real one may) must end with the job, not finish the file behind the
    next run's back. The next run removes the partial file, or with resume continues
    it."""
    account = aspera_account
    account.configure(partial_file_suffix='.partial')
    make_sparse(os.path.join(ws.src, 'big.bin'), 32 << 20)
    wrapper = AscpWrapper(tmp_path, body='os.environ["ASCP_EMULATOR_OUTLIVE_MANAGER"] = "1"')
    hosts(ws, account, ascp_path=wrapper.path, target_rate_kbps=SLOW, resume_check=resume)
    ws.write_job(job={'single_instance': 'yes'},
                 target={'host_id': 'fasp', 'path': place, 'temp': 'ext:.partial'})
    partial = account.path(f'{place}/big.bin.partial')
    proc = ws.popen('job1', stderr=subprocess.PIPE, text=True)
    # without resume the next run removes the partial file its journal names
    kill_job_with_its_ascp(proc, wrapper, partial, None if resume else ws.locks_dir)
    assert not os.path.exists(account.path(f'{place}/big.bin'))
    mark(partial)
    hosts(ws, account, ascp_path=wrapper.path, resume_check=resume)
    done = ws.run('job1')
    assert done.returncode == 0, done.stderr
    assert os.listdir(account.path(place)) == ['big.bin']
    with open(account.path(f'{place}/big.bin'), 'rb') as fh:
        head = fh.read(7)
    log = ws.log_text()
    if resume:
        assert head == b'RESUMED' and 'left unfinished' not in log
    else:
        assert head == b'head-of'
        assert 'removed big.bin.partial, left unfinished on the target by an earlier run' \
            in log
    assert os.path.getsize(account.path(f'{place}/big.bin')) == 32 << 20


# -- later tries of a download --------------------------------------------------------------

LIST_COPY = '''
for arg in sys.argv:
    if arg.startswith('--file-pair-list='):
        with open(arg.split('=', 1)[1]) as src, open({copy!r}, 'a') as dst:
            dst.write(src.read())
if os.path.exists({mark!r}):
    sys.argv[sys.argv.index('-l') + 1] = '800000'
open({mark!r}, 'w').close()
'''


def test_a_later_try_of_a_download_hands_ascp_the_files_left(ws, aspera_account, place,
                                                             tmp_path):
    """The second try gets the files the first did not finish as a file-pair list
    (listed through ascmd), not one exclude rule per file done."""
    account = aspera_account
    account.put(f'{place}/a.csv', 'A')
    make_sparse(account.path(f'{place}/b.csv'), 4 << 20)
    account.put(f'{place}/c.csv', 'C')
    account.put(f'{place}/d.txt', 'D')
    copy = str(tmp_path / 'pair-list')
    wrapper = AscpWrapper(tmp_path, body=LIST_COPY.format(copy=copy,
                                                          mark=str(tmp_path / 'first')))
    hosts(ws, account, ascp_path=wrapper.path, target_rate_kbps=SLOW)
    ws.write_job(job={'retries': '1'},
                 source={'host_id': 'fasp', 'path': place, 'files': '*.csv'},
                 target={'temp': 'ext:.part'})
    proc = ws.popen('job1', stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: os.path.exists(os.path.join(ws.dst, 'a.csv')), proc=proc)
    kill_ascp_while_writing(wrapper, os.path.join(ws.dst, 'b.csv.part'), proc)
    assert proc.wait(timeout=60) == 0, proc.communicate()
    with open(account.path(f'{place}/b.csv'), 'rb') as fh:
        assert tree(ws.dst) == {'a.csv': b'A', 'b.csv': fh.read(), 'c.csv': b'C'}
    first, second = (run['argv'] for run in wrapper.runs)
    assert '-E' in first and not any(arg.startswith('--file-pair-list') for arg in first)
    assert '-E' not in second and '/a.csv' not in second
    with open(copy) as fh:
        assert fh.read().splitlines() == [f'{place}/b.csv', 'b.csv', f'{place}/c.csv', 'c.csv']
    assert ws.log_text().count('transferred a.csv') == 1


# -- logging in ------------------------------------------------------------------------------

def test_check_connect_logs_in_through_ascmd(ws, aspera_account, live_sshd, place):
    account = aspera_account
    write_ini(ws.hosts_cfg, {
        'fasp': fasp_host(account),
        'wrong': fasp_host(account, key_file=None, password=account.password + 'x'),
        'sftp': fasp_host(account, remote_commands='sftp'),
        'plain': {'type': 'FASP', 'host': f'{live_sshd.host}:{live_sshd.port}',
                  'user': live_sshd.user, 'key_file': live_sshd.client_keys['ed25519'],
                  'ascp_path': emulator()}})
    for job_id in ('fasp', 'wrong', 'sftp', 'plain'):
        ws.write_job(job_id, source={'host_id': job_id, 'path': f'{place}/{job_id}',
                                     'files': '*'})
    done = subprocess.run(command_argv('check', '-c', ws.app_cfg, '--connect'),
                          capture_output=True, text=True, cwd=ws.root, timeout=120)
    lines = {line.split(' (job ')[1].split(')')[0]: line for line in done.stdout.splitlines()
             if line.startswith('source FASP ')}
    assert lines['fasp'].endswith(': reachable')
    assert 'unreachable: ascmd: login refused' in lines['wrong']
    assert account.password not in done.stdout
    assert 'offers no SFTP' in lines['sftp'] and 'remote_commands = ascmd' in lines['sftp']
    assert 'ascmd does not answer' in lines['plain'] and \
        'remote_commands = sftp' in lines['plain']


def test_a_refused_login_is_exit_2_and_not_tried_again(ws, aspera_account, place, tmp_path):
    account = aspera_account
    make_files(ws.src, {'a.txt': 'A'})
    wrapper = AscpWrapper(tmp_path)
    hosts(ws, account, key_file=None, password=account.password + 'x', ascp_path=wrapper.path)
    ws.write_job(job={'retries': '2'}, target={'host_id': 'fasp', 'path': place})
    done = ws.run('-v', 'job1')
    assert done.returncode == 2 and 'ascmd: login refused for ' in done.stderr
    assert 'not tried again' in ws.log_text() and wrapper.runs == []


# -- the shipped examples ------------------------------------------------------------------

def test_the_example_jobs_run_as_shipped(aspera_account, tmp_path):
    """conf.example/jobs/fasp-upload.cfg and fasp-download.cfg as shipped, their paths
    (/incoming/reports, /outgoing) in the docroot of the Aspera account, the server
    naming partial files .partial as the upload job states; only the host's address
    and credentials are replaced."""
    import configparser
    import pathlib
    import shutil

    account = aspera_account
    account.configure(partial_file_suffix='.partial')
    repo = pathlib.Path(__file__).resolve().parent.parent
    shutil.copytree(repo / 'conf.example', tmp_path / 'conf.example')
    path = tmp_path / 'conf.example' / 'hosts.cfg'
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path)
    parser['partner-fasp'].update(host=f'{account.host}:{account.port}', user=account.user,
                                  key_file=account.key_file, ascp_path=emulator())
    with open(path, 'w') as fh:
        parser.write(fh)
    for name, data in {'a.csv': 'A', 'sub/b.csv': 'B', 'archive/old.csv': 'O',
                       '.tmp.csv': 'T', 'notes.txt': 'N'}.items():
        account.put(f'outgoing/{name}', data)

    def run(job_id):
        return subprocess.run(command_argv('-c', 'conf.example/filetransfer.cfg', job_id),
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)

    done = run('fasp-upload')
    assert done.returncode == 0, done.stderr
    data = tmp_path / 'conf.example' / 'data'
    incoming = account.path('incoming/reports')
    assert tree(incoming) == {path: content for path, content in tree(data).items()
                              if path.endswith(('.txt', '.csv')) and '.cache' not in path}
    assert sorted(tree(incoming)) == ['prices.csv', 'reports/notes.txt',
                                      'reports/regions.csv', 'summary.txt']
    done = run('fasp-download')
    assert done.returncode == 0, done.stderr
    assert tree(tmp_path / 'demo' / 'fasp-inbox') == {'a.csv': b'A', 'sub/b.csv': b'B'}
    assert sorted(tree(account.path('outgoing'))) == ['.tmp.csv', 'archive/old.csv',
                                                      'notes.txt']
    assert untouched_outside('/incoming', '/outgoing')
