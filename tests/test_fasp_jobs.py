"""FASP jobs through the real `filetransfer` command: ascp is the ascp emulator
(faspmanager.testing), which moves the files over SSH to and from the real test sshd,
a plain SSH server that offers SFTP (the hosts say remote_commands = sftp; the emulator
takes the client's settings for the server's). test_fasp_docroot.py runs jobs against
an Aspera server's restricted account. A wrapper set as ascp_path
(fasp_helpers.AscpWrapper) shows how ascp was run."""

import json
import os
import signal
import subprocess
import threading

import pytest

import filetransfer
from fasp_helpers import AscpWrapper, emulator, ended
from filetransfer.run import job as job_module
from helpers import command_argv, make_files, tree, write_ini
from procs import make_sparse, wait_for


@pytest.fixture(autouse=True)
def _frequent_stats(monkeypatch):
    monkeypatch.setenv('ASCP_EMULATOR_STATS_INTERVAL', '0.2')


def fasp_host(sshd, **options) -> dict:
    """A FASP host reaching the test sshd through the emulator, its files over SFTP
    (None drops an option)."""
    host = {'type': 'FASP', 'host': f'{sshd.host}:{sshd.port}', 'user': sshd.user,
            'key_file': sshd.client_keys['ed25519'], 'ascp_path': emulator(),
            'target_rate_kbps': '800000', 'remote_commands': 'sftp'}
    host.update(options)
    return {key: value for key, value in host.items() if value is not None}


def hosts(ws, sshd, **options) -> None:
    write_ini(ws.hosts_cfg, {'fasp': fasp_host(sshd, **options)})


@pytest.fixture
def remote(tmp_path):
    path = tmp_path / 'remote'
    path.mkdir()
    return str(path)


def unknown_key(tmp_path) -> str:
    path = str(tmp_path / 'id_unknown')
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', path], check=True)
    return path


def negotiated_fingerprint(sshd) -> str:
    """The fingerprint of the host key paramiko (so also the emulator) gets."""
    import paramiko

    from filetransfer.endpoints.fasp.ssh import fingerprint
    transport = paramiko.Transport((sshd.host, sshd.port))
    try:
        transport.start_client(timeout=10)
        return fingerprint(transport.get_remote_server_key().asbytes())
    finally:
        transport.close()


def json_run(ws, *args):
    done = ws.run('--json', *args)
    return done.returncode, json.loads(done.stdout)


# -- both directions ------------------------------------------------------------------

def test_upload_sends_exactly_the_chosen_files(ws, live_sshd, remote, tmp_path):
    files = {'a.csv': 'A' * 1000, 'sub/b.csv': os.urandom(300_000), 'c.txt': 'C',
             '.hidden.csv': 'H', 'READY': ''}
    make_files(ws.src, files)
    wrapper = AscpWrapper(tmp_path)
    hosts(ws, live_sshd, ascp_path=wrapper.path)
    ws.write_job(job={'ready_file': 'READY'}, source={'files': '*.csv, READY', 'recursive': 'yes'},
                 target={'host_id': 'fasp', 'path': remote})
    code, data = json_run(ws, 'job1')
    assert code == 0, data
    assert tree(remote) == {'a.csv': b'A' * 1000, 'sub/b.csv': files['sub/b.csv']}
    assert [(item['tag'], item['path']) for item in data['files']] == [
        ('=', 'a.csv'), ('=', 'sub/b.csv')]
    assert sorted(tree(ws.src)) == ['.hidden.csv', 'a.csv', 'c.txt', 'sub/b.csv']  # READY gone
    argv = wrapper.runs[0]['argv']
    assert '--mode=send' in argv and '-d' in argv
    assert any(arg.startswith('--file-pair-list=') for arg in argv)
    assert argv[-1] == remote
    log = ws.log_text()
    assert 'transferred sub/b.csv (300000 bytes in ' in log
    assert 'FASP session with ' in log and '2 file(s) transferred, 0 failed, 0 skipped, ' \
        '301000 bytes in' in log and 'Mbit/s' in log


