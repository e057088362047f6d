"""Hostile and odd input beyond tests/test_remote_safety.py: names with line breaks,
control characters, line separators, very long names and duplicates in a server's
listing; LIST output an FTP server should never send; symbolic links on a local
source and in a local target; directory loops on a server. The job never crashes,
never hangs and never writes outside its target."""

import os

import pytest

import filetransfer
from faults import counts, json_result
from helpers import make_files, tree
from remote import ftp_host, write_hosts
from servers.paramiko_sftp import HOSTILE_DATA, LOOP_FILE, HostileSftpServer, LoopingSftpServer

LONG = 'L' * 300 + '.txt'           # longer than a file name may be (255 bytes)
# name -> what becomes of it: '=' transferred, '>' source error, '<' target error
NAMES = {
    'ok.txt': '=',
    'new\nline.txt': '>',
    'carriage\rreturn.txt': '>',
    'bell\x07.txt': '>',
    'c1-control\x85.txt': '>',
    'delete\x7f.txt': '>',
    'line\u2028separator.txt': '=',
    'ünïcödé €.txt': '=',
    LONG: '<',
}


def expected_tree():
    return {name: HOSTILE_DATA for name, tag in NAMES.items() if tag == '='}


def check_outcome(ws, done, tmp_path, names=NAMES):
    assert done.returncode == 1, done.stderr
    result = json_result(done)
    wanted = [NAMES[name] for name in names]
    assert counts(result) == (wanted.count('='), wanted.count('>'), wanted.count('<'))
    assert tree(ws.dst) == expected_tree()
    assert not any(ws.root not in str(path) for path in tmp_path.rglob('*'))
    assert 'Traceback' not in done.stderr


def hostile_job(ws):
    ws.write_job(source={'host_id': 'srv', 'path': '/data', 'delete': 'yes'},
                 target={'temp': 'dot'})


def test_odd_names_and_duplicates_in_an_sftp_listing(ws, tmp_path):
    entries = [(name, False) for name in NAMES] + [('ok.txt', False)]   # listed twice
    server = HostileSftpServer(str(tmp_path), entries)
    try:
        write_hosts(ws, srv={'type': 'SFTP', 'host': f'127.0.0.1:{server.port}',
                             'user': server.user, 'password': server.password,
                             'known_hosts': server.known_hosts, 'timeout': '30'})
        hostile_job(ws)
        done = ws.run('--json', 'job1')
    finally:
        server.stop()
    check_outcome(ws, done, tmp_path)
    removed = [path for operation, path in server.requests if operation == 'remove']
    assert removed.count('/data/ok.txt') == 1            # a file is deleted once


def test_odd_names_and_duplicates_in_an_ftp_mlsd_listing(ws, ftp_server, tmp_path):
    # A listing line cannot hold a line feed: 'new\nline.txt' would reach the client
    # as a file 'new' and a line that is no entry; that case is left out here.
    names = [name for name in NAMES if '\n' not in name]
    server = ftp_server(hostile=[{'name': name, 'type': 'file', 'size': len(HOSTILE_DATA)}
                                 for name in [*names, 'ok.txt']])
    os.makedirs(server.path('data'))
    write_hosts(ws, srv=ftp_host(server))
    hostile_job(ws)
    done = ws.run('--json', 'job1')
    check_outcome(ws, done, tmp_path, names)
    assert server.commands().count('DELE /data/ok.txt') == 1


ODD_LIST = [
    'total 42',
    '',
    '   ',
    'drwxr-xr-x   2 owner group     4096 Jan 01 00:00 .',
    'drwxr-xr-x   2 owner group     4096 Jan 01 00:00 ..',
    f'-rw-r--r--   1 owner group {len(HOSTILE_DATA):>8} Jan 01 00:00 ok.txt',
    f'-rw-r--r--   1 owner group {len(HOSTILE_DATA):>8} Jan 01  2023 two  spaces .txt',
    f'-rw-r--r--   1 owner {len(HOSTILE_DATA):>8} Jan 01 00:00 no-group.txt',
    f'-rw-r--r-- 1 owner group {len(HOSTILE_DATA)} Feb 29 12:34 tab\there.txt',
    'lrwxrwxrwx   1 owner group       11 Jan 01 00:00 link.txt -> /etc/passwd',
    f'-rw-r--r--   1 owner group {len(HOSTILE_DATA):>8} Jan 01 00:00 ../../escape.txt',
    f'-rw-r--r--   1 owner group {len(HOSTILE_DATA):>8} Jan 01 00:00 /etc/absolute.txt',
    '-rw-r--r--   1 owner group 99999999999999999999999 Jan 01 00:00 huge.txt',
    '-rw-r--r--   1 owner group notasize Jan 01 00:00 notasize.txt',
    '-rw-r--r--   1 owner group -5 Jan 01 00:00 negative.txt',
    'drwxr-xr-x   2 owner group     4096 Jan 01 00:00 ../up',
    f'01-01-24  12:00AM       {len(HOSTILE_DATA)} dos.txt',
    '01-01-24  12:00AM       <DIR>          dosdir',
    '?' * 100_000,
    '\x00\x01\x02 binary garbage',
    '-rw-r--r--',
    'prw-r--r--   1 owner group        0 Jan 01 00:00 a-fifo',
]
ODD_TRANSFERRED = {'ok.txt', 'two  spaces .txt', 'no-group.txt', 'dos.txt'}


