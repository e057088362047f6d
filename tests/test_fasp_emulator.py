"""The ascp emulator as a program: its command line, and its management messages seen by
a bare socket (no faspmanager session in between)."""

import base64
import hashlib
import os
import socket
import subprocess

import pytest

from faspmanager import mgmt
from fasp_helpers import emulator

FIELDS = {   # fields each message type must carry (names as real ascp spells them)
    'INIT': {'SessionId', 'UserStr', 'Direction', 'Operation'},
    'SESSION': {'SessionId', 'UserStr', 'Rate', 'MinRate', 'Adaptive', 'Direction',
                'Encryption', 'Port', 'TCPPort', 'Remote', 'Host', 'User'},
    'STATS': {'SessionId', 'UserStr', 'File', 'Size', 'Written', 'Bytescont', 'StartByte',
              'TransferBytes', 'FileBytes', 'Loss', 'Delay', 'Elapsedusec', 'Rate'},
    'STOP': {'SessionId', 'UserStr', 'File', 'Size', 'Written', 'StartByte', 'EndByte',
             'Loss', 'FileChecksum', 'FileChecksumType'},
    'ARGSTOP': {'FaspFileArgIndex', 'ArgTransfersStatus', 'ArgTransfersAttempted',
                'ArgTransfersPassed', 'ArgTransfersFailed', 'ArgTransfersSkipped'},
    'DONE': {'TransferBytes', 'FileBytes', 'TransfersAttempted', 'TransfersPassed',
             'TransfersFailed', 'TransfersSkipped', 'ArgScansAttempted', 'ArgScansCompleted',
             'PathScansAttempted', 'PathScansFailed', 'PathScansIrregular',
             'PathScansExcluded', 'Elapsedusec'},
    'ERROR': {'SessionId', 'UserStr', 'Code', 'Description', 'Loss'},
    'FILEERROR': {'File', 'Code', 'Description'},
}


def manage(argv, commands=(), env=None, after=None, timeout=30):
    """Runs the emulator with -M on a fresh port; sends ``commands`` once a message
    of type ``after`` arrived (or at once); returns (messages, exit status, stderr)."""
    with socket.socket() as listener:
        listener.bind(('127.0.0.1', 0))
        listener.listen(1)
        listener.settimeout(timeout)
        port = listener.getsockname()[1]
        proc = subprocess.Popen([emulator(), '-M', str(port), '-u', 'user-string', *argv],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env={**os.environ, 'ASCP_EMULATOR_STATS_INTERVAL': '0.2',
                                     **(env or {})})
        conn, _ = listener.accept()
    parser, messages, sent = mgmt.Parser(), [], False
    with conn:
        conn.settimeout(timeout)
        while True:
            if not sent and (after is None or any(m.type == after for m in messages)):
                for command in commands:
                    conn.sendall(command)
                sent = True
            data = conn.recv(65536)
            if not data:
                break
            messages += parser.feed(data)
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    return messages, proc.wait(timeout), stderr


def ssh_args(sshd, *more):
    return ['--mode=send', f'--host={sshd.host}', f'--user={sshd.user}', '-P', str(sshd.port),
            '-i', sshd.client_keys['ed25519'], *more]


def check_fields(messages):
    for message in messages:
        missing = FIELDS.get(message.type, set()) - set(message.fields)
        if message.type == 'STOP' and 'FileChecksum' not in message.fields:
            missing -= {'FileChecksum', 'FileChecksumType'}
        assert not missing, f'{message.type} lacks {missing}'


def test_upload_events_in_ascp_order_with_ascp_fields(live_sshd, tmp_path):
    (tmp_path / 'a.txt').write_text('aaa')
    (tmp_path / 'b.txt').write_text('bbbb')
    messages, status, _ = manage(ssh_args(live_sshd, '-q', '-d', '--file-checksum=sha1',
                                          str(tmp_path / 'a.txt'), str(tmp_path / 'b.txt'),
                                          str(tmp_path / 'out')))
    assert status == 0
    types = [m.type for m in messages]
    assert types == ['INIT', 'SESSION', 'STATS', 'STOP', 'ARGSTOP', 'STATS', 'STOP', 'ARGSTOP',
                     'DONE']
    check_fields(messages)
    init = messages[0]
    assert init.get('UserStr') == 'user-string' and init.get('Direction') == 'Send'
    assert init.get('Operation') == 'Transfer'
    assert len({m.get('SessionId') for m in messages}) == 1
    done = messages[-1]
    assert (done.get('TransfersAttempted'), done.get('TransfersPassed'),
            done.get('FileBytes')) == (2, 2, 7)
    assert messages[6].get('FileChecksum') == hashlib.sha1(b'bbbb').hexdigest()
    assert (tmp_path / 'out' / 'b.txt').read_text() == 'bbbb'


