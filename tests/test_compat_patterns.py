"""Which files a job takes, as FileTransfer 0.11 takes them: `files`, `ignore` and
`recursive`, case by case (the expected sets are what 0.11 sent for the same tree),
and against a plain model of 0.11's rule over generated trees and patterns."""

import fnmatch
import os
import subprocess
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import filetransfer
from helpers import command_argv, make_files, tree

TREE = ['a.txt', 'b.csv', '.hidden.txt', 'report.csv', 'Upper.TXT', 'x.tmp', 'old',
        'reports/d.csv', 'reports/sub/e.csv', 'reports/.x.csv', 'other/reports/d.csv',
        'in/f.txt', 'in/g/h.txt', 'olddir/o.txt', '.hdir/k.txt', 'data.tmp/p.csv',
        'a/b/c/deep.txt', 'sub/old', 'br[1]/q.txt']
HIDDEN = {'.hidden.txt', 'reports/.x.csv', '.hdir/k.txt'}
VISIBLE = set(TREE) - HIDDEN
TXT = {'a.txt', 'in/f.txt', 'in/g/h.txt', 'olddir/o.txt', 'a/b/c/deep.txt', 'br[1]/q.txt'}


def run_check(ws):
    """`filetransfer check` of the workspace's configuration."""
    return subprocess.run(command_argv('check', '-c', ws.app_cfg), capture_output=True,
                          text=True, timeout=120)


def sent(root, files, ignore=None, recursive='yes', paths=TREE) -> set:
    """The relative paths a transfer of ``paths`` with these options sends."""
    src, dst = os.path.join(str(root), 'src'), os.path.join(str(root), 'dst')
    make_files(src, {path: path for path in paths})
    source = {'path': src, 'files': files, 'recursive': recursive}
    if ignore is not None:
        source['ignore'] = ignore
    result = filetransfer.transfer(source, {'path': dst})
    assert result.error_cnt == 0
    return set(tree(dst)) if os.path.isdir(dst) else set()


@pytest.mark.parametrize('files,expected', [
    # a pattern with '/' but no leading '/' matches below any directory
    ('reports/*', {'reports/d.csv', 'reports/sub/e.csv', 'other/reports/d.csv'}),
    ('/reports/*', {'reports/d.csv', 'reports/sub/e.csv'}),        # '*' matches '/'
    ('/in/*', {'in/f.txt', 'in/g/h.txt'}),
    ('/in/*.txt', {'in/f.txt', 'in/g/h.txt'}),
    ('report*', {'report.csv', 'reports/d.csv', 'reports/sub/e.csv', 'other/reports/d.csv'}),
    ('*.txt', TXT),
    ('*.TXT', {'Upper.TXT'}),                                      # case-sensitive
    ('?.txt', {'a.txt', 'br[1]/q.txt', 'in/f.txt', 'in/g/h.txt', 'olddir/o.txt'}),
    ('in?f.txt', {'in/f.txt'}),                                    # '?' matches '/'
    ('reports?d.csv', {'reports/d.csv', 'other/reports/d.csv'}),
    ('c/deep.txt', {'a/b/c/deep.txt'}),
    ('b/c/*', {'a/b/c/deep.txt'}),
    ('**/*.csv', {'data.tmp/p.csv', 'other/reports/d.csv', 'reports/d.csv',
                  'reports/sub/e.csv'}),                           # '**' is '*': no b.csv
    ('/reports/**', {'reports/d.csv', 'reports/sub/e.csv'}),
    ('[!a]*.txt', {'a/b/c/deep.txt', 'br[1]/q.txt', 'in/f.txt', 'in/g/h.txt', 'olddir/o.txt'}),
    ('/br[1]/q.txt', set()),                                       # [1] is a set
    ('old?', {'old', 'sub/old'}),                   # '?' matches the '/' appended to 'old'
    ('*/', VISIBLE),
    ('/', set()),
])
def test_files_patterns(tmp_path, files, expected):
    assert sent(tmp_path, files) == expected


@pytest.mark.parametrize('ignore,left_out', [
    ('old', {'old', 'sub/old'}),
    ('olddir', set()),                      # a directory's name ignores no file in it
    ('olddir/', set()),
    ('olddir/*', {'olddir/o.txt'}),
    ('/olddir/*', {'olddir/o.txt'}),
    ('old*', {'old', 'sub/old', 'olddir/o.txt'}),
    ('reports', set()),
    ('reports/sub', set()),
    ('sub/*', {'sub/old', 'reports/sub/e.csv'}),
    ('*.tmp', {'x.tmp'}),                   # data.tmp/p.csv is sent
])
def test_ignore_matches_file_paths_only(tmp_path, ignore, left_out):
    assert sent(tmp_path, '*', ignore) == set(TREE) - left_out


def test_default_ignore_and_an_empty_ignore(tmp_path):
    assert sent(tmp_path / '1', '*') == VISIBLE
    assert sent(tmp_path / '2', '.*', ignore='') == HIDDEN