def test_odd_list_output(ws, ftp_server, tmp_path):
    server = ftp_server(mlsd=False, list_lines=ODD_LIST)
    os.makedirs(server.path('data'))
    write_hosts(ws, srv=ftp_host(server))
    ws.write_job(source={'host_id': 'srv', 'path': '/data', 'delete': 'yes', 'ignore': ''},
                 target={'temp': 'dot'})     # ignore nothing: '.*' would leave out '../..'
    done = ws.run('--json', 'job1')
    assert done.returncode == 1, done.stderr
    result = json_result(done)
    transferred = {item['path'] for item in result['files'] if item['tag'] == '='}
    failed = {item['path']: item['error'] for item in result['files'] if item['tag'] != '='}
    assert transferred == ODD_TRANSFERRED
    assert set(failed) == {'tab\\there.txt', '../../escape.txt', '/etc/absolute.txt',
                           'huge.txt'}, failed
    assert 'changed while being transferred' in failed['huge.txt']
    assert tree(ws.dst) == {name: HOSTILE_DATA for name in ODD_TRANSFERRED}
    assert not (tmp_path / 'escape.txt').exists() and not os.path.exists('/etc/absolute.txt')
    assert 'cannot read this listing line' in ws.log_text()


# -- symbolic links ------------------------------------------------------------------

def test_local_source_links_inside_followed_outside_skipped(ws, tmp_path):
    outside = tmp_path / 'outside'
    make_files(outside, {'secret.txt': 'S', 'dir/x.txt': 'X'})
    make_files(ws.src, {'real.txt': 'R', 'sub/y.txt': 'Y'})
    os.symlink(os.path.join(ws.src, 'real.txt'), os.path.join(ws.src, 'inside.txt'))
    os.symlink(outside / 'secret.txt', os.path.join(ws.src, 'outside.txt'))
    os.symlink('../real.txt', os.path.join(ws.src, 'sub', 'relative.txt'))
    os.symlink(outside / 'dir', os.path.join(ws.src, 'linked-dir'))
    os.symlink(os.path.join(ws.src, 'sub'), os.path.join(ws.src, 'loop'))
    ws.write_job(source={'recursive': 'yes'})
    done = ws.run('job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert tree(ws.dst) == {'real.txt': b'R', 'inside.txt': b'R', 'sub/y.txt': b'Y',
                            'sub/relative.txt': b'R'}
    assert tree(outside) == {'secret.txt': b'S', 'dir/x.txt': b'X'}     # untouched
    assert 'points outside' in ws.log_text()


@pytest.mark.parametrize('temp', [None, 'dot'])
def test_links_planted_in_a_local_target_are_not_written_through(ws, tmp_path, temp):
    outside = tmp_path / 'outside'
    make_files(outside, {'victim.txt': 'precious', 'dir/other.txt': 'precious too'})
    make_files(ws.src, {'victim.txt': 'new', 'dir/other.txt': 'new too', 'fine.txt': 'F'})
    os.makedirs(ws.dst)
    os.symlink(outside / 'victim.txt', os.path.join(ws.dst, 'victim.txt'))
    os.symlink(outside / 'dir', os.path.join(ws.dst, 'dir'))
    ws.write_job(source={'recursive': 'yes'}, target=({'temp': temp} if temp else {}))
    done = ws.run('--json', 'job1')
    assert tree(outside) == {'victim.txt': b'precious', 'dir/other.txt': b'precious too'}
    result = json_result(done)
    assert done.returncode == 1, done.stderr
    assert counts(result) == (2, 0, 1)
    [failed] = [item for item in result['files'] if item['tag'] == '<']
    assert failed['path'] == 'dir/other.txt'
    assert 'a symbolic link on the way leads outside the target' in failed['error']
    assert not os.path.islink(os.path.join(ws.dst, 'victim.txt'))   # replaced, not followed
    with open(os.path.join(ws.dst, 'victim.txt')) as fh:
        assert fh.read() == 'new'


