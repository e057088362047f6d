"""Temp names never cost a file: a selected file whose temp name is another selected
file's name is refused, a file under a temp name that the job did not write is
never replaced or removed, and a temp name fits the 255-byte name limit."""


import pytest

from filetransfer.config.tempnames import TempNames
from helpers import make_files, tree
from remote import ftp_host, sftp_host, write_hosts

ALL = {'ignore': '*.none'}     # no dot-file excluded


@pytest.mark.parametrize('temp, files, refused, clashing', [
    ('dot', {'x': b'plain x', '.x': b'dot x'}, 'x', '.x'),
    ('dir:incoming', {'z.txt': b'z', 'incoming/z.txt': b'incoming z'}, 'z.txt',
     'incoming/z.txt'),
    ('ext:.part', {'x': b'x', 'x.part': b'x.part'}, 'x', 'x.part'),
])
def test_a_file_whose_temp_name_is_another_selected_file_is_refused(
        ws, temp, files, refused, clashing):
    make_files(ws.src, files)
    ws.write_job(source={**ALL, 'recursive': 'yes', 'delete': 'yes'}, target={'temp': temp})
    done = ws.run('-v', 'job1')
    assert done.returncode == 1, done.stderr
    assert done.stdout == ('Job finished: 1 file(s) transferred, 1 source error(s), '
                           '0 target error(s)\n')
    assert (f'source error: {refused}: its temp name {clashing} is the name of another '
            'selected file') in ws.log_text()
    assert tree(ws.src) == {refused: files[refused]}
    assert tree(ws.dst) == {clashing: files[clashing]}


def target_endpoint(ws, kind, tmp_path, sshd, ftp_server) -> tuple[dict, str]:
    """(target options, the target directory on this disk) of a ``kind`` target."""
    if kind == 'local':
        return {}, ws.dst
    if kind == 'SFTP':
        write_hosts(ws, srv=sftp_host(sshd))
        folder = str(tmp_path / 'remote')
        return {'host_id': 'srv', 'path': folder}, folder
    server = ftp_server()
    write_hosts(ws, srv=ftp_host(server))
    return {'host_id': 'srv', 'path': 'data'}, server.path('data')


@pytest.mark.parametrize('kind', ['local', 'SFTP', 'FTP'])
def test_a_file_under_a_temp_name_that_the_job_did_not_write_is_left_alone(
        ws, tmp_path, live_sshd, ftp_server, kind):
    """A first run delivers x.part; the next run's x would be written as x.part."""
    target, folder = target_endpoint(ws, kind, tmp_path, live_sshd, ftp_server)
    ws.write_job(source={'delete': 'yes'}, target={**target, 'temp': 'ext:.part'})
    make_files(ws.src, {'x.part': b'delivered first'})
    assert ws.run('job1').returncode == 0
    make_files(ws.src, {'x': b'then x'})
    done = ws.run('-v', 'job1')
    assert done.returncode == 1, done.stderr
    assert ('target error: x: x.part exists on the target, and this job did not write it: '
            'it is left alone') in ws.log_text()
    assert tree(folder) == {'x.part': b'delivered first'}
    assert tree(ws.src) == {'x': b'then x'}


def test_a_recorded_leftover_is_removed_and_an_unrecorded_one_is_not(ws):
    """Without locks_dir nothing is known of earlier runs: a file under the temp name
    is somebody's until the job knows it wrote it."""
    make_files(ws.dst, {'.a': b'left by someone'})
    make_files(ws.src, {'a': b'new a', 'b': b'new b'})
    ws.write_job(target={'temp': 'dot'})
    ws.write_app(extra={'global': {'locks_dir': ''}})
    done = ws.run('-v', 'job1')
    assert done.returncode == 1, done.stderr
    assert tree(ws.dst) == {'.a': b'left by someone', 'b': b'new b'}


@pytest.mark.parametrize('temp', ['dot', 'ext:.part'])
@pytest.mark.parametrize('kind', ['local', 'SFTP'])
def test_a_name_of_255_bytes_gets_a_temp_name_that_fits(ws, tmp_path, live_sshd, ftp_server,
                                                        kind, temp):
    long_name = 'n' * 250 + '.data'
    target, folder = target_endpoint(ws, kind, tmp_path, live_sshd, ftp_server)
    make_files(ws.src, {long_name: b'long', 'other': b'short'})
    ws.write_job(target={**target, 'temp': temp})
    done = ws.run('-v', 'job1')
    assert done.returncode == 0, done.stderr
    assert tree(folder) == {long_name: b'long', 'other': b'short'}


def test_temp_names_of_long_names_stay_apart_and_fit():
    first, second = 'é' * 125 + 'first', 'é' * 125 + 'second'     # 255 bytes and more
    for temp in (TempNames.parse('dot'), TempNames.parse('ext:.partial')):
        names = {temp.temp_path(f'dir/{name}') for name in (first, second)}
        assert len(names) == 2
        for name in names:
            assert name.startswith('dir/')
            assert len(name[4:].encode()) <= 255
            name[4:].encode().decode()         # whole characters only
    assert TempNames.parse('dot').temp_path('d/short') == 'd/.short'
