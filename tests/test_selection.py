"""Which files a job takes: files, ignore, recursive, anchored patterns."""

import pytest

import filetransfer
from filetransfer.selection import Selection
from helpers import make_files, tree

FILES = {
    'a.txt': 'a', 'b.csv': 'b', 'c.log': 'c', '.hidden.txt': 'h',
    'sub/d.txt': 'd', 'sub/deeper/e.txt': 'e', 'sub/f.csv': 'f',
    '.git/config.txt': 'g', 'sub/.cache/x.txt': 'x', 'other/a.txt': 'oa',
}


def run(tmp_path, **source):
    src, dst = tmp_path / 'src', tmp_path / 'dst'
    make_files(src, FILES)
    result = filetransfer.transfer({'path': str(src), **source}, {'path': str(dst)})
    assert result.error_cnt == 0
    return set(tree(dst))


@pytest.mark.parametrize('source,expected', [
    ({'files': '*.txt'}, {'a.txt'}),
    ({'files': '*.txt, *.csv'}, {'a.txt', 'b.csv'}),
    ({'files': '*.txt', 'recursive': 'yes'},
     {'a.txt', 'sub/d.txt', 'sub/deeper/e.txt', 'other/a.txt'}),
    ({'files': '/*.txt', 'recursive': 'yes'}, {'a.txt'}),
    ({'files': '/sub/*.txt', 'recursive': 'yes'}, {'sub/d.txt'}),
    ({'files': 'sub/*', 'recursive': 'yes'}, {'sub/d.txt', 'sub/f.csv'}),
    ({'files': '/sub/**/*.txt', 'recursive': 'yes'}, {'sub/d.txt', 'sub/deeper/e.txt'}),
    ({'files': '**/a.txt', 'recursive': 'yes'}, {'a.txt', 'other/a.txt'}),
    ({'files': '*', 'recursive': 'yes', 'ignore': '*.log, deeper, /other'},
     {'a.txt', 'b.csv', 'sub/d.txt', 'sub/f.csv', '.hidden.txt', '.git/config.txt',
      'sub/.cache/x.txt'}),
    ({'files': '*.txt', 'ignore': 'a.*'}, {'.hidden.txt'}),
    ({'files': '*', 'recursive': 'yes'},
     {'a.txt', 'b.csv', 'c.log', 'sub/d.txt', 'sub/deeper/e.txt', 'sub/f.csv', 'other/a.txt'}),
    ({'files': '?.csv', 'recursive': 'yes'}, {'b.csv', 'sub/f.csv'}),
])
def test_patterns_select_files_and_keep_relative_paths(tmp_path, source, expected):
    assert run(tmp_path, **source) == expected


def test_ready_file_never_selected():
    selection = Selection(['*'], exclude_names=['READY'])
    assert not selection.wants('READY') and selection.wants('sub/READY')
