"""Retries: the backoff, and files done in an earlier try are not sent again.

A lost connection is simulated by making the local target endpoint raise
TransferError on one write, as a remote endpoint does when its server goes away.
"""

import os

import pytest

import filetransfer
from filetransfer import FileTags, TransferError
from filetransfer.run import job as job_module
from filetransfer.endpoints.local import LocalEndpoint
from helpers import make_files, tree


@pytest.fixture
def waits(monkeypatch):
    recorded = []
    monkeypatch.setattr(job_module, 'retry_wait', recorded.append)
    return recorded


def test_backoff_doubles_up_to_60_seconds_then_fails(ws, waits):
    ws.write_job(job={'retries': '8'}, source={'path': os.path.join(ws.root, 'missing')})
    run, _ = filetransfer.configure(ws.app_cfg, 'job1')
    with pytest.raises(TransferError):      # a missing source directory
        run()
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60]


def test_files_done_in_an_earlier_try_are_not_transferred_again(ws, waits, monkeypatch):
    make_files(ws.src, {'a.txt': 'A', 'b.txt': 'B', 'c.txt': 'C'})
    ws.write_job(job={'retries': '2', 'collect_data': 'yes'},
                 source={'delete': 'yes'}, target={'temp': 'dot'})
    writes = []
    original = LocalEndpoint.write

    def flaky_write(self, relpath, reader, progress=None, **options):
        writes.append(relpath)
        if relpath == '.b.txt' and writes.count('.b.txt') == 1:
            raise TransferError('connection lost')
        return original(self, relpath, reader, progress, **options)

    monkeypatch.setattr(LocalEndpoint, 'write', flaky_write)
    run, _ = filetransfer.configure(ws.app_cfg, 'job1')
    result, code = run()
    assert code == 0 and waits == [1]
    assert writes == ['.a.txt', '.b.txt', '.b.txt', '.c.txt']
    assert (result.files_cnt, result.src_error_cnt, result.tgt_error_cnt) == (3, 0, 0)
    assert [(path, tag) for path, _, tag in result.file_list] == [
        ('a.txt', FileTags.TRANSF), ('b.txt', FileTags.TRANSF), ('c.txt', FileTags.TRANSF)]
    assert tree(ws.dst) == {'a.txt': b'A', 'b.txt': b'B', 'c.txt': b'C'}
    assert tree(ws.src) == {}


def test_file_errors_of_a_failed_try_are_not_counted_twice(ws, waits, monkeypatch):
    make_files(ws.src, {'a.txt': 'A', 'b.txt': 'B', 'c.txt': 'C'})
    os.makedirs(os.path.join(ws.dst, 'a.txt'))      # a permanent target error
    ws.write_job(job={'retries': '1', 'collect_data': 'yes'})
    calls = []
    original = LocalEndpoint.write

    def flaky_write(self, relpath, reader, progress=None, **options):
        calls.append(relpath)
        if relpath == 'c.txt' and calls.count('c.txt') == 1:
            raise TransferError('connection lost')
        return original(self, relpath, reader, progress, **options)

    monkeypatch.setattr(LocalEndpoint, 'write', flaky_write)
    run, _ = filetransfer.configure(ws.app_cfg, 'job1')
    result, code = run()
    assert code == 1
    assert (result.files_cnt, result.src_error_cnt, result.tgt_error_cnt) == (2, 0, 1)
    assert sorted((p, str(t)) for p, _, t in result.file_list) == [
        ('a.txt', '<'), ('b.txt', '='), ('c.txt', '=')]


def test_transfer_error_without_retries_is_raised(ws, waits, monkeypatch):
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job()

    def lost(self, relpath, reader, progress=None, **options):
        raise TransferError('connection lost')

    monkeypatch.setattr(LocalEndpoint, 'write', lost)
    run, _ = filetransfer.configure(ws.app_cfg, 'job1')
    with pytest.raises(TransferError, match='connection lost'):
        run()
    assert waits == []
