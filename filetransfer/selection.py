"""Which files of the source a job takes: the `files`, `ignore` and `recursive` rules.

A pattern is an fnmatch pattern matched against the path relative to the source
directory ('/'-separated). A pattern without '/' matches a name at any depth; one
starting with '/' is anchored at the source directory, and so is any other
pattern with '/'. In those, '*' and '?' stay within one path component and a
component '**' matches any number of directories.

`ignore` patterns also apply to directories: an ignored directory is not entered,
so the default `.*` skips hidden files and hidden directories alike.
"""

from fnmatch import fnmatchcase


def _match_parts(pattern: list[str], parts: list[str]) -> bool:
    if not pattern:
        return not parts
    if pattern[0] == '**':
        return any(_match_parts(pattern[1:], parts[skip:]) for skip in range(len(parts) + 1))
    return bool(parts) and fnmatchcase(parts[0], pattern[0]) \
        and _match_parts(pattern[1:], parts[1:])


def _matches(pattern: str, relpath: str) -> bool:
    if '/' not in pattern:
        return fnmatchcase(relpath.rpartition('/')[2], pattern)
    return _match_parts(pattern.strip('/').split('/'), relpath.split('/'))


class Selection:
    def __init__(self, files, ignore=(), recursive=False, exclude_names=()):
        self.files = tuple(files)
        self.ignore = tuple(ignore or ())
        self.recursive = recursive
        self.exclude_names = frozenset(exclude_names)

    def ignored(self, relpath: str) -> bool:
        return any(_matches(pattern, relpath) for pattern in self.ignore)

    def descend(self, reldir: str) -> bool:
        """Whether the listing should enter the directory ``reldir``."""
        return self.recursive and not self.ignored(reldir)

    def wants(self, relpath: str) -> bool:
        """Whether the file ``relpath`` is part of the job."""
        if relpath in self.exclude_names or self.ignored(relpath):
            return False
        return any(_matches(pattern, relpath) for pattern in self.files)
