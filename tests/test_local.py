"""The local endpoint and the per-file rules of the copier."""

import io
import os

import pytest

import filetransfer
from filetransfer import FileTags
from filetransfer.endpoints.base import FileEntry
from filetransfer.endpoints.local import LocalEndpoint
from helpers import endpoint_spec, make_files, tree


def run(src, dst, **source):
    return filetransfer.transfer({'path': str(src), 'files': '*', **source},
                                 {'path': str(dst)}, collect_data=True)


def test_symlinks_inside_followed_outside_skipped(tmp_path):
    src, dst = tmp_path / 'src', tmp_path / 'dst'
    make_files(src, {'real.txt': 'R', 'dir/x.txt': 'X'})
    (tmp_path / 'secret.txt').write_text('S')
    os.symlink(src / 'real.txt', src / 'inside.txt')
    os.symlink(tmp_path / 'secret.txt', src / 'outside.txt')
    os.symlink(src / 'missing', src / 'dangling.txt')
    os.symlink(src / 'dir', src / 'linkdir')
    result = run(src, dst, recursive='yes')
    assert result.error_cnt == 0
    assert tree(dst) == {'real.txt': b'R', 'inside.txt': b'R', 'dir/x.txt': b'X'}


def test_file_vanishing_after_listing_is_a_source_error(tmp_path, monkeypatch):
    src, dst = tmp_path / 'src', tmp_path / 'dst'
    make_files(src, {'a.txt': 'A'})
    original = LocalEndpoint.walk

    def walk(self, descend):
        yield from original(self, descend)
        yield FileEntry('gone.txt', 3)

    monkeypatch.setattr(LocalEndpoint, 'walk', walk)
    result = run(src, dst)
    assert (result.files_cnt, result.src_error_cnt, result.tgt_error_cnt) == (1, 1, 0)
    assert result.file_list[1] == ('gone.txt', 'No such file or directory', FileTags.SRCERR)


def test_file_changing_during_transfer_is_removed_and_not_deleted(tmp_path, monkeypatch):
    src, dst = tmp_path / 'src', tmp_path / 'dst'
    make_files(src, {'a.txt': 'AAAA'})

    def walk(self, descend):
        yield FileEntry('a.txt', 2)    # the size when listed; 4 bytes when read

    monkeypatch.setattr(LocalEndpoint, 'walk', walk)
    result = filetransfer.transfer({'path': str(src), 'files': '*', 'delete': 'yes'},
                                   {'path': str(dst), 'temp': 'dot'}, collect_data=True)
    assert result.src_error_cnt == 1
    assert 'changed while being transferred' in result.file_list[0][1]
    assert tree(dst) == {} and tree(src) == {'a.txt': b'AAAA'}


@pytest.mark.parametrize('name', ['../escape.txt', '/etc/passwd', 'a/../../x', 'nul\0.txt'])
def test_unsafe_names_from_a_listing_are_refused(tmp_path, monkeypatch, name):
    src, dst = tmp_path / 'src', tmp_path / 'dst'
    make_files(src, {'a.txt': 'A'})

    def walk(self, descend):
        yield FileEntry(name, 1)

    monkeypatch.setattr(LocalEndpoint, 'walk', walk)
    result = run(src, dst, ignore='')   # the default '.*' would leave '../escape.txt' out
    assert result.src_error_cnt == 1 and result.file_list[0][1].startswith('refused name')
    assert not (tmp_path / 'escape.txt').exists() and tree(dst) == {}


def test_partial_file_removed_when_the_target_write_fails(tmp_path):
    """The data source fails after the first chunk: the started file is removed."""
    src, dst = tmp_path / 'src', tmp_path / 'dst'
    os.makedirs(src)
    endpoint = LocalEndpoint(endpoint_spec('target', path=str(dst)))
    endpoint.open()

    class BrokenReader:
        def __init__(self):
            self.calls = 0

        def readinto(self, buffer):
            self.calls += 1
            if self.calls > 1:
                raise OSError(5, 'Input/output error')
            buffer[:3] = b'abc'
            return 3

    with pytest.raises(OSError):
        endpoint.write('f.bin', BrokenReader())
    assert tree(dst) == {}