def test_file_list_and_precalculation(live_sshd, tmp_path):
    names = [f'f{i:02}.txt' for i in range(12)]
    for name in names:
        (tmp_path / name).write_text(name)
    listing = tmp_path / 'list.txt'
    listing.write_text(''.join(f'{tmp_path / name}\n' for name in names))
    messages, status, _ = manage(ssh_args(live_sshd, '--precalculate-job-size', '-d',
                                          f'--file-list={listing}', str(tmp_path / 'out')))
    assert status == 0
    note = next(m for m in messages if m.type == 'NOTIFICATION')
    assert note.get('PreTransferFiles') == 12 and note.get('PreTransferBytes') == 12 * 7
    assert [m.type for m in messages].count('ARGSTOP') == 12
    assert sorted(os.listdir(tmp_path / 'out')) == names


def test_download_by_file_pair_list(live_sshd, tmp_path):
    (tmp_path / 'remote.txt').write_text('r')
    pairs = tmp_path / 'pairs.txt'
    pairs.write_text(f'{tmp_path / "remote.txt"}\nnew/name.txt\n')
    args = ssh_args(live_sshd, f'--file-pair-list={pairs}', str(tmp_path / 'local'))
    args[0] = '--mode=recv'
    messages, status, _ = manage(args)
    assert status == 0
    assert (tmp_path / 'local' / 'new' / 'name.txt').read_text() == 'r'
    stop = next(m for m in messages if m.type == 'STOP')
    assert stop.get('File') == str(tmp_path / 'local' / 'new' / 'name.txt')
    assert messages[0].get('Direction') == 'Receive'


def test_include_rules_before_exclude_rules(live_sshd, tmp_path):
    for name in ('a.csv', 'b.txt', 'c.csv'):
        (tmp_path / 'in' / name).parent.mkdir(exist_ok=True)
        (tmp_path / 'in' / name).write_text(name)
    _, status, _ = manage(ssh_args(live_sshd, '-N', 'a.*', '-E', '*.csv', '-d',
                                   str(tmp_path / 'in'), str(tmp_path / 'out')))
    assert status == 0
    assert sorted(os.listdir(tmp_path / 'out' / 'in')) == ['a.csv', 'b.txt']


def _host_key_fingerprint(sshd, kind):
    blob = base64.b64decode(open(sshd.host_keys[kind] + '.pub').read().split()[1])
    return hashlib.sha1(blob).hexdigest()


def test_check_sshfp(live_sshd, tmp_path):
    (tmp_path / 'a.txt').write_text('a')
    good = [_host_key_fingerprint(live_sshd, kind) for kind in ('ed25519', 'ecdsa', 'rsa')]
    args = [str(tmp_path / 'a.txt'), str(tmp_path / 'b.txt')]
    # the server offers one of its keys; any of them is the right fingerprint
    outcomes = [manage(ssh_args(live_sshd, f'--check-sshfp={fp}', *args))[1] for fp in good]
    assert 0 in outcomes
    messages, status, stderr = manage(ssh_args(live_sshd, '--check-sshfp=' + '0' * 40, *args))
    assert status == 1 and messages[-1].type == 'ERROR' and messages[-1].get('Code') == 51
    assert stderr.startswith('ascp: ')


def test_keepalive_cancel_and_done(live_sshd, tmp_path):
    args = ssh_args(live_sshd, '--keepalive', str(tmp_path))
    messages, status, _ = manage(args, [mgmt.cancel_command()], after='SESSION')
    assert status == 1 and messages[-1].type == 'ERROR' and messages[-1].get('Code') == 28
    messages, status, _ = manage(args, [mgmt.done_command()], after='SESSION')
    assert status == 0 and messages[-1].type == 'DONE'


def test_start_of_a_missing_file_is_a_file_error(live_sshd, tmp_path):
    args = ssh_args(live_sshd, '--keepalive', str(tmp_path))
    commands = [mgmt.start_command(str(tmp_path / 'nope'), 'x'), mgmt.done_command(True)]
    messages, status, _ = manage(args, commands, after='SESSION')
    error = next(m for m in messages if m.type == 'FILEERROR')
    assert error.get('Code') == 4
    assert status == 1 and messages[-1].get('Code') == 4