def test_download_takes_what_the_patterns_choose(ws, live_sshd, remote, tmp_path):
    files = {'a.csv': 'A', 'b.txt': 'B', 'sub/c.csv': 'C', 'sub/.d.csv': 'D',
             '.git/e.csv': 'E', 'old/f.csv': 'F', 'sub/deep/g.csv': 'G', 'READY': ''}
    make_files(remote, files)
    wrapper = AscpWrapper(tmp_path)
    hosts(ws, live_sshd, ascp_path=wrapper.path)
    ws.write_job(job={'ready_file': 'READY'},
                 source={'host_id': 'fasp', 'path': remote, 'files': '*.csv',
                         'ignore': '.*, old/*', 'recursive': 'yes', 'delete': 'yes'},
                 target={'path': ws.dst, 'temp': 'ext:.part'})
    code, data = json_run(ws, 'job1')
    assert code == 0, data
    assert tree(ws.dst) == {'a.csv': b'A', 'sub/c.csv': b'C', 'sub/deep/g.csv': b'G'}
    assert sorted(item['path'] for item in data['files']) == \
        ['a.csv', 'sub/c.csv', 'sub/deep/g.csv']
    # ascp removed what it transferred; the ready file went after the run
    assert sorted(tree(remote)) == ['.git/e.csv', 'b.txt', 'old/f.csv', 'sub/.d.csv']
    argv = wrapper.runs[0]['argv']
    assert '--mode=recv' in argv and f'--src-base={remote}' in argv
    assert '--remove-after-transfer' in argv and argv[-2:] == [remote, ws.dst]
    rules = [argv[i:i + 2] for i, arg in enumerate(argv) if arg in ('-E', '-N')]
    assert rules[0] == ['-E', '/READY'] and rules[-1] == ['-E', '/**']


def test_a_missing_remote_directory_is_a_failure(ws, live_sshd, remote):
    hosts(ws, live_sshd)
    missing = os.path.join(remote, 'missing')
    ws.write_job(job={'retries': '3'},
                 source={'host_id': 'fasp', 'path': missing, 'files': '*'})
    done = ws.run('-v', 'job1')
    assert done.returncode == 2
    assert f'source directory {missing} on {live_sshd.user}@' in done.stderr
    assert 'not tried again' in ws.log_text()


def test_the_target_keeps_what_it_has_with_overwrite_never(ws, live_sshd, remote):
    make_files(ws.src, {'a.txt': 'new', 'b.txt': 'B'})
    make_files(remote, {'a.txt': 'old'})
    hosts(ws, live_sshd, overwrite='never')
    ws.write_job(source={'delete': 'yes'}, target={'host_id': 'fasp', 'path': remote})
    code, data = json_run(ws, 'job1')
    assert code == 0 and data['files_cnt'] == 1
    assert tree(remote) == {'a.txt': b'old', 'b.txt': b'B'}
    assert tree(ws.src) == {'a.txt': b'new'}     # ascp removes transferred files only
    assert 'skipped a.txt: the target has it already' in ws.log_text()


def test_transfer_api_with_the_host_options_inline(live_sshd, remote, tmp_path):
    make_files(tmp_path / 'out', {'x.bin': b'X' * 5000})
    target = {'path': remote, **fasp_host(live_sshd)}
    result = filetransfer.transfer({'path': str(tmp_path / 'out'), 'files': '*'}, target,
                                   collect_data=True)
    assert (result.files_cnt, result.error_cnt) == (1, 0)
    assert tree(remote) == {'x.bin': b'X' * 5000}


# -- the ascp command line and the password ---------------------------------------------

def test_host_options_reach_ascp_and_the_password_only_its_environment(
        ws, live_sshd, password_user, tmp_path):
    name, password, home = password_user
    remote = os.path.join(home, f'up-{os.getpid()}-{id(ws)}')
    make_files(ws.src, {'a.txt': 'A', 'b.txt': 'B'})
    fingerprint = negotiated_fingerprint(live_sshd)
    wrapper = AscpWrapper(tmp_path)
    hosts(ws, live_sshd, user=name, password=password, key_file=None, ascp_path=wrapper.path,
          target_rate_kbps='40000', min_rate_kbps='1000', policy='fixed', cipher='aes256',
          udp_port='33002', resume='sparse', overwrite='always', ssh_fingerprint=fingerprint,
          timeout='60')
    ws.write_job(job={'log_level': 'DEBUG'}, source={'delete': 'yes'},
                 target={'host_id': 'fasp', 'path': remote})
    done = ws.run('-vv', 'job1')
    assert (done.returncode, done.stderr) == (0, ''), ws.log_text()
    assert tree(remote) == {'a.txt': b'A', 'b.txt': b'B'} and tree(ws.src) == {}
    [run] = wrapper.runs
    argv = run['argv']

    def pair(flag):
        return argv[argv.index(flag) + 1]

    assert (pair('-l'), pair('-m'), pair('-c'), pair('-O'), pair('-P'), pair('-k')) == \
        ('40000', '1000', 'aes256', '33002', str(live_sshd.port), '2')
    assert {'--policy=fixed', '--overwrite=always', f'--check-sshfp={fingerprint}',
            '--remove-after-transfer', f'--user={name}'} \
        <= set(argv)
    assert run['password'] == password                 # through ASPERA_SCP_PASS
    assert not any(password in arg for arg in argv)
    log = ws.log_text()
    assert 'starting ' in log and '--check-sshfp' in log     # faspmanager's DEBUG argv
    assert password not in log


