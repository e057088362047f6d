"""A job's files/ignore/recursive as ascp rules (filetransfer.endpoints.faspfilters),
checked against the job's own selection (filetransfer/run/selection.py: '*', '?' and
sets also match '/', patterns without a leading '/' match from any name on) through
the rule semantics the ascp emulator applies (faspmanager.testing.filters)."""

import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from faspmanager.testing import filters
from filetransfer.endpoints.fasp import filters as faspfilters
from filetransfer.endpoints.fasp.filters import Unsupported, build
from filetransfer.run.selection import Selection
from helpers import examples


def ascp_choice(args, paths):
    """The files ascp takes with these arguments: no directory on the way excluded,
    the file itself not excluded."""
    rules = list(zip(args[0::2], args[1::2]))
    chosen = []
    for path in paths:
        parts = path.split('/')
        dirs = ['/'.join(parts[:k]) for k in range(1, len(parts))]
        if any(filters.decide(rules, folder, True) is True for folder in dirs):
            continue
        if filters.decide(rules, path, False) is not True:
            chosen.append(path)
    return chosen


def job_choice(selection, paths, skip=()):
    chosen = []
    for path in paths:
        parts = path.split('/')
        dirs = ['/'.join(parts[:k]) for k in range(1, len(parts))]
        if all(selection.descend(folder) for folder in dirs) and selection.wants(path) \
                and path not in skip:
            chosen.append(path)
    return chosen


TREE = ['a.csv', '.hidden.csv', 'b.txt', 'READY', 'sub/c.csv', 'sub/.d.csv', 'sub/e.txt',
        '.git/f.csv', 'sub/deep/g.csv', 'old/h.csv', 'x*y.csv', 'reports/2024/r.csv']


def test_rules_for_the_usual_job():
    # '.*' ignores hidden files and every file below a hidden directory
    assert build(['*.csv'], ['.*'], recursive=True, skip=['READY']) == [
        '-E', '/READY', '-E', '.*', '-E', '.*/**/*', '-E', '.*/**/.*', '-E', '.*/**',
        '-N', '*.csv', '-N', '.*.csv', '-N', '/**/', '-E', '/**']
    assert ascp_choice(build(['*.csv'], ['.*'], True, ['READY']), TREE) == [
        'a.csv', 'sub/c.csv', 'sub/deep/g.csv', 'old/h.csv', 'x*y.csv', 'reports/2024/r.csv']


def test_not_recursive_excludes_every_directory():
    args = build(['*'], [], recursive=False)
    assert args == ['-E', '/**/', '-N', '*', '-N', '.*', '-E', '/**']
    assert ascp_choice(args, TREE) == ['a.csv', '.hidden.csv', 'b.txt', 'READY', 'x*y.csv']
    args = build(['*'], ['.*'], recursive=False)
    assert ascp_choice(args, TREE) == ['a.csv', 'b.txt', 'READY', 'x*y.csv']


def test_anchored_patterns_and_ignored_names():
    # 'old' ignores files named old, not the files in a directory old/
    args = build(['/reports/**/*.csv', 'sub/*.txt'], ['old', '.*'], recursive=True)
    assert ['-E', 'old', '-E', '.*'] == args[:4] and 'old/' not in args
    assert ascp_choice(args, TREE) == ['sub/e.txt', 'reports/2024/r.csv']
    args = build(['*.csv'], ['old/*', '.*'], recursive=True)
    assert ascp_choice(args, TREE) == ['a.csv', 'sub/c.csv', 'sub/deep/g.csv', 'x*y.csv',
                                       'reports/2024/r.csv']
    # '*' also matches '/': 'sub*' takes everything below sub/
    args = build(['sub*'], [], recursive=True)
    assert ascp_choice(args, TREE) == ['sub/c.csv', 'sub/.d.csv', 'sub/e.txt', 'sub/deep/g.csv']


def test_exact_names_are_quoted():
    assert faspfilters.exact_rule('x*y.csv') == '/x\\*y.csv'
    assert faspfilters.exact_rule('a/[b]?') == '/a/\\[b]\\?'
    assert ascp_choice(build(['*'], (), True, skip=['x*y.csv', 'sub/c.csv']), TREE) == \
        [path for path in TREE if path not in ('x*y.csv', 'sub/c.csv')]


@pytest.mark.parametrize('pattern, why', [
    ('[^a]*', '[^...]'), ('a\\b', 'backslash'), ('[[:digit:]]', 'plain sets'),
    ('[z-a]', 'reversed'),
])
def test_what_ascp_cannot_express_is_refused(pattern, why):
    with pytest.raises(Unsupported, match=re.escape(why)) as caught:
        build([pattern])
    assert caught.value.option == 'files'
    with pytest.raises(Unsupported) as caught:
        build(['*'], [pattern])
    assert caught.value.option == 'ignore'


def test_double_stars_are_one_star():
    assert faspfilters.pattern_rules('**.csv') == ['*.csv', '.*.csv']
    rules = faspfilters.pattern_rules('/**x/a')
    assert rules[:2] == ['/*x/a', '/.*x/a'] and '/*/**/*x/a' in rules
    assert not any('**x' in rule for rule in rules)


def test_patterns_matching_nothing_give_no_rule():
    assert faspfilters.pattern_rules('a//b') == []
    assert faspfilters.pattern_rules('/../x') == []


NAME_PARTS = ['a', 'b', '.', 'c']
PATTERN_PARTS = ['a', 'b', '.', '*', '?', '[ab]', '[!a]', '[.b]', 'c', '[a-c]']

names = st.lists(st.sampled_from(NAME_PARTS), min_size=1, max_size=3).map(''.join) \
    .filter(lambda name: name not in ('.', '..'))
paths = st.lists(names, min_size=1, max_size=3).map('/'.join)
components = st.lists(st.sampled_from(PATTERN_PARTS), min_size=1, max_size=3).map(''.join)


@st.composite
def patterns(draw):
    parts = draw(st.lists(st.one_of(components, st.just('**')), min_size=1, max_size=3))
    if len(parts) == 1 and parts[0] != '**' and not draw(st.booleans()):
        return parts[0]
    if not draw(st.integers(0, 20)):
        return ''
    return draw(st.sampled_from(['', '/'])) + '/'.join(parts) + draw(st.sampled_from(['', '/']))


@settings(max_examples=examples(400), deadline=None)
@given(tree=st.lists(paths, min_size=1, max_size=12, unique=True),
       files=st.lists(patterns(), min_size=1, max_size=2),
       ignore=st.lists(patterns(), max_size=2), recursive=st.booleans(),
       skip_count=st.integers(0, 2))
def test_ascp_rules_choose_what_the_job_chooses(tree, files, ignore, recursive, skip_count):
    dirs = {'/'.join(path.split('/')[:k]) for path in tree
            for k in range(1, len(path.split('/')))}
    assume(not dirs & set(tree))     # a name is a file or a directory, not both
    skip = tree[:skip_count]
    try:
        args = build(files, ignore, recursive, skip)
    except Unsupported:
        assume(False)
    selection = Selection(files, ignore, recursive)
    assert ascp_choice(args, tree) == job_choice(selection, tree, skip)
