"""The emulator as an Aspera server: the account's aspshell lets only ascp and ascmd
through, ascp's remote paths are in the docroot, the receiver's partial-file suffix
and the server's minimum rate apply."""

import os

import paramiko
import pytest

import faspmanager as fm
from fasp_helpers import Recorder, emulator
from procs import make_sparse, wait_for


@pytest.fixture(autouse=True)
def _frequent_stats(monkeypatch):
    monkeypatch.setenv('ASCP_EMULATOR_STATS_INTERVAL', '0.2')


def ssh(account) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(account.host, account.port, username=account.user,
                   password=account.password, look_for_keys=False, allow_agent=False,
                   timeout=20)
    return client


def opts(account, **kwargs) -> fm.TransferOptions:
    kwargs.setdefault('tcp_port', account.port)
    kwargs.setdefault('target_rate_kbps', 800000)
    return fm.TransferOptions(**kwargs)


def upload(account, sources, **kwargs) -> fm.FileUpload:
    return fm.FileUpload(sources, account.user, account.host, dest_pass=account.password,
                         options=opts(account, **kwargs))


def download(account, sources, **kwargs) -> fm.FileDownload:
    return fm.FileDownload(sources, account.user, account.host,
                           source_identity=account.key_file, options=opts(account, **kwargs))


def run(order, listener=None):
    with fm.session(order, ascp_path=emulator(), listener=listener) as session:
        session.start()
        return session.finish()


# --- aspshell -----------------------------------------------------------------------------

@pytest.mark.parametrize('command', ['ls /', 'sh -c id', 'cat /etc/passwd', 'scp -t /tmp'])
def test_aspshell_refuses_other_commands(aspera_account, command):
    client = ssh(aspera_account)
    try:
        _, stdout, stderr = client.exec_command(command, timeout=20)
        assert stdout.read() == b''
        assert stdout.channel.recv_exit_status() == 1
        assert f'Command not accepted: {command}' in stderr.read().decode()
    finally:
        client.close()


def test_aspshell_refuses_sftp_and_a_shell(aspera_account):
    client = ssh(aspera_account)
    try:
        with pytest.raises((paramiko.SSHException, EOFError)):
            client.open_sftp()
        channel = client.get_transport().open_session(timeout=20)
        channel.invoke_shell()
        channel.settimeout(20)
        assert channel.recv_exit_status() == 1
        assert b'Command not accepted' in channel.recv_stderr(1000)
    finally:
        client.close()


# --- docroot -------------------------------------------------------------------------------

def test_upload_and_download_paths_are_in_the_docroot(aspera_account, tmp_path):
    account = aspera_account
    (tmp_path / 'a.txt').write_text('up')
    result = run(upload(account, str(tmp_path / 'a.txt'), destination_root='/in',
                        create_dirs=True))
    assert result.ok(), result.reason()
    assert open(account.path('in/a.txt')).read() == 'up'
    account.put('out/sub/b.txt', 'down')
    result = run(download(account, '/out', destination_root=str(tmp_path / 'local'),
                          create_dirs=True))
    assert result.ok(), result.reason()
    assert (tmp_path / 'local' / 'out' / 'sub' / 'b.txt').read_text() == 'down'
    result = run(download(account, 'out/sub/b.txt', destination_root=str(tmp_path / 'rel.txt')))
    assert result.ok() and (tmp_path / 'rel.txt').read_text() == 'down'


def test_paths_leaving_the_docroot_are_refused_with_code_41(aspera_account, tmp_path):
    account = aspera_account
    (tmp_path / 'a.txt').write_text('x')
    result = run(upload(account, str(tmp_path / 'a.txt'), destination_root='/../escape',
                        create_dirs=True))
    assert result.error_code() == 41 and 'docroot' in result.reason()
    assert not os.path.exists(os.path.join(os.path.dirname(account.docroot), 'escape'))
    recorder = Recorder()
    result = run(download(account, ['/../../../etc/hostname', 'in/../../x'],
                          destination_root=str(tmp_path / 'got'), create_dirs=True), recorder)
    assert result.error_code() == 41
    assert {e.file_stats['error_code'] for e in recorder.of_type('FILEERROR')} == {41}
    assert not (tmp_path / 'got' / 'hostname').exists()
    os.symlink('/etc', account.path('link-out'))            # a link pointing outside
    result = run(download(account, '/link-out/hostname', destination_root=str(tmp_path)))
    assert result.error_code() == 41