def test_a_wrong_ssh_fingerprint_is_refused(ws, live_sshd, remote):
    make_files(ws.src, {'a.txt': 'A'})
    hosts(ws, live_sshd, ssh_fingerprint='SHA256:' + 'A' * 43)
    ws.write_job(target={'host_id': 'fasp', 'path': remote})
    done = ws.run('-v', 'job1')
    assert done.returncode == 2 and 'does not match ssh_fingerprint' in done.stderr
    assert tree(remote) == {}


# -- exit codes ----------------------------------------------------------------------

def test_file_errors_are_counted_and_the_job_goes_on_exit_1(ws, live_sshd, remote):
    make_files(ws.src, {'a.txt': 'A', 'b.txt': 'B', 'c.txt': 'C'})
    os.makedirs(os.path.join(remote, 'b.txt'))      # a directory where the file must go
    hosts(ws, live_sshd)
    ws.write_job(target={'host_id': 'fasp', 'path': remote})
    code, data = json_run(ws, 'job1')
    assert code == data['exit_code'] == 1
    assert (data['files_cnt'], data['src_error_cnt'], data['tgt_error_cnt']) == (2, 0, 1)
    failed = [item for item in data['files'] if item['tag'] == '<']
    assert failed[0]['path'] == 'b.txt' and '(ascp error 7)' in failed[0]['error']
    assert tree(remote) == {'a.txt': b'A', 'c.txt': b'C'}
    assert 'target error: b.txt: ' in ws.log_text()


def test_an_unreadable_remote_file_is_a_source_error(ws, live_sshd, password_user):
    name, password, home = password_user
    remote = os.path.join(home, f'down-{os.getpid()}-{id(ws)}')
    make_files(remote, {'a.txt': 'A', 'secret.txt': 'S'})
    os.chmod(os.path.join(remote, 'secret.txt'), 0o600)      # root's, not the user's
    os.chmod(remote, 0o777)
    hosts(ws, live_sshd, user=name, password=password, key_file=None)
    ws.write_job(source={'host_id': 'fasp', 'path': remote, 'files': '*'},
                 target={'temp': 'ext:.part'})
    code, data = json_run(ws, 'job1')
    assert code == 1
    assert (data['files_cnt'], data['src_error_cnt'], data['tgt_error_cnt']) == (1, 1, 0)
    assert [(item['tag'], item['path']) for item in data['files'] if item['tag'] != '='] == \
        [('>', 'secret.txt')]
    assert tree(ws.dst) == {'a.txt': b'A'}


def test_login_refused_exit_2_and_not_tried_again(ws, live_sshd, remote, tmp_path):
    make_files(ws.src, {'a.txt': 'A'})
    wrapper = AscpWrapper(tmp_path)
    hosts(ws, live_sshd, key_file=unknown_key(tmp_path), ascp_path=wrapper.path)
    ws.write_job(job={'retries': '2'}, target={'host_id': 'fasp', 'path': remote})
    done = ws.run('-v', 'job1')
    assert done.returncode == 2
    assert f'{live_sshd.user}@{live_sshd.host}:{live_sshd.port}: the key ' in done.stderr
    assert f'was refused for user {live_sshd.user}' in done.stderr
    assert 'not tried again' in ws.log_text() and wrapper.runs == []