@pytest.mark.parametrize('swapped', ['root', 'parent'])
def test_a_target_swapped_for_a_link_after_it_was_opened_is_not_written_through(
        tmp_path, swapped):
    """The target directory (or its parent) replaced by a symbolic link to elsewhere
    while the job runs: files are refused, nothing lands there."""
    parent, outside = tmp_path / 'parent', tmp_path / 'outside'
    dst = parent / 'dst'
    os.makedirs(dst)
    os.makedirs(outside / 'dst')
    endpoint = LocalEndpoint(endpoint_spec('target', path=str(dst)))
    endpoint.open()
    endpoint.write('before.txt', io.BytesIO(b'B'))
    moved = dst if swapped == 'root' else parent
    os.rename(moved, tmp_path / 'moved')
    os.symlink(outside / 'dst' if swapped == 'root' else outside, moved)
    for write in (lambda: endpoint.write('a.txt', io.BytesIO(b'A')),
                  lambda: endpoint.rename('a.txt', 'b.txt'),
                  lambda: endpoint.set_mtime('a.txt', 0)):
        with pytest.raises(OSError, match='leads outside the target'):
            write()
    assert tree(outside) == {}


def test_same_file_is_refused(tmp_path):
    src = tmp_path / 'src'
    make_files(src, {'a.txt': 'A'})
    endpoint = LocalEndpoint(endpoint_spec('target', path=str(src)))
    endpoint.open()
    with open(src / 'a.txt', 'rb') as reader, pytest.raises(OSError, match='same file'):
        endpoint.write('a.txt', reader)
    assert (src / 'a.txt').read_text() == 'A'


def test_large_file_copy_is_identical(tmp_path):
    src, dst = tmp_path / 'src', tmp_path / 'dst'
    data = os.urandom(1 << 20) * 40 + os.urandom(12345)
    make_files(src, {'big.bin': data})
    result = run(src, dst)
    assert result.files_cnt == 1
    assert (dst / 'big.bin').read_bytes() == data