def test_manager_that_goes_away_stops_ascp(live_sshd, tmp_path):
    with socket.socket() as listener:
        listener.bind(('127.0.0.1', 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        proc = subprocess.Popen([emulator(), '-M', str(port), *ssh_args(live_sshd, '--keepalive',
                                                                         str(tmp_path))],
                                stderr=subprocess.PIPE)
        conn, _ = listener.accept()
        conn.close()
    assert proc.wait(30) == 1
    assert b'management connection lost' in proc.stderr.read()
    proc.stderr.close()


def test_local_transfer_without_host(tmp_path):
    (tmp_path / 'a.txt').write_text('local')
    messages, status, _ = manage(['-k', '1', str(tmp_path / 'a.txt'), str(tmp_path / 'b.txt')])
    assert status == 0 and (tmp_path / 'b.txt').read_text() == 'local'
    assert [m.type for m in messages][-1] == 'DONE'


@pytest.mark.parametrize('argv, words', [
    (['--bogus', 'a', 'b'], "unrecognized option '--bogus'"),
    (['-z', 'a', 'b'], "unrecognized option '-z'"),
    (['--mode=receive', 'a', 'b'], "invalid value 'receive' for --mode"),
    (['-k', '5', 'a', 'b'], "invalid value '5' for -k"),
    (['--overwrite=sometimes', 'a', 'b'], 'invalid value'),
    (['-l', 'fast', 'a', 'b'], 'invalid rate'),
    (['-P', 'x', 'a', 'b'], 'invalid number'),
    (['-l'], "requires an argument"),
    (['--exclusive-mgmt-port=1', 'a', 'b'], 'unrecognized option'),
    ([], 'no destination'),
    (['only-dest'], 'no source'),
    (['--keepalive', 'src', 'dst'], 'no sources allowed'),
])
def test_refuses_what_real_ascp_refuses(argv, words):
    done = subprocess.run([emulator(), *argv], capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert done.stderr.startswith('ascp: ') and words in done.stderr


@pytest.mark.parametrize('rate, kbps', [
    ('250', 250), ('100K', 100), ('100k', 100), ('1.5M', 1500), ('0.5m', 500), ('2G', 2000000),
    ('80%', 800000), ('80p', 800000), ('80P', 800000)])    # % of an assumed 1 Gbps
def test_rates_in_the_forms_ascp_takes(tmp_path, rate, kbps):
    (tmp_path / 'a.txt').write_text('a')
    messages, status, _ = manage(['-l', rate, '-m', rate, str(tmp_path / 'a.txt'),
                                  str(tmp_path / 'b.txt')])
    session = next(m for m in messages if m.type == 'SESSION')
    assert status == 0 and (session.get('Rate'), session.get('MinRate')) == (kbps, kbps)


@pytest.mark.parametrize('rate', ['1.5.2', '10KB', '-5', 'fast', '', '1e3', '5T', '.5M'])
def test_rates_ascp_refuses(rate):
    done = subprocess.run([emulator(), '-l', rate, 'a', 'b'], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 1 and f"invalid rate '{rate}'" in done.stderr


@pytest.mark.parametrize('given, reported', [
    ('aes128', 'aes-128'), ('aes256', 'aes-256'), ('aes-192', 'aes-192'),
    ('aes128gcm', 'aes-128-gcm'), ('aes-256-cfb', 'aes-256-cfb')])
def test_ciphers_are_reported_as_ascp_spells_them(tmp_path, given, reported):
    (tmp_path / 'a.txt').write_text('a')
    messages, status, _ = manage(['-c', given, str(tmp_path / 'a.txt'), str(tmp_path / 'b.txt')])
    session = next(m for m in messages if m.type == 'SESSION')
    assert status == 0 and session.get('Cipher') == reported


def test_help_version_and_unreachable_manager():
    done = subprocess.run([emulator(), '-A'], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and 'not FASP' in done.stdout
    from servers.common import free_port
    port = free_port()
    done = subprocess.run([emulator(), '-M', str(port), 'a', 'b'], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 1
    assert f'required management connection to port localhost:{port} failed' in done.stderr


def test_docstring_says_it_is_an_emulator_not_fasp():
    from faspmanager.testing import emulator as module
    assert 'NOT FASP' in module.__doc__ and 'Not emulated' in module.__doc__