# -- directory loops -----------------------------------------------------------------

def looping_sftp(tmp_path, names, hide_loops=False):
    server = LoopingSftpServer(str(tmp_path), names, hide_loops=hide_loops)
    host = {'type': 'SFTP', 'host': f'127.0.0.1:{server.port}', 'user': server.user,
            'password': server.password, 'known_hosts': server.known_hosts, 'timeout': '30'}
    return server, host


def source_errors(result) -> dict:
    return {item['path']: item['error'] for item in result['files'] if item['tag'] == '>'}


def test_a_directory_loop_on_an_sftp_server_is_a_source_error_once(ws, tmp_path):
    server, host = looping_sftp(tmp_path, ['loop1', 'loop2'])
    try:
        write_hosts(ws, srv=host)
        ws.write_job(source={'host_id': 'srv', 'path': '/data', 'recursive': 'yes'})
        done = ws.run('--json', 'job1', timeout=60)
    finally:
        server.stop()
    assert done.returncode == 1, done.stderr
    result = json_result(done)
    assert counts(result) == (1, 2, 0)
    assert tree(ws.dst) == {LOOP_FILE: HOSTILE_DATA}
    errors = source_errors(result)
    assert set(errors) == {'loop1', 'loop2'}
    assert all('directory loop' in error and 'source directory' in error
               for error in errors.values()), errors


def test_symbolic_link_loops_on_an_ftp_server_are_source_errors_once(ws, ftp_server):
    server = ftp_server()
    data = server.path('data')
    make_files(data, {'a.txt': 'A', 'sub/b.txt': 'B'})
    os.symlink('.', os.path.join(data, 'self'))            # the directory itself
    os.symlink('..', os.path.join(data, 'sub', 'up'))      # the parent of sub
    write_hosts(ws, srv=ftp_host(server))
    ws.write_job(source={'host_id': 'srv', 'path': 'data', 'recursive': 'yes'})
    done = ws.run('--json', 'job1', timeout=60)
    assert done.returncode == 1, done.stderr
    result = json_result(done)
    assert counts(result) == (2, 2, 0)
    assert tree(ws.dst) == {'a.txt': b'A', 'sub/b.txt': b'B'}
    errors = source_errors(result)
    assert set(errors) == {'self', 'sub/up'}
    assert 'the source directory' in errors['self'] and "'sub'" not in errors['self']
    assert 'directory loop' in errors['sub/up'] and 'source directory' in errors['sub/up']


@pytest.mark.parametrize('protocol, names, limit', [
    ('SFTP', ['a'], 'MAX_DEPTH'), ('SFTP', ['a', 'b'], 'MAX_DIRECTORIES'),
    ('FTP', ['a', 'b'], 'MAX_DIRECTORIES')])
def test_a_loop_the_server_does_not_show_ends_at_the_walk_limits(
        ws, tmp_path, ftp_server, monkeypatch, protocol, names, limit):
    """A server that shows no identity of its directories (an FTP listing without
    the unique fact, an SFTP realpath that does not resolve) has a loop that looks
    like an endless tree: the walk ends at its depth or size limit (made small
    here), as one source error, and the files found by then are transferred."""
    from filetransfer.endpoints import remote
    monkeypatch.setattr(remote, limit, 12)
    server = None
    if protocol == 'SFTP':
        server, host = looping_sftp(tmp_path, names, hide_loops=True)
    else:
        ftp = ftp_server(hostile=[{'name': LOOP_FILE, 'type': 'file', 'size': len(HOSTILE_DATA)}]
                         + [{'name': name, 'type': 'dir'} for name in names])
        os.makedirs(ftp.path('data'))
        host = ftp_host(ftp)
    try:
        write_hosts(ws, srv=host)
        ws.write_job(job={'collect_data': 'yes'},
                     source={'host_id': 'srv', 'path': '/data', 'recursive': 'yes'})
        result, code = filetransfer.configure(ws.app_cfg, 'job1')[0]()
    finally:
        if server is not None:
            server.stop()
    assert code == 1
    failed = [(path, error) for path, error, tag in result.file_list if str(tag) == '>']
    assert result.src_error_cnt == 1 and len(failed) == 1, failed
    assert {'MAX_DEPTH': 'more than 12 levels deep',
            'MAX_DIRECTORIES': 'stopped after 12 directories'}[limit] in failed[0][1]
    assert result.files_cnt > 1 and LOOP_FILE in tree(ws.dst)
