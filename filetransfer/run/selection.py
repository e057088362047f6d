"""Which files of the source a job takes: the `files`, `ignore` and `recursive` rules.

A pattern is an fnmatch pattern matched against the path relative to the source
directory ('/'-separated). A pattern without '/' matches a name at any depth; one
starting with '/' is anchored at the source directory, and so is any other
pattern with '/'. In those, '*' and '?' stay within one path component and a
component '**' matches any number of directories.

`ignore` patterns also apply to directories: an ignored directory is not entered,
so the default `.*` skips hidden files and hidden directories alike.
"""

import re
from fnmatch import translate
from typing import Iterable, Optional, Sequence

# A compiled pattern component: a regular expression for one name, or None for '**'.
Component = Optional[re.Pattern]


def compile_component(text: str) -> re.Pattern:
    """The regular expression matching one name as fnmatch's case-sensitive rule does."""
    return re.compile(translate(text))


def match_components(pattern: Sequence[Component], names: Sequence[str]) -> bool:
    """Whether ``names`` (path components) match ``pattern`` as a whole.

    The pattern runs as a nondeterministic automaton: the set of pattern positions
    reached so far advances by one name at a time ('**' may stay in place or be
    skipped), so the work is at most len(pattern) x len(names) component matches.
    """
    end = len(pattern)
    positions = _skip_double_stars(pattern, {0})
    for name in names:
        advanced = set()
        for at in positions:
            if at == end:
                continue
            if pattern[at] is None:
                advanced.add(at)
            elif pattern[at].match(name):
                advanced.add(at + 1)
        if not advanced:
            return False
        positions = _skip_double_stars(pattern, advanced)
    return end in positions


def _skip_double_stars(pattern: Sequence[Component], positions: set) -> set:
    """``positions`` plus every position reached from them by matching '**' with nothing."""
    for at in range(len(pattern)):
        if at in positions and pattern[at] is None:
            positions.add(at + 1)
    return positions


class Pattern:
    """One `files` or `ignore` pattern, compiled once."""

    def __init__(self, text: str):
        self.text = text
        if '/' in text:
            self.name_only = None
            self.components = tuple(None if part == '**' else compile_component(part)
                                    for part in text.strip('/').split('/'))
        else:
            self.name_only = compile_component(text)

    def matches(self, relpath: str) -> bool:
        if self.name_only is not None:
            return self.name_only.match(relpath.rpartition('/')[2]) is not None
        return match_components(self.components, relpath.split('/'))


class Selection:
    def __init__(self, files: Iterable[str], ignore: Iterable[str] = (), recursive: bool = False,
                 exclude_names: Iterable[str] = ()):
        self.files = tuple(files)
        self.ignore = tuple(ignore or ())
        self.recursive = recursive
        self.exclude_names = frozenset(exclude_names)
        self._files = [Pattern(text) for text in self.files]
        self._ignore = [Pattern(text) for text in self.ignore]

    def ignored(self, relpath: str) -> bool:
        return any(pattern.matches(relpath) for pattern in self._ignore)

    def descend(self, reldir: str) -> bool:
        """Whether the listing should enter the directory ``reldir``."""
        return self.recursive and not self.ignored(reldir)

    def wants(self, relpath: str) -> bool:
        """Whether the file ``relpath`` is part of the job."""
        if relpath in self.exclude_names or self.ignored(relpath):
            return False
        return any(pattern.matches(relpath) for pattern in self._files)
