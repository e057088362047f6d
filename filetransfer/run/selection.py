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


def _compiled(pattern: str):
    return re.compile(translate(pattern)).match


class Pattern:
    """One `files` or `ignore` pattern, compiled once."""

    def __init__(self, text: str):
        self.text = text
        if text.startswith('/'):
            self._matchers = (_compiled(text[1:]),)
        else:
            self._matchers = (_compiled(text), _compiled('*/' + text))

    def matches(self, relpath: str) -> bool:
        """Whether the file ``relpath`` (relative to the source directory) matches."""
        slashed = relpath + '/'
        return any(match(relpath) or match(slashed) for match in self._matchers)


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
        """Whether the listing should enter the directory ``reldir``: every one when
        recursive (`ignore` applies to files only)."""
        return self.recursive

    def wants(self, relpath: str) -> bool:
        """Whether the file ``relpath`` is part of the job."""
        if relpath in self.exclude_names or self.ignored(relpath):
            return False
        return any(pattern.matches(relpath) for pattern in self._files)