def _sparse(path, size, pieces: dict) -> None:
    """A file of ``size`` bytes holding ``pieces`` ({offset: bytes}) and holes elsewhere."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as fh:
        fh.truncate(size)
        for offset, data in pieces.items():
            fh.seek(offset)
            fh.write(data)


def _allocated(path) -> int:
    return os.stat(path).st_blocks * 512


def _same_content(first, second) -> bool:
    import filecmp
    return filecmp.cmp(first, second, shallow=False)


@pytest.mark.parametrize('size', [64 << 20, pytest.param(1 << 30, marks=pytest.mark.slow)])
@pytest.mark.parametrize('tail', ['data', 'hole'])
def test_a_sparse_file_is_copied_with_its_holes(tmp_path, tail, size):
    src, dst = tmp_path / 'src', tmp_path / 'dst'
    pieces = {0: b'head' * 1000, size * 3 // 10 + 7: os.urandom(10000),
              size * 7 // 10: os.urandom(1 << 20)}
    if tail == 'data':
        pieces[size - 5] = b'tail!'
    _sparse(str(src / 'big.bin'), size, pieces)
    assert _allocated(src / 'big.bin') < 8 << 20     # the file system keeps holes
    result = run(src, dst)
    assert (result.files_cnt, result.error_cnt) == (1, 0)
    assert os.path.getsize(dst / 'big.bin') == size
    assert _allocated(dst / 'big.bin') < 8 << 20
    assert _same_content(src / 'big.bin', dst / 'big.bin')


def test_a_sparse_file_continued_at_an_offset_and_its_limit(tmp_path):
    from filetransfer.endpoints.base import SourceReader, SourceReadError

    src, dst = tmp_path / 'src', tmp_path / 'dst'
    size, offset = 64 << 20, (20 << 20) + 3
    _sparse(str(src / 'f.bin'), size, {0: b'A' * 100, 10 << 20: b'B' * 5000,
                                       40 << 20: b'C' * 5000, size - 1: b'D'})
    with open(src / 'f.bin', 'rb') as fh:
        head = fh.read(offset)
    make_files(dst, {'f.bin': head + b'left over by the run before'})
    target = LocalEndpoint(endpoint_spec('target', path=str(dst)))
    target.open()
    progress = []
    with open(src / 'f.bin', 'rb', buffering=0) as raw:
        raw.seek(offset)
        reader = SourceReader(raw, limit=size - offset)
        assert target.write('f.bin', reader, progress.append, offset=offset) == size - offset
    assert reader.count == sum(progress) == size - offset
    assert _same_content(src / 'f.bin', dst / 'f.bin')
    assert _allocated(dst / 'f.bin') < 32 << 20

    with open(src / 'f.bin', 'rb', buffering=0) as raw:   # listed smaller than it is now
        with pytest.raises(SourceReadError, match='grew past the 8388608 bytes listed'):
            target.write('g.bin', SourceReader(raw, limit=8 << 20))
    assert not os.path.exists(dst / 'g.bin')


def test_files_looked_at_together_are_seen_as_one_by_one(tmp_path):
    """stat_many (a directory opened once, its files looked at from it) says of
    each path what stat says, or raises the same error."""
    dst = tmp_path / 'dst'
    make_files(dst, {'a.txt': b'a', 'sub/b.txt': b'bb', 'sub/deeper/c.txt': b'ccc',
                     'back\\slash': b'x'})
    (dst / 'dir').mkdir()
    (dst / 'link').symlink_to(dst / 'a.txt')
    (dst / 'dangling').symlink_to(dst / 'nowhere')
    (dst / 'sub' / 'linked-dir').symlink_to(dst / 'sub' / 'deeper')
    endpoint = LocalEndpoint(endpoint_spec('target', path=str(dst)))
    endpoint.open()
    paths = ['a.txt', 'missing.txt', 'dir', 'link', 'dangling', 'sub/b.txt', 'sub/missing',
             'sub/deeper/c.txt', 'sub/linked-dir/c.txt', 'nodir/x', 'a.txt/x', '../a.txt',
             'sub/../a.txt', 'back\\slash', 'nul\0name', 'sub/', '']
    one_by_one = {}
    for path in paths:
        try:
            one_by_one[path] = endpoint.stat(path)
        except OSError as exc:
            one_by_one[path] = (type(exc), exc.errno)
    together = {path: (type(found), found.errno) if isinstance(found, OSError) else found
                for path, found in endpoint.stat_many(paths).items()}
    assert together == one_by_one
    assert together['sub/linked-dir/c.txt'].size == 3 and together['link'].size == 1
    assert isinstance(together['../a.txt'], tuple)


def test_a_file_replaced_by_one_of_the_same_size_and_mtime_is_told_apart(tmp_path):
    # what a listed file is checked against before its source is deleted
    from filetransfer.endpoints.base import change_of
    endpoint = LocalEndpoint(endpoint_spec('source', path=str(tmp_path), files='*'))
    make_files(tmp_path, {'a.txt': 'AAAA'})
    listed = endpoint.stat('a.txt')
    assert change_of(listed, endpoint.stat('a.txt')) is None
    mtime = os.stat(tmp_path / 'a.txt').st_mtime_ns
    os.rename(tmp_path / 'a.txt', tmp_path / 'old.txt')
    make_files(tmp_path, {'a.txt': 'BBBB'})
    os.utime(tmp_path / 'a.txt', ns=(mtime, mtime))
    now = endpoint.stat('a.txt')
    assert (now.size, now.mtime) == (listed.size, listed.mtime)
    assert change_of(listed, now) == 'it was modified or replaced'


def test_a_file_dated_after_2262_is_listed_sent_and_deleted(tmp_path):
    # past 2262 a time in ns no longer fits in 64 bits (ext4 takes dates up to 2446)
    src, dst = tmp_path / 'src', tmp_path / 'dst'
    make_files(src, {'far.txt': 'F', 'near.txt': 'N'})
    far = 13569465600 * 10**9          # 2400-01-01
    os.utime(src / 'far.txt', ns=(far, far))
    result = filetransfer.transfer({'path': str(src), 'files': '*', 'delete': 'yes'},
                                   {'path': str(dst)}, collect_data=True)
    assert (result.files_cnt, result.error_cnt) == (2, 0)
    assert tree(dst) == {'far.txt': b'F', 'near.txt': b'N'} and tree(src) == {}
