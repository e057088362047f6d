"""The `temp` option: where a file is written before it appears under its final name.

- ``dot``: ``.NAME`` beside the final file;
- ``ext:EXT``: ``NAME.EXT`` (a dot is put before an EXT that has none: ``ext:tmp``
  and ``ext:.tmp`` both give ``NAME.tmp``);
- ``dir:DIR``: ``DIR/RELPATH``, DIR relative to the target directory (it may lead
  out of it: ``dir:../incoming``) or absolute; it is created when missing.

The mode word is case-insensitive, as in FileTransfer 0.11.
"""

import hashlib
import posixpath
from dataclasses import dataclass

_FORMS = 'dot, ext:EXT or dir:DIR'
NAME_MAX = 255      # bytes in one file name, on Linux file systems and most servers


@dataclass(frozen=True)
class TempNames:
    """Maps a final relative path to the relative path a file is written to first."""

    mode: str          # 'dot', 'ext' or 'dir'
    value: str = ''    # the extension (with its dot) or the directory

    @classmethod
    def parse(cls, raw: str) -> 'TempNames':
        mode, sep, value = raw.partition(':')
        mode = mode.lower()
        if mode == 'dot' and not sep:
            return cls('dot')
        if mode not in ('ext', 'dir') or not sep or ':' in value or '\0' in value:
            raise ValueError('expected ' + _FORMS)
        if mode == 'ext':
            if '/' in value:
                raise ValueError('expected ext:EXT with an EXT without "/"')
            return cls('ext', value if value.startswith('.') else '.' + value)
        folder = posixpath.normpath(value) if value else '.'
        if folder == '.':
            raise ValueError('expected dir:DIR with another DIR than the target directory '
                             '(a file written there would replace the final file of '
                             'another one)')
        return cls('dir', folder)

    def temp_path(self, relpath: str) -> str:
        head, name = posixpath.split(relpath)
        if self.mode == 'dot':
            return posixpath.join(head, '.' + _fitting(name, 1))
        if self.mode == 'ext':
            return posixpath.join(head, _fitting(name, len(self.value.encode())) + self.value)
        return posixpath.join(self.value, relpath)

    def holds(self, path: str) -> bool:
        """Whether ``path`` (as temp_path gives it) is in the temp directory, which
        may lie outside the target directory."""
        if self.mode != 'dir':
            return False
        prefix = self.value.rstrip('/') + '/'
        rest = path[len(prefix):]
        return path.startswith(prefix) and bool(rest) and not rest.startswith('/') \
            and not {'', '.', '..'} & set(rest.split('/'))

    def __str__(self):
        return self.mode if self.mode == 'dot' else f'{self.mode}:{self.value}'


def _fitting(name: str, extra: int) -> str:
    """``name``, or when ``extra`` more bytes would make it longer than NAME_MAX, its
    start and a hash of all of it (so that two long names stay two temp names)."""
    encoded = name.encode('utf-8', 'surrogateescape')
    if len(encoded) + extra <= NAME_MAX:
        return name
    tag = '~' + hashlib.sha256(encoded).hexdigest()[:12]
    room = NAME_MAX - extra - len(tag)
    if room < 1:
        return name         # an absurd extension: the target says the name is too long
    start = encoded[:room].decode('utf-8', 'ignore')   # never half a character
    return start + tag