def test_ascp_authentication_failure_exit_2_and_not_tried_again(ws, live_sshd, remote,
                                                                 tmp_path):
    """The SSH check passes, ascp's own login fails (error 19)."""
    make_files(ws.src, {'a.txt': 'A'})
    other = unknown_key(tmp_path)
    wrapper = AscpWrapper(tmp_path, body=f'sys.argv[sys.argv.index("-i") + 1] = {other!r}')
    hosts(ws, live_sshd, ascp_path=wrapper.path)
    ws.write_job(job={'retries': '2'}, target={'host_id': 'fasp', 'path': remote})
    done = ws.run('-v', 'job1')
    assert done.returncode == 2
    assert 'Authentication failed' in done.stderr and '(code 19)' in done.stderr
    assert len(wrapper.runs) == 1 and tree(remote) == {}


def test_retryable_ascp_errors_are_tried_again(ws, live_sshd, remote, tmp_path):
    """ascp cannot connect the first time (error 12, retryable); the second try works."""
    from servers.common import free_port

    make_files(ws.src, {'a.txt': 'A'})
    mark = str(tmp_path / 'first-run-done')
    wrapper = AscpWrapper(tmp_path, body=(
        f'if not os.path.exists({mark!r}):\n'
        f'    open({mark!r}, "w").close()\n'
        f'    sys.argv[sys.argv.index("-P") + 1] = "{free_port()}"'))
    hosts(ws, live_sshd, ascp_path=wrapper.path)
    ws.write_job(job={'retries': '1'}, target={'host_id': 'fasp', 'path': remote})
    done = ws.run('job1', timeout=60)
    assert done.returncode == 0
    assert len(wrapper.runs) == 2 and tree(remote) == {'a.txt': b'A'}
    assert 'try 1 of 2 failed: ' in ws.log_text() and '(code 12)' in ws.log_text()


def test_no_ascp_anywhere_exit_2_names_where_it_looked(ws, live_sshd, remote, tmp_path):
    make_files(ws.src, {'a.txt': 'A'})
    hosts(ws, live_sshd, ascp_path=None)
    ws.write_job(target={'host_id': 'fasp', 'path': remote})
    env = {key: value for key, value in os.environ.items() if key != 'FASPMANAGER_ASCP'}
    env.update(PATH='/usr/bin:/bin', HOME=str(tmp_path))
    done = ws.run('-v', 'job1', env=env)
    assert done.returncode == 2
    assert 'ascp not found: not in PATH, FASPMANAGER_ASCP is not set' in done.stderr
    assert f'{tmp_path}/.aspera/sdk/ascp' in done.stderr and '/opt/aspera/bin/ascp' in done.stderr


def test_a_wrong_ascp_path_is_a_configuration_error_exit_3(ws, live_sshd, remote):
    hosts(ws, live_sshd, ascp_path='/nonexistent/ascp')
    ws.write_job(target={'host_id': 'fasp', 'path': remote})
    done = ws.run('job1')
    assert done.returncode == 3
    assert f"{ws.hosts_cfg}: [fasp] ascp_path: expected an executable ascp" in done.stderr


def test_other_session_failures_exit_2(ws, live_sshd, remote, tmp_path):
    """ascp's error 6 (the target is a file, not a directory) is a TransferError that
    another try cannot fix; an ascp that cannot even start is named."""
    make_files(ws.src, {'a.txt': 'A'})
    hosts(ws, live_sshd)
    a_file = os.path.join(remote, 'plain-file')
    make_files(remote, {'plain-file': 'x'})
    ws.write_job(job={'retries': '1'}, target={'host_id': 'fasp', 'path': a_file})
    done = ws.run('-v', 'job1')
    assert done.returncode == 2
    assert f'FASP transfer with {live_sshd.user}@' in done.stderr and '(code 6)' in done.stderr
    assert 'not tried again' in ws.log_text()

    broken = AscpWrapper(tmp_path, body='sys.argv.append("--no-such-option")')
    hosts(ws, live_sshd, ascp_path=broken.path)
    ws.write_job(target={'host_id': 'fasp', 'path': remote})
    done = ws.run('-v', 'job1')
    assert done.returncode == 2
    assert f'cannot run ascp ({broken.path}): ascp exited with status 1 before connecting' \
        in done.stderr and "unrecognized option '--no-such-option'" in done.stderr


