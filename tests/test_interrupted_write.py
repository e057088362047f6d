"""An interruption (SIGTERM, Ctrl-C) at the worst moment of a write: right after
the endpoint created the file, before it could guard it. Nothing may stay behind.
And right before the endpoint opens it: what has its name stays. The signal is
simulated by raising Terminated there."""

import pytest

import filetransfer
from filetransfer.endpoints import local
from helpers import make_files, tree


@pytest.mark.parametrize('temp', [None, 'dot', 'ext:.part', 'dir:.tmp'])
def test_terminated_right_after_the_file_was_created(tmp_path, monkeypatch, temp):
    src, dst = tmp_path / 'src', tmp_path / 'dst'
    make_files(src, {'a.txt': 'A' * 1000})
    real_write = local.LocalEndpoint.write

    def write_then_signal(self, relpath, reader, progress=None, **options):
        options['opening']()               # as every endpoint says before it opens
        (dst / relpath).parent.mkdir(parents=True, exist_ok=True)
        (dst / relpath).write_bytes(b'')   # the file exists, nothing guards it yet
        raise filetransfer.Terminated('terminated by signal SIGTERM')

    monkeypatch.setattr(local.LocalEndpoint, 'write', write_then_signal)
    target = {'path': str(dst), **({'temp': temp} if temp else {})}
    with pytest.raises(filetransfer.Terminated):
        filetransfer.transfer({'path': str(src), 'files': '*'}, target)
    assert [path for path in tree(dst)] == []
    monkeypatch.setattr(local.LocalEndpoint, 'write', real_write)
    assert filetransfer.transfer({'path': str(src), 'files': '*'}, target).files_cnt == 1
    assert tree(dst) == {'a.txt': b'A' * 1000}


def test_terminated_before_the_file_was_opened(tmp_path, monkeypatch):
    """Without temp the file is written under its name: the target's file of that
    name, not opened yet, stays as it was."""
    src, dst = tmp_path / 'src', tmp_path / 'dst'
    make_files(src, {'a.txt': 'new'})
    make_files(dst, {'a.txt': 'old'})

    def signal_before_opening(self, relpath, reader, progress=None, **options):
        raise filetransfer.Terminated('terminated by signal SIGTERM')

    monkeypatch.setattr(local.LocalEndpoint, 'write', signal_before_opening)
    with pytest.raises(filetransfer.Terminated):
        filetransfer.transfer({'path': str(src), 'files': '*'}, {'path': str(dst)})
    assert tree(dst) == {'a.txt': b'old'}