def test_not_recursive(tmp_path):
    assert sent(tmp_path / '1', '*.txt', recursive='no') == {'a.txt'}
    assert sent(tmp_path / '2', 'reports/*.csv', recursive='no') == set()
    # a pattern with '/' takes a top-level file through the '/' appended to its name
    assert sent(tmp_path / '3', '/in/*', recursive='no', paths=['in', 'a.txt']) == {'in'}
    assert sent(tmp_path / '4', 'file?', recursive='no', paths=['file', 'files']) == \
        {'file', 'files'}


def test_empty_items_match_every_file(tmp_path):
    assert sent(tmp_path / '1', '*.txt,') == VISIBLE
    assert sent(tmp_path / '2', ',') == VISIBLE
    assert sent(tmp_path / '3', '*', ignore='*.tmp,') == set()


def test_an_empty_item_is_a_warning_and_a_check_problem(ws):
    make_files(ws.src, {'a.txt': 'A', 'b.csv': 'B'})
    job_path = ws.write_job(source={'files': '*.txt,'})
    done = ws.run('job1')
    assert done.returncode == 0
    assert set(tree(ws.dst)) == {'a.txt', 'b.csv'}
    assert (f'WARNING  {job_path}: [source] files: an empty item (a comma at the start or '
            'the end, or two commas in a row) matches every file: every file is selected'
            ) in ws.log_text()
    done = run_check(ws)
    assert done.returncode == 3
    assert f'{job_path}: [source] files: an empty item' in done.stdout


def test_pattern_characters_in_the_source_path_are_literal(tmp_path):
    # 0.11 read the source path as part of the pattern and sent nothing
    src, dst = tmp_path / 'in[1]', tmp_path / 'dst'
    make_files(src, {'a.txt': 'A'})
    result = filetransfer.transfer({'path': str(src), 'files': '*'}, {'path': str(dst)})
    assert (result.files_cnt, set(tree(dst))) == (1, {'a.txt'})


# -- the rule of FileTransfer 0.11, as a plain model ----------------------------------

def model_join(head: str, tail: str) -> str:
    if tail.startswith('/'):
        return tail
    if not head or head.endswith('/'):
        return head + tail
    return head + '/' + tail


def model_expand(base: str, pattern: str) -> list[str]:
    if pattern.startswith('/'):
        return [model_join(base, pattern[1:])]
    return [model_join(base, pattern), model_join(model_join(base, '*'), pattern)]


def model_walk(folder: str, recursive: bool):
    for name in sorted(os.listdir(folder)):
        path = model_join(folder, name)
        if recursive and os.path.isdir(path):
            yield from model_walk(path, recursive)
        elif os.path.isfile(path):
            yield path


def model_items(value: str) -> list[str]:
    """An option value as 0.11 splits it: no item for an empty value."""
    return [item.strip() for item in value.split(',')] if value else []


def model_selection(source: str, files: str, ignore: str, recursive: bool) -> set:
    """The relative paths 0.11 sends: each file's full path (source + '/' + relative
    path), or that with '/' appended, fnmatch-ed against the expanded patterns."""
    base = source.rstrip('/')
    files, ignore = model_items(files), model_items(ignore)
    wanted = [full for pattern in files for full in model_expand(base, pattern)]
    unwanted = [full for pattern in ignore for full in model_expand(base, pattern)]

    def matches(path, patterns):
        return any(fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(path + '/', pattern)
                   for pattern in patterns)

    return {path[len(base) + 1:] for path in model_walk(base, recursive)
            if matches(path, wanted) and not matches(path, unwanted)}


NAMES = st.sampled_from(['a', 'b', 'ab', 'ba', '.a', 'a.b', 'bb'])
PATHS = st.lists(NAMES, min_size=1, max_size=4).map('/'.join)
PATTERN_PARTS = ['a', 'b', '/', '*', '?', '[ab]', '[!a]', '.']
PATTERNS = st.lists(st.sampled_from(PATTERN_PARTS), max_size=6).map(''.join) \
    .filter(lambda pattern: not pattern.startswith('//'))   # '//x': see docs/migrating-from-0.11.md


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(paths=st.lists(PATHS, min_size=1, max_size=10, unique=True),
       files=st.lists(PATTERNS, min_size=1, max_size=3),
       ignore=st.one_of(st.none(), st.lists(PATTERNS, max_size=2)),
       recursive=st.booleans())
def test_selection_is_the_rule_of_0_11(paths, files, ignore, recursive):
    dirs = {'/'.join(path.split('/')[:k]) for path in paths
            for k in range(1, len(path.split('/')))}
    paths = [path for path in paths if path not in dirs]   # a name is a file or a directory
    with tempfile.TemporaryDirectory() as root:
        src = os.path.join(root, 'src')
        make_files(src, {path: 'x' for path in paths})
        source = {'path': src, 'files': ', '.join(files), 'recursive': str(recursive)}
        if ignore is not None:
            source['ignore'] = ', '.join(ignore)
        dst = os.path.join(root, 'dst')
        result = filetransfer.transfer(source, {'path': dst})
        expected = model_selection(src, source['files'], source.get('ignore', '.*'), recursive)
        assert result.error_cnt == 0
        assert (set(tree(dst)) if os.path.isdir(dst) else set()) == expected