@pytest.mark.parametrize('direction, temp', [('upload', None), ('download', 'ext:.part')])
def test_sigterm_cancels_the_session_stops_ascp_and_leaves_nothing(
        ws, live_sshd, remote, tmp_path, direction, temp):
    wrapper = AscpWrapper(tmp_path)
    hosts(ws, live_sshd, ascp_path=wrapper.path, target_rate_kbps='4000')  # 500 kB/s
    temp_option = {'temp': temp} if temp else {}
    if direction == 'upload':
        make_sparse(os.path.join(ws.src, 'big.bin'), 8 << 20)
        ws.write_job(job={'single_instance': 'yes'}, source={'delete': 'yes'},
                     target={'host_id': 'fasp', 'path': remote, **temp_option})
        source, target = ws.src, remote
    else:
        make_sparse(os.path.join(remote, 'big.bin'), 8 << 20)
        ws.write_job(job={'single_instance': 'yes'},
                     source={'host_id': 'fasp', 'path': remote, 'files': '*',
                             'delete': 'yes'}, target=temp_option)
        source, target = remote, ws.dst
    proc = ws.popen('job1', stderr=subprocess.PIPE, text=True)
    written_as = 'big.bin.part' if temp else 'big.bin'
    partial = os.path.join(target, written_as)
    assert wait_for(lambda: os.path.exists(partial), proc=proc), proc.communicate()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 5
    [run] = wrapper.runs
    wait_for(lambda: not os.path.exists(f'/proc/{run["pid"]}'), timeout=10)   # ascp stopped
    assert not os.path.exists(partial) and not os.path.exists(os.path.join(target, 'big.bin'))
    assert os.path.getsize(os.path.join(source, 'big.bin')) == 8 << 20
    log = ws.log_text()
    assert 'FASP: stopping ascp' in log and 'job job1 terminated' in log
    assert f'removed the unfinished {written_as} from the target' in log

def test_a_killed_run_leaves_its_partial_file_to_the_next_run(ws, live_sshd, remote, tmp_path):
    """The journal records a file ascp begins to write under its partial name: the
    next run removes what a killed run left, and sends the file again."""
    wrapper = AscpWrapper(tmp_path)
    hosts(ws, live_sshd, ascp_path=wrapper.path, target_rate_kbps='4000')  # 500 kB/s
    make_sparse(os.path.join(remote, 'big.bin'), 8 << 20)
    ws.write_job(job={'single_instance': 'yes'},
                 source={'host_id': 'fasp', 'path': remote, 'files': '*'},
                 target={'temp': 'ext:.part'})
    proc = ws.popen('job1', stderr=subprocess.PIPE, text=True)
    partial = os.path.join(ws.dst, 'big.bin.part')

    def recorded():     # the run knows it writes the partial file (ascp's STATS event)
        return any('big.bin.part' in open(os.path.join(ws.locks_dir, name)).read()
                   for name in os.listdir(ws.locks_dir) if '.writing.' in name)

    assert wait_for(lambda: os.path.exists(partial) and recorded(), proc=proc), \
        proc.communicate()
    proc.kill()
    proc.wait()
    [run] = wrapper.runs
    wait_for(lambda: ended(run['pid']), timeout=10)    # ascp ends with the job
    assert os.path.exists(partial)
    hosts(ws, live_sshd, ascp_path=wrapper.path)            # at full speed now
    done = ws.run('job1')
    assert done.returncode == 0, done.stderr
    assert 'removed big.bin.part, left unfinished on the target by an earlier run' in \
        ws.log_text()
    assert tree(ws.dst).keys() == {'big.bin'}
    assert os.path.getsize(os.path.join(ws.dst, 'big.bin')) == 8 << 20
    assert not [name for name in os.listdir(ws.locks_dir) if '.writing.' in name]



