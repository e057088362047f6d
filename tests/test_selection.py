"""Which files a job takes: files, ignore, recursive, anchored patterns."""

import signal
from contextlib import contextmanager
from fnmatch import fnmatchcase

import pytest
from hypothesis import given, settings, strategies as st

import filetransfer
from filetransfer.run.selection import Pattern, Selection
from helpers import examples, make_files, tree

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
    # '*' also matches '/': an anchored pattern takes files at any depth below
    ({'files': '/*.txt', 'recursive': 'yes'},
     {'a.txt', 'sub/d.txt', 'sub/deeper/e.txt', 'other/a.txt'}),
    ({'files': '/sub/*.txt', 'recursive': 'yes'}, {'sub/d.txt', 'sub/deeper/e.txt'}),
    ({'files': 'sub/*', 'recursive': 'yes'}, {'sub/d.txt', 'sub/f.csv', 'sub/deeper/e.txt'}),
    # '**' is '*': '/sub/**/*.txt' needs a directory below sub/
    ({'files': '/sub/**/*.txt', 'recursive': 'yes'}, {'sub/deeper/e.txt'}),
    ({'files': '**/a.txt', 'recursive': 'yes'}, {'other/a.txt'}),
    # ignore matches files only: a directory name ignores nothing
    ({'files': '*', 'recursive': 'yes', 'ignore': '*.log, deeper, /other'},
     {'a.txt', 'b.csv', 'sub/d.txt', 'sub/f.csv', '.hidden.txt', '.git/config.txt',
      'sub/.cache/x.txt', 'sub/deeper/e.txt', 'other/a.txt'}),
    ({'files': '*', 'recursive': 'yes', 'ignore': 'deeper/*, /other/*'},
     {'a.txt', 'b.csv', 'c.log', 'sub/d.txt', 'sub/f.csv', '.hidden.txt', '.git/config.txt',
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


@contextmanager
def at_most(seconds):
    """Fails the test instead of hanging when the body runs away."""
    def expire(signum, frame):
        raise AssertionError(f'did not finish within {seconds} s')
    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_many_stars_against_a_deep_path_return():
    names = [f'd{depth}' for depth in range(400)]
    path = '/'.join(names)
    with at_most(60):
        assert not Pattern('/**' * 400 + '/none').matches(path)
        assert not Pattern('**/' * 400 + 'none').matches(path)
        assert Pattern('/**' * 399 + '/d399').matches(path)
        assert not Pattern('/**' * 400 + '/d399').matches(path)     # 400 '/' needed
        assert not Pattern('/' + '/'.join(['**', '*'] * 400)).matches(path)
        assert not Pattern('*a' * 200 + '*b').matches('a' * 5000)


def test_pathological_files_and_ignore_patterns_on_a_deep_tree(tmp_path):
    deep = '/'.join(f'd{depth}' for depth in range(14))
    src, dst = tmp_path / 'src', tmp_path / 'dst'
    make_files(src, {f'{deep}/none': 'n', f'{deep}/keep': 'k', 'top': 't'})
    hostile = '/**' * 13 + '/none'
    with at_most(60):
        result = filetransfer.transfer(
            {'path': str(src), 'files': hostile, 'recursive': 'yes'}, {'path': str(dst)})
        assert (result.error_cnt, set(tree(dst))) == (0, {f'{deep}/none'})
        result = filetransfer.transfer(
            {'path': str(src), 'files': '*', 'ignore': hostile, 'recursive': 'yes'},
            {'path': str(tmp_path / 'dst2')})
        assert (result.error_cnt, set(tree(tmp_path / 'dst2'))) == (0, {f'{deep}/keep', 'top'})


ALPHABET = 'ab/.*?[]!'


@given(st.lists(st.text(ALPHABET, max_size=7), min_size=1, max_size=3),
       st.text('ab/.', min_size=1, max_size=8))
@settings(max_examples=examples(2000), deadline=None)
def test_patterns_match_as_the_rule_says(patterns, path):
    """One search per path gives what the rule of the module says: a pattern (or
    '*/' + it, unless anchored) matching the path or the path with '/' appended."""
    def rule(text):
        forms = [text[1:]] if text.startswith('/') else [text, '*/' + text]
        return any(fnmatchcase(name, form) for form in forms for name in (path, path + '/'))
    assert Selection(patterns).wants(path) == any(rule(text) for text in patterns)
    assert Selection(['*'], ignore=patterns).wants(path) == \
        (not any(rule(text) for text in patterns))
