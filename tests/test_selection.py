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


# The matching rule as first written: plain recursion, exponential in the number of
# '**' components. Kept as the reference the compiled matcher must agree with.
def reference_match_parts(pattern, parts):
    if not pattern:
        return not parts
    if pattern[0] == '**':
        return any(reference_match_parts(pattern[1:], parts[skip:])
                   for skip in range(len(parts) + 1))
    return bool(parts) and fnmatchcase(parts[0], pattern[0]) \
        and reference_match_parts(pattern[1:], parts[1:])


def reference_matches(pattern, relpath):
    if '/' not in pattern:
        return fnmatchcase(relpath.rpartition('/')[2], pattern)
    return reference_match_parts(pattern.strip('/').split('/'), relpath.split('/'))


COMPONENTS = st.sampled_from(['a', 'b', 'ab', '*', '?', '**', 'a*', '*b', '[ab]', '[!a]*',
                              '.*', '', 'a**'])
NAMES = st.sampled_from(['a', 'b', 'ab', 'ba', '.a', 'aab', '*'])


@st.composite
def patterns(draw):
    parts = draw(st.lists(COMPONENTS, min_size=1, max_size=6))
    text = '/'.join(parts)
    return draw(st.sampled_from([text, '/' + text, text + '/']))


@settings(max_examples=examples(2000), deadline=None)
@given(patterns(), st.lists(NAMES, min_size=1, max_size=6).map('/'.join))
def test_compiled_matcher_agrees_with_the_reference(pattern, relpath):
    assert Pattern(pattern).matches(relpath) == reference_matches(pattern, relpath)


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


def test_many_double_stars_against_a_deep_path_return():
    names = [f'd{depth}' for depth in range(40)]
    with at_most(60):
        assert not Pattern('/**' * 40 + '/none').matches('/'.join(names))
        assert Pattern('/**' * 40 + '/d39').matches('/'.join(names))
        assert not Pattern('/' + '/'.join(['**', '*'] * 40)).matches('/'.join(names[:39]))


def test_pathological_files_and_ignore_patterns_on_a_deep_tree(tmp_path):
    deep = '/'.join(f'd{depth}' for depth in range(14))
    src, dst = tmp_path / 'src', tmp_path / 'dst'
    make_files(src, {f'{deep}/none': 'n', f'{deep}/keep': 'k', 'top': 't'})
    hostile = '/**' * 16 + '/none'
    with at_most(60):
        result = filetransfer.transfer(
            {'path': str(src), 'files': hostile, 'recursive': 'yes'}, {'path': str(dst)})
        assert (result.error_cnt, set(tree(dst))) == (0, {f'{deep}/none'})
        result = filetransfer.transfer(
            {'path': str(src), 'files': '*', 'ignore': hostile, 'recursive': 'yes'},
            {'path': str(tmp_path / 'dst2')})
        assert (result.error_cnt, set(tree(tmp_path / 'dst2'))) == (0, {f'{deep}/keep', 'top'})