def test_lost_connection_is_tried_again_without_the_files_already_done(
        ws, live_sshd, remote, tmp_path, monkeypatch, caplog):
    """The sshd goes down in the middle of a download; the second try (after the
    server is back) takes only the files the first did not finish."""
    make_files(remote, {'a.csv': 'A', 'c.csv': 'C'})
    make_sparse(os.path.join(remote, 'b.csv'), 2 << 20)
    mark = str(tmp_path / 'first-run-done')
    wrapper = AscpWrapper(tmp_path, body=(    # the first run slowly, the second fast
        f'if os.path.exists({mark!r}):\n'
        f'    sys.argv[sys.argv.index("-l") + 1] = "800000"\n'
        f'open({mark!r}, "w").close()'))
    hosts(ws, live_sshd, ascp_path=wrapper.path, target_rate_kbps='4000')
    ws.write_job(job={'retries': '1', 'collect_data': 'yes'},
                 source={'host_id': 'fasp', 'path': remote, 'files': '*.csv'},
                 target={'temp': 'ext:.part'})
    waits = []
    monkeypatch.setattr(job_module, 'retry_wait', lambda seconds: (waits.append(seconds),
                                                                   live_sshd.start()))
    partial = os.path.join(ws.dst, 'b.csv.part')
    stopper = threading.Thread(target=lambda: (wait_for(lambda: os.path.exists(partial)),
                                               live_sshd.stop()))
    stopper.start()
    caplog.set_level('INFO', logger='filetransfer')
    run, _ = filetransfer.configure(ws.app_cfg, 'job1')
    try:
        result, code = run()
    finally:
        stopper.join(30)
    assert (code, waits) == (0, [1])
    assert tree(ws.dst) == {'a.csv': b'A', 'b.csv': open(os.path.join(remote, 'b.csv'),
                                                         'rb').read(), 'c.csv': b'C'}
    assert sorted(path for path, _, _ in result.file_list) == ['a.csv', 'b.csv', 'c.csv']
    first, second = (run['argv'] for run in wrapper.runs)
    assert '/a.csv' not in first and '/a.csv' not in second     # no rule per file done
    assert any(arg.startswith('--file-pair-list=') for arg in second)
    log = caplog.text     # the test's logging comes first: no log file
    assert log.count('transferred a.csv') == 1 and '(code 16)' in log


def test_progress_on_a_terminal(ws, live_sshd, remote):
    from test_operator_cli import _run_on_terminal

    make_sparse(os.path.join(remote, 'big.bin'), 4 << 20)
    make_files(remote, {'small.txt': 'x'})
    hosts(ws, live_sshd)
    ws.write_job(source={'host_id': 'fasp', 'path': remote, 'files': '*'})
    code, shown = _run_on_terminal(ws, 'job1')
    text = shown.decode()
    assert code == 0 and '[1] big.bin' in text and '[2] small.txt' in text
    assert 'of 4.2 MB' in text and '100%' in text and text.endswith('\r\x1b[K')


# -- configuration, check, dry run -------------------------------------------------------

@pytest.mark.parametrize('host, job, message', [
    ({}, {'target': {'temp': 'dot'}},
     "[target] temp: a FASP transfer writes a file under ascp's partial-file suffix: "
     "expected ext:.EXT, got 'dot'"),
    ({}, {'target': {'temp': 'dir:tmp'}}, "expected ext:.EXT, got 'dir:tmp'"),
    ({}, {'source': {'files': '[^a]*'}}, '[source] files: ascp cannot choose files by this '
                                         'pattern of a FASP source: [^a]: ascp reads [^...]'),
    ({}, {'source': {'ignore': 'a\\b'}}, '[source] ignore: ascp cannot choose'),
    ({}, {'target': {'host_id': 'sftp'}}, '[target] host_id: a FASP source needs a local '
                                          'target directory'),
    ({'min_rate_kbps': '20000'}, {}, '[fasp] min_rate_kbps: 20000 is above target_rate_kbps '
                                     '(10000, the default)'),
    ({'key_pass': 'pass-K9x', 'password': 'pass-P7y'}, {},
     '[fasp] key_pass: ascp takes one secret'),
])
def test_what_a_fasp_job_cannot_do_is_a_configuration_error(ws, host, job, message):
    host = {'type': 'FASP', 'host': 'aspera.example.com', 'user': 'u', 'key_file': '/k',
            **host}
    write_ini(ws.hosts_cfg, {'fasp': host, 'sftp': {
        'type': 'SFTP', 'host': 'sftp.example.com', 'user': 'u', 'password': 'p',
        'known_hosts': '/kh'}})
    source = {'host_id': 'fasp', 'path': 'out', 'files': '*', **job.get('source', {})}
    ws.write_job(source=source, target=job.get('target'))
    done = ws.run('job1')
    assert done.returncode == 3 and message in done.stderr
    assert 'pass-' not in done.stderr


