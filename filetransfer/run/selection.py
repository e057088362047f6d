"""Which files of the source a job takes: the `files`, `ignore` and `recursive` rules,
as FileTransfer 0.11 applies them.

A pattern is a shell pattern (fnmatch's case-sensitive rule) matched against the whole
path of a file relative to the source directory ('/'-separated):

- `*` and `?` match any character, `/` included; `[...]` and `[!...]` are sets; `**`
  is the same as `*`;
- a pattern starting with `/` must match from the start of the path; any other
  pattern may also match from the start of any of its components, so `reports/*`
  takes `reports/d.csv` and `other/reports/d.csv`;
- every pattern is also tried against the path with a `/` appended: `old?` takes a
  file `old`, `/in/*` a file `in`;
- an empty pattern matches every file.

`ignore` is matched against file paths only: with `recursive` every directory is
entered, so `ignore = olddir` leaves the files in `olddir/` selected (`olddir/*`
ignores them).

Each pattern is compiled once into regular expressions; fnmatch's translation never
backtracks over a `*` once the text after it has matched, so matching stays linear in
the length of the path, whatever the number of `*`.
"""

import re
from fnmatch import translate
from typing import Iterable


class Pattern:
    """One `files` or `ignore` pattern, compiled once."""

    def __init__(self, text: str):
        self.text = text
        self.regexes = (translate(text[1:]),) if text.startswith('/') else \
            (translate(text), translate('*/' + text))

    def matches(self, relpath: str) -> bool:
        """Whether the file ``relpath`` (relative to the source directory) matches."""
        return _any_of([self])(relpath)


def _any_of(patterns):
    """Whether a file's path (relative to the source directory) matches any of
    ``patterns``: one regular expression for them all."""
    if not patterns:
        return _nothing
    regexes = [regex for pattern in patterns for regex in pattern.regexes]
    if all(regex.endswith(r'\Z') for regex in regexes):
        # A regex R matches the path or the path + '/' when R with '/?' before its
        # end matches the path + '/': one search instead of two.
        match = re.compile('|'.join(regex[:-2] + r'/?\Z' for regex in regexes)).match
        return lambda relpath: match(relpath + '/') is not None
    match = re.compile('|'.join(regexes)).match
    return lambda relpath: bool(match(relpath) or match(relpath + '/'))


def _nothing(relpath: str) -> bool:
    return False


class Selection:
    def __init__(self, files: Iterable[str], ignore: Iterable[str] = (), recursive: bool = False,
                 exclude_names: Iterable[str] = ()):
        self.files = tuple(files)
        self.ignore = tuple(ignore or ())
        self.recursive = recursive
        self.exclude_names = frozenset(exclude_names)
        self._files = _any_of([Pattern(text) for text in self.files])
        self.ignored = _any_of([Pattern(text) for text in self.ignore])   # ignored(relpath)

    def descend(self, reldir: str) -> bool:
        """Whether the listing should enter the directory ``reldir``: every one when
        recursive (`ignore` applies to files only)."""
        return self.recursive

    def wants(self, relpath: str) -> bool:
        """Whether the file ``relpath`` is part of the job."""
        if relpath in self.exclude_names or self.ignored(relpath):
            return False
        return self._files(relpath)
