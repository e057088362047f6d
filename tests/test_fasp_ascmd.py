"""faspmanager.Ascmd against the Aspera account of the test servers (aspshell: only ascp
and ascmd), and ascmd's wire format."""

import base64
import hashlib
import os
import signal
import struct

import pytest

import faspmanager as fm
from faspmanager import ascmdwire as wire


def connect(account, **kwargs) -> fm.Ascmd:
    kwargs.setdefault('password', account.password)
    return fm.Ascmd(account.host, account.user, port=account.port, timeout=20, **kwargs)


# --- the wire format --------------------------------------------------------------------

def _tlv(kind, value):
    return struct.pack('>BI', kind, len(value)) + value


def test_a_listing_in_the_layout_a_real_ascmd_sends():
    """Field numbers as ascmd's type tables give them (name 1, size 2, mode text 4,
    owner 6, group 8, times 9-14), in the order a real ascmd was seen to send them."""
    entry = b''.join([
        _tlv(4, b'-rw-r--r--\0'), _tlv(6, b'xfer\0'), _tlv(8, b'users\0'),
        _tlv(2, (1234).to_bytes(8, 'big')), _tlv(10, b'2024-06-01 10:00\0'),
        _tlv(12, b'2024-06-01 10:00\0'), _tlv(14, b'2024-06-01 10:00\0'),
        _tlv(9, (1717236000).to_bytes(8, 'big')), _tlv(11, (1717236000).to_bytes(8, 'big')),
        _tlv(13, (1717236000).to_bytes(8, 'big')), _tlv(1, b'report.csv\0')])
    data = _tlv(5, _tlv(2, b'2.8.0\0') + _tlv(3, b'C\0') + _tlv(10, b'/\0')) + \
        _tlv(2, _tlv(1, entry))
    (info_kind, info), (dir_kind, listing) = wire.split(data)
    assert wire.decode_result(info_kind, info) == (
        wire.Result.INFO, {'version': '2.8.0', 'lang': 'C', 'dev': ['/']})
    result, [record] = wire.decode_result(dir_kind, listing)
    assert result is wire.Result.DIR
    stat = fm.ascmd.Stat.from_record(record)
    assert (stat.name, stat.size, stat.kind, stat.user, stat.group, stat.mtime) == \
        ('report.csv', 1234, 'file', 'xfer', 'users', 1717236000)
    assert wire.encode_result(wire.Result.DIR, [record]) == _tlv(2, _tlv(1, entry)) or \
        wire.decode_result(*wire.split(wire.encode_result(wire.Result.DIR, [record]))[0]) == \
        (wire.Result.DIR, [record])


@pytest.mark.parametrize('arg', ['plain', 'with space', 'a"quote', 'back\\slash', '"\\"',
                                 'tab\there', 'caf\u00e9'])
def test_request_quoting_round_trips(arg):
    line = wire.request('mv', arg, '/dst').decode()
    assert line.startswith('as_mv "') and line.endswith('"\n')
    assert wire.split_request(line.rstrip('\n')) == ['as_mv', arg, '/dst']


def test_a_line_break_cannot_be_sent():
    with pytest.raises(ValueError, match='line break'):
        wire.request('ls', 'a\nb')


def test_garbage_is_a_wire_error():
    with pytest.raises(wire.WireError):
        wire.split(b'\x02\x00\x00\x00\x09abc')
    with pytest.raises(wire.WireError):
        wire.decode_result(42, b'')


# --- the client against the account ----------------------------------------------------

def test_listing_stat_and_walk_in_the_docroot(aspera_account):
    account = aspera_account
    account.put('out/a.csv', 'A' * 10)
    account.put('out/sub/b.csv', 'B' * 20)
    account.put('out/sub/deep/c.csv', 'C')
    account.mkdir('out/empty')
    with connect(account) as cmd:
        info = cmd.info()
        assert info['lang'] == 'C' and info['version']
        names = {entry.name: entry for entry in cmd.ls('/out')}
        assert set(names) == {'a.csv', 'sub', 'empty'}
        assert names['a.csv'].is_file and names['a.csv'].size == 10
        assert names['sub'].is_dir and names['a.csv'].user == account.user
        assert [e.name for e in cmd.ls('out/a.csv')] == ['a.csv']    # a file: its own stat
        stat = cmd.stat('/out/sub/b.csv')
        assert (stat.name, stat.size, stat.is_file) == ('/out/sub/b.csv', 20, True)
        assert stat.mtime == int(os.stat(account.path('out/sub/b.csv')).st_mtime)
        assert cmd.stat('/out/sub').is_dir and cmd.stat('/').is_dir
        assert cmd.exists('/out/sub/deep/c.csv') and not cmd.exists('/out/nope')
        assert cmd.size('/out/a.csv') == 10
        walked = {rel: entry.kind for rel, entry in cmd.walk('/out')}
        assert walked == {'a.csv': 'file', 'empty': 'directory', 'sub': 'directory',
                          'sub/b.csv': 'file', 'sub/deep': 'directory',
                          'sub/deep/c.csv': 'file'}
        usage = cmd.du('/out')
        assert (usage.size, usage.files, usage.dirs) == (31, 3, 4)
        assert cmd.md5sum('/out/a.csv') == hashlib.md5(b'A' * 10).hexdigest()


