"""The Python API as FileTransfer 0.11 offers it: transfer() takes booleans, numbers
and paths; an exception that ends run() carries the result; a missing source
directory is a TransferError."""

import pathlib
import re
import threading
import time

import pytest

import filetransfer
from filetransfer import ConfigError, ConnectError, JobResult, Terminated, TransferError
from helpers import make_files, tree, write_ini
from remote import ftp_host, sftp_host


@pytest.fixture
def files(tmp_path):
    make_files(tmp_path / 'src', {'a.txt': 'A', 'b.csv': 'B', 'sub/c.txt': 'C'})
    return tmp_path


def test_transfer_takes_booleans_numbers_and_paths(files):
    result = filetransfer.transfer(
        {'path': files / 'src', 'files': '*.txt', 'recursive': True, 'delete': 0},
        {'path': pathlib.Path(files / 'dst')})
    assert result.files_cnt == 2 and set(tree(files / 'dst')) == {'a.txt', 'sub/c.txt'}
    result = filetransfer.transfer({'path': str(files / 'src'), 'files': '*', 'recursive': 1},
                                   {'path': str(files / 'dst2')})
    assert result.files_cnt == 3


@pytest.mark.parametrize('option,value,problem', [
    ('files', ['*.txt', '*.csv'], 'expected a string value, got list (several items are one '
                                  'string, separated by commas)'),
    ('files', ('*.txt',), 'expected a string value, got tuple'),
    ('ignore', None, 'expected a string value, got NoneType'),
])
def test_transfer_refuses_other_values(files, option, value, problem):
    source = {'path': str(files / 'src'), 'files': '*', option: value}
    with pytest.raises(ConfigError, match=re.escape(f'[source] {option}: {problem}')):
        filetransfer.transfer(source, {'path': str(files / 'dst')})


def job(ws, source_path):
    write_ini(ws.app_cfg, {'global': {'jobs_dir': ws.jobs_dir}})
    ws.write_job(source={'path': source_path})
    run, _ = filetransfer.configure(ws.app_cfg, 'job1')
    return run


def test_an_exception_ending_run_carries_the_result(ws):
    run = job(ws, ws.root + '/nosuch')
    with pytest.raises(TransferError) as caught:
        run()
    assert caught.value.result == JobResult(0, 0, 0)
    run = job(ws, ws.src)
    error = ValueError('from caller')
    with pytest.raises(ValueError) as caught:
        run(error)
    assert caught.value is error and isinstance(error.result, JobResult)
    with pytest.raises(Terminated) as caught:
        run(KeyboardInterrupt())
    assert str(caught.value) == 'KeyboardInterrupt'
    assert isinstance(caught.value.result, JobResult)


def test_the_result_of_a_run_that_lost_its_server_counts_what_was_done(ws, ftp_server):
    server = ftp_server(throttle=200_000)
    make_files(ws.src, {'a.txt': 'A', 'b.bin': b'x' * 2_000_000})
    write_ini(ws.hosts_cfg, {'srv': ftp_host(server, timeout='5')})
    ws.write_job(target={'host_id': 'srv', 'path': '/', 'temp': 'dot'})
    run, _ = filetransfer.configure(ws.app_cfg, 'job1')

    def stop_the_server():      # once a.txt has its final name (it is counted then)
        deadline = time.monotonic() + 60
        while not (pathlib.Path(server.home) / 'a.txt').exists() and \
                time.monotonic() < deadline:
            time.sleep(0.01)
        server.stop()

    stopper = threading.Thread(target=stop_the_server)
    stopper.start()
    try:
        with pytest.raises((TransferError, ConnectError)) as caught:
            run()
    finally:
        stopper.join(timeout=60)
    assert caught.value.result.files_cnt == 1


def test_a_missing_source_directory_is_a_transfer_error(tmp_path):
    with pytest.raises(TransferError, match='source directory .* does not exist') as caught:
        filetransfer.transfer({'path': str(tmp_path / 'nosuch'), 'files': '*'},
                              {'path': str(tmp_path / 'dst')})
    assert not isinstance(caught.value, ConnectError)


def test_a_missing_remote_source_directory_is_a_transfer_error(tmp_path, ftp_server, live_sshd):
    server = ftp_server()
    with pytest.raises(TransferError):
        filetransfer.transfer({**ftp_host(server), 'path': '/nosuchdir', 'files': '*'},
                              {'path': str(tmp_path / 'dst')})
    with pytest.raises(TransferError):
        filetransfer.transfer({**sftp_host(live_sshd), 'path': str(tmp_path / 'nosuchdir'),
                               'files': '*'}, {'path': str(tmp_path / 'dst')})


def test_a_missing_source_directory_exits_2(ws):
    ws.write_job(source={'path': ws.root + '/nosuch'})
    done = ws.run('-v', 'job1')
    assert done.returncode == 2 and done.stderr.startswith('TransferError: ')
