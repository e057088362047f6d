"""The public Python API, name for name."""

import configparser
import datetime
import os
import threading

import pytest

import filetransfer
from filetransfer import (ConfigError, ConnectError, Error, FileTags, JobResult,
                          NotReadyError, SingleInstanceError, Terminated, TransferError)
from helpers import make_files, tree


def test_error_classes_and_codes():
    assert [(cls, cls.code) for cls in (ConfigError, ConnectError, TransferError,
                                        SingleInstanceError, NotReadyError)] == [
        (ConfigError, 3), (ConnectError, 2), (TransferError, 2), (SingleInstanceError, 0),
        (NotReadyError, 0)]
    assert all(issubclass(cls, Error) for cls in (ConfigError, ConnectError, TransferError,
                                                   SingleInstanceError, NotReadyError))
    assert issubclass(Error, Exception)
    assert issubclass(Terminated, BaseException) and not issubclass(Terminated, Exception)
    assert Terminated.code == 5


def test_job_result_and_file_tags():
    result = JobResult(3, 0, 0)
    assert str(result) == '3 file(s) transferred, 0 source error(s), 0 target error(s)'
    assert result.file_list is None
    assert [str(tag) for tag in FileTags] == ['=', '>', '<', '-']
    assert FileTags('>') is FileTags.SRCERR


def test_set_sigterm_handler_only_in_main_thread():
    errors = []

    def call():
        try:
            filetransfer.set_sigterm_handler()
        except ValueError as exc:
            errors.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    thread.join()
    assert len(errors) == 1


def test_configure_returns_run_and_merged_extra_config(ws):
    ws.write_app({'x:foo': {'bar': '1', 'app_only': 'a'}, 'x:DEFAULT': {'quuz': '0'}})
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job(raw=f"""
        [source]
        path = {ws.src}
        files = *
        [target]
        path = {ws.dst}
        [x:DEFAULT]
        quuz = 47
        [x:foo]
        bar = 42
        """)
    run, extra = filetransfer.configure(ws.app_cfg, 'job1', defaults={'quux': '1729'})
    assert isinstance(extra, configparser.ConfigParser)
    assert extra['foo']['bar'] == '42'
    assert extra['foo']['app_only'] == 'a'
    assert extra['foo']['quuz'] == '47'
    assert extra['foo']['quux'] == '1729'
    result, code = run()
    assert code == 0 and result.files_cnt == 1 and result.file_list is None
    assert tree(ws.dst) == {'a.txt': b'A'}


def test_run_reraises_the_given_exception_without_transferring(ws):
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job()
    run, _ = filetransfer.configure(ws.app_cfg, 'job1')

    class Preparation(Exception):
        pass

    with pytest.raises(Preparation):
        run(Preparation('preparing the data failed'))
    with pytest.raises(Terminated):
        run(Terminated())
    assert not os.path.exists(ws.dst)


def test_run_collects_the_file_list(ws):
    make_files(ws.src, {'a.txt': 'A', 'b.txt': 'B'})
    ws.write_job(job={'collect_data': 'yes'})
    run, _ = filetransfer.configure(ws.app_cfg, 'job1')
    result, code = run()
    assert code == 0
    assert [(path, tag) for path, _, tag in result.file_list] == [
        ('a.txt', FileTags.TRANSF), ('b.txt', FileTags.TRANSF)]
    assert all(isinstance(info, datetime.timedelta) for _, info, _ in result.file_list)


def test_transfer_with_dicts_and_configparser(tmp_path):
    src, dst = tmp_path / 'src', tmp_path / 'dst'
    make_files(src, {'a.txt': 'A', 'b.csv': 'B', 'sub/c.txt': 'C'})
    result = filetransfer.transfer({'path': str(src), 'files': '*.txt', 'recursive': 'yes'},
                                   {'path': str(dst), 'temp': 'dot'}, collect_data=True)
    assert (result.files_cnt, result.error_cnt) == (2, 0)
    assert tree(dst) == {'a.txt': b'A', 'sub/c.txt': b'C'}
    assert {path for path, _, _ in result.file_list} == {'a.txt', 'sub/c.txt'}

    cfg = configparser.ConfigParser()
    cfg.read_dict({'source': {'path': str(src), 'files': '*.csv'},
                   'target': {'path': str(tmp_path / 'dst2')}})
    result = filetransfer.transfer(cfg)
    assert result.files_cnt == 1 and result.file_list is None
    assert tree(tmp_path / 'dst2') == {'b.csv': b'B'}


def test_transfer_config_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"transfer\(\): \[source\] recursive: expected yes/no"):
        filetransfer.transfer({'path': 'x', 'files': '*', 'recursive': 'maybe'}, {'path': 'y'})
    with pytest.raises(ConfigError, match=r"\[target\] tmp: unknown option"):
        filetransfer.transfer({'path': 'x', 'files': '*'}, {'path': 'y', 'tmp': 'dot'})
    with pytest.raises(ConfigError, match=r'\[source\] host_id: not allowed here'):
        filetransfer.transfer({'path': 'x', 'files': '*', 'host_id': 'h'}, {'path': 'y'})
    with pytest.raises(ConfigError, match=r'\[target\] password: required option is missing'):
        filetransfer.transfer({'path': 'x', 'files': '*'},
                              {'path': 'y', 'type': 'FTP', 'host': 'h', 'user': 'u'})
    with pytest.raises(ConfigError, match=r'\[target\]: required section is missing'):
        cfg = configparser.ConfigParser()
        cfg.read_dict({'source': {'path': 'x', 'files': '*'}})
        filetransfer.transfer(cfg)
    with pytest.raises(ConfigError, match='expected two dicts or one ConfigParser'):
        filetransfer.transfer({'path': 'x', 'files': '*'})


def test_transfer_errors_for_missing_directories(tmp_path):
    with pytest.raises(TransferError, match='source directory .* does not exist'):
        filetransfer.transfer({'path': str(tmp_path / 'nope'), 'files': '*'},
                              {'path': str(tmp_path / 'dst')})
    (tmp_path / 'file').write_text('x')
    (tmp_path / 'src').mkdir()
    with pytest.raises(ConnectError, match='cannot create target directory'):
        filetransfer.transfer({'path': str(tmp_path / 'src'), 'files': '*'},
                              {'path': str(tmp_path / 'file' / 'dst')})
    with pytest.raises(ConfigError, match='same directory'):
        filetransfer.transfer({'path': str(tmp_path / 'src'), 'files': '*'},
                              {'path': str(tmp_path / 'src') + '/.'})