def test_changes_land_in_the_docroot(aspera_account):
    account = aspera_account
    account.put('in/x.part', 'x')
    with connect(account, password=None, identity=account.key_file) as cmd:
        cmd.mkdir('/in/2024/06/01', parents=True)
        cmd.mkdir('/in/2024/06/01', parents=True)           # there already: fine
        cmd.mv('/in/x.part', '/in/2024/06/01/x.csv')
        assert os.path.isfile(account.path('in/2024/06/01/x.csv'))
        cmd.rm('/in/2024/06/01/x.csv')
        cmd.rm('/in/2024')
        assert os.listdir(account.path('in')) == []
        with pytest.raises(FileExistsError):
            cmd.mkdir('/in')
        with pytest.raises(FileNotFoundError):
            cmd.mkdir('/in/a/b')                            # one level without parents


def test_stat_follows_links_as_ascp_does_when_asked(aspera_account):
    account = aspera_account
    account.put('ln/data/a.csv', 'A' * 7)
    os.symlink('data', account.path('ln/to-dir'))
    os.symlink('data/a.csv', account.path('ln/to-file'))
    os.symlink('nowhere', account.path('ln/dangling'))
    account.own(account.docroot)
    with connect(account) as cmd:
        assert cmd.stat('/ln/to-dir').is_link and cmd.stat('/ln/to-file').is_link
        followed = cmd.stat('/ln/to-dir', follow_links=True)
        assert (followed.kind, followed.name) == ('directory', '/ln/to-dir')
        followed = cmd.stat('/ln/to-file', follow_links=True)
        assert (followed.kind, followed.size) == ('file', 7)
        assert cmd.stat('/ln/data/a.csv', follow_links=True).size == 7
        with pytest.raises(FileNotFoundError):
            cmd.stat('/ln/dangling', follow_links=True)


@pytest.mark.parametrize('name', ['with space.txt', 'quote"d.txt', 'back\\slash.txt',
                                  'caf\u00e9.txt'])
def test_odd_names(aspera_account, name):
    aspera_account.put(f'odd/{name}', 'x')
    with connect(aspera_account) as cmd:
        assert [entry.name for entry in cmd.ls('/odd')] == [name]
        cmd.mv(f'/odd/{name}', f'/odd/{name}.moved')
        assert cmd.stat(f'/odd/{name}.moved').size == 1


def test_errors_are_oserrors_with_the_servers_errno(aspera_account):
    with connect(aspera_account) as cmd:
        with pytest.raises(FileNotFoundError) as info:
            cmd.ls('/no/such/dir')
        assert info.value.errno == 2 and info.value.filename == '/no/such/dir'
        assert 'No such file or directory' in str(info.value)
        with pytest.raises(PermissionError):               # outside the docroot
            cmd.ls('/../../etc')
        with pytest.raises(PermissionError):
            cmd.rm('/')
        assert cmd.exists('/')            # the session goes on after errors


def test_login_refused_keeps_the_password_out(aspera_account):
    wrong = aspera_account.password + 'x'
    with pytest.raises(fm.AscmdConnectionError) as info:
        connect(aspera_account, password=wrong)
    assert info.value.login_refused and wrong not in str(info.value)
    assert aspera_account.user in str(info.value)


def test_the_host_key_is_checked_when_a_fingerprint_is_given(aspera_account):
    with pytest.raises(fm.AscmdConnectionError, match='host key') as info:
        connect(aspera_account, fingerprint='SHA256:' + 'A' * 43)
    assert info.value.login_refused
    blobs = [base64.b64decode(line.split()[2]) for line in open(aspera_account.known_hosts)]
    good = [f'SHA256:{base64.b64encode(hashlib.sha256(b).digest()).decode()}' for b in blobs]
    outcomes = []
    for fingerprint in good:       # the server shows one of its keys
        try:
            connect(aspera_account, fingerprint=fingerprint).close()
            outcomes.append(True)
        except fm.AscmdConnectionError:
            outcomes.append(False)
    assert any(outcomes)


def test_unreachable_host():
    from servers.common import free_port
    with pytest.raises(fm.AscmdConnectionError, match='cannot reach'):
        fm.Ascmd('127.0.0.1', 'nobody', port=free_port(), password='p', timeout=5)


def test_a_broken_channel_is_not_a_file_error(aspera_account):
    cmd = connect(aspera_account)
    try:
        assert cmd.exists('/')
        for pid in aspera_account.server.sessions():        # the server side goes away
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        with pytest.raises(fm.AscmdConnectionError, match='broke'):
            cmd.ls('/')
        with pytest.raises(fm.AscmdConnectionError):
            cmd.ls('/')
    finally:
        cmd.close()
        cmd.close()


def test_for_order_takes_the_orders_credentials(aspera_account):
    aspera_account.put('down/r.txt', 'r')
    order = fm.FileDownload('/down/r.txt', aspera_account.user, aspera_account.host,
                            source_identity=aspera_account.key_file,
                            options=fm.TransferOptions(tcp_port=aspera_account.port))
    with fm.Ascmd.for_order(order) as cmd:
        assert cmd.size('/down/r.txt') == 1
        assert 'password' not in repr(cmd)
