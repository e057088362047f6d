"""`[source] archive_dir`: a source file whose copy is in place (and verified) is
moved into the archive directory, by a rename on the source side, instead of
being deleted. It keeps its path relative to the source directory; a name the
archive holds already gets a number before its extension (``report.csv`` ->
``report.1.csv``, then ``report.2.csv`` ...), so that nothing in the archive is
ever replaced. An archive inside the source directory is never listed as source.
"""

import errno
import posixpath

MAX_NUMBER = 9999


class Archive:
    """The archive directory ``folder`` of a job's source (relative to the source
    directory, or absolute)."""

    def __init__(self, folder: str):
        self.folder = folder

    def move(self, source, path: str) -> str:
        """Moves the file ``path`` of the open ``source`` into the archive; returns its
        path below the archive. Raises OSError (FileExistsError when every numbered
        name is taken)."""
        for number in range(MAX_NUMBER + 1):
            name = numbered(path, number)
            try:
                source.move_into(path, self.folder, name)
            except FileExistsError:
                continue
            return name
        raise FileExistsError(errno.EEXIST, f'{path} and its numbered names up to '
                                            f'{MAX_NUMBER} exist in the archive')

    def excluded(self, source):
        """The directory of the open ``source`` that the walk must not enter (the
        archive, when it is inside the source directory), or None."""
        return source.relative_dir(self.folder)


def numbered(path: str, number: int) -> str:
    """``path`` with ``number`` before the extension of its name (0: unchanged)."""
    if not number:
        return path
    folder, name = posixpath.split(path)
    head = '.' if name.startswith('.') else ''     # a dot file's dot is no extension
    stem, dot, extension = name[len(head):].rpartition('.')
    new = f'{head}{stem}.{number}.{extension}' if dot and stem else f'{name}.{number}'
    return posixpath.join(folder, new)