# --- the receiver's partial-file suffix, the server's minimum rate --------------------------

def _slow_session(order):
    recorder = Recorder()
    session = fm.session(order, ascp_path=emulator(), listener=recorder)
    session.start()
    recorder.wait_for(lambda e: e.event_type is fm.TransferEventType.STATS)
    return session


def _slow_upload_with_suffix_part(account, tmp_path):
    """A session uploading 8 MiB at 1 MB/s to /in, the sender asking for '.part'."""
    make_sparse(str(tmp_path / 'big.bin'), 8 << 20)
    return _slow_session(upload(account, str(tmp_path / 'big.bin'), destination_root='/in',
                                create_dirs=True, partial_file_suffix='.part',
                                target_rate_kbps=8000))


def test_on_upload_the_servers_suffix_applies_not_the_senders(aspera_account, tmp_path):
    account = aspera_account
    account.configure(partial_file_suffix='.partial')
    with _slow_upload_with_suffix_part(account, tmp_path) as session:
        assert wait_for(lambda: os.path.exists(account.path('in/big.bin.partial')))
        assert not os.path.exists(account.path('in/big.bin.part'))
        session.set_rate(800000)
        result = session.finish()
    assert result.ok(), result.reason()
    assert sorted(os.listdir(account.path('in'))) == ['big.bin']


def test_on_upload_without_a_server_suffix_the_file_is_written_in_place(aspera_account,
                                                                        tmp_path):
    account = aspera_account
    with _slow_upload_with_suffix_part(account, tmp_path) as session:
        assert wait_for(lambda: os.path.exists(account.path('in/big.bin')))
        assert not os.path.exists(account.path('in/big.bin.part'))
        session.cancel()
        session.finish()


def test_on_download_the_clients_suffix_applies(aspera_account, tmp_path):
    account = aspera_account
    account.configure(partial_file_suffix='.partial')
    make_sparse(account.path('out/big.bin'), 8 << 20)
    account.own(account.docroot)
    local = tmp_path / 'local'
    order = download(account, '/out/big.bin', destination_root=str(local), create_dirs=True,
                     partial_file_suffix='.part', target_rate_kbps=8000)
    with _slow_session(order) as session:
        assert wait_for(lambda: (local / 'big.bin.part').exists())
        session.set_rate(800000)
        result = session.finish()
    assert result.ok(), result.reason()
    assert sorted(os.listdir(local)) == ['big.bin']


def test_without_m_the_servers_minimum_rate_applies(aspera_account, tmp_path):
    account = aspera_account
    account.configure(min_rate_kbps=1000)
    (tmp_path / 'a.txt').write_text('a')
    recorder = Recorder()
    result = run(upload(account, str(tmp_path / 'a.txt'), destination_root='/'), recorder)
    assert result.ok(), result.reason()
    assert recorder.of_type('SESSION')[0].session_stats['min_rate_kbps'] == 1000
    recorder = Recorder()
    result = run(upload(account, str(tmp_path / 'a.txt'), destination_root='/',
                        min_rate_kbps=200), recorder)
    assert recorder.of_type('SESSION')[0].session_stats['min_rate_kbps'] == 200


def test_persistent_and_stream_sessions_reach_the_docroot(aspera_account, tmp_path):
    account = aspera_account
    (tmp_path / 'p.txt').write_text('persistent')
    order = fm.PersistentUpload(account.user, account.host, dest_pass=account.password,
                                options=opts(account, destination_root='/p', create_dirs=True))
    with fm.session(order, ascp_path=emulator()) as session:
        session.start()
        session.add_source(str(tmp_path / 'p.txt'), 'sub/p.txt')
        result = session.finish()
    assert result.ok(), result.reason()
    assert open(account.path('p/sub/p.txt')).read() == 'persistent'
    order = fm.StreamUpload(account.user, account.host, dest_pass=account.password,
                            options=opts(account, destination_root='/s'))
    with fm.session(order, ascp_path=emulator()) as session:
        session.start()
        stream = session.open_stream('streamed.bin')
        stream.send(b'0123456789' * 1000)
        stream.close()
        result = session.finish()
    assert result.ok(), result.reason()
    assert os.path.getsize(account.path('s/streamed.bin')) == 10000
