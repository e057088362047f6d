"""An interruption (SIGTERM, Ctrl-C) at the worst moment of a write: right after
the endpoint created the file, before it could guard it. Nothing may stay behind.
The signal is simulated by raising Terminated there; the endpoint is the real one."""

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