def test_check_connect_and_dry_run(ws, live_sshd, remote, tmp_path):
    make_files(ws.src, {'a.csv': 'A', 'b.txt': 'B'})
    make_files(remote, {'x.csv': 'X' * 10, 'sub/y.csv': 'Y', 'z.txt': 'Z', 'READY': ''})
    write_ini(ws.hosts_cfg, {'fasp': fasp_host(live_sshd),
                             'locked': fasp_host(live_sshd, key_file=unknown_key(tmp_path))})
    ws.write_job('up', source={'files': '*.csv'}, target={'host_id': 'fasp', 'path': remote})
    ws.write_job('down', job={'ready_file': 'READY'},
                 source={'host_id': 'fasp', 'path': remote, 'files': '*.csv',
                         'recursive': 'yes'})
    ws.write_job('refused', target={'host_id': 'locked', 'path': remote + '/in'})
    done = subprocess.run(command_argv('check', '-c', ws.app_cfg, '--connect'),
                          capture_output=True, text=True, cwd=ws.root, timeout=60)
    fasp = f'FASP {live_sshd.user}@{live_sshd.host}:{live_sshd.port} {remote}'
    assert done.returncode == 2
    lines = done.stdout.splitlines()
    assert f'source {fasp} (job down): reachable' in lines
    assert f'target {fasp} (job up): reachable' in lines
    assert any(line.startswith(f'target {fasp}/in (job refused): unreachable: ') and
               'was refused for user' in line for line in lines)
    done = ws.run('--dry-run', '--json', 'down')
    assert done.returncode == 0
    assert json.loads(done.stdout)['files'] == [
        {'path': 'sub/y.csv', 'size': 1, 'action': 'send', 'source': 'keep'},
        {'path': 'x.csv', 'size': 10, 'action': 'send', 'source': 'keep'}]
    done = ws.run('--dry-run', 'up')
    assert done.returncode == 0 and '  a.csv  (1 bytes)' in done.stdout
    assert tree(ws.dst) == {} and 'READY' in tree(remote)


def test_a_name_ascp_cannot_take_is_a_source_error(ws, live_sshd, remote):
    make_files(ws.src, {'a.txt': 'A', 'two\nlines.txt': 'B'})
    hosts(ws, live_sshd)
    ws.write_job(target={'host_id': 'fasp', 'path': remote})
    code, data = json_run(ws, 'job1')
    assert code == 1 and (data['files_cnt'], data['src_error_cnt']) == (1, 1)
    assert tree(remote) == {'a.txt': b'A'}


def test_ssh_fingerprint_spellings():
    import base64
    import hashlib

    from filetransfer.endpoints.fasp.ssh import fingerprint, fingerprint_matches
    blob = b'ssh-ed25519 key blob'
    sha1, md5 = hashlib.sha1(blob).hexdigest(), hashlib.md5(blob).hexdigest()
    sha256 = base64.b64encode(hashlib.sha256(blob).digest()).decode()
    assert fingerprint(blob) == 'SHA256:' + sha256.rstrip('=')
    for spelling in ('SHA256:' + sha256, fingerprint(blob), sha1, sha1.upper(),
                     ':'.join(sha1[i:i + 2] for i in range(0, 40, 2)), 'MD5:' + md5,
                     'SHA1:' + sha1):
        assert fingerprint_matches(spelling, blob), spelling
    assert not fingerprint_matches(sha1[:-1] + '0' if sha1[-1] != '0' else sha1[:-1] + '1',
                                   blob)
    assert not fingerprint_matches('SHA256:' + 'A' * 43, blob)


def test_faspmanager_is_imported_only_when_a_fasp_job_runs(ws):
    import sys
    write_ini(ws.hosts_cfg, {'fasp': {'type': 'FASP', 'host': 'aspera.example.com',
                                      'user': 'u', 'key_file': '/k'}})
    ws.write_job(source={'host_id': 'fasp', 'path': 'out', 'files': '*.csv'})
    code = ('import sys\nfrom filetransfer import config\nfrom filetransfer.service import check\n'
            f'app = config.load_app({ws.app_cfg!r})\nconfig.load_job(app, "job1")\n'
            f'assert not check.check({ws.app_cfg!r}).problems\n'
            'print(sorted(m for m in ("faspmanager", "paramiko") if m in sys.modules))')
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == '[]'
