"""The `temp` option: where a file is written before it appears under its final name."""

import hashlib
import posixpath
from dataclasses import dataclass

_FORMS = 'dot, ext:.EXT or dir:SUBDIR'
NAME_MAX = 255      # bytes in one file name, on Linux file systems and most servers


@dataclass(frozen=True)
class TempNames:
    """Maps a final relative path to the relative path a file is written to first."""

    mode: str          # 'dot', 'ext' or 'dir'
    value: str = ''    # the extension or the sub-directory

    @classmethod
    def parse(cls, raw: str) -> 'TempNames':
        mode, sep, value = raw.partition(':')
        mode = mode.lower()
        if mode == 'dot' and not sep:
            return cls('dot')
        if mode == 'ext' and value and '/' not in value and '\0' not in value:
            return cls('ext', value)
        if mode == 'dir' and value:
            subdir = posixpath.normpath(value)
            if not (subdir.startswith('/') or subdir == '.' or '\0' in subdir
                    or '..' in subdir.split('/')):
                return cls('dir', subdir)
            raise ValueError('expected dir:SUBDIR with a relative SUBDIR inside the target path')
        raise ValueError('expected ' + _FORMS)

    def temp_path(self, relpath: str) -> str:
        head, name = posixpath.split(relpath)
        if self.mode == 'dot':
            return posixpath.join(head, '.' + _fitting(name, 1))
        if self.mode == 'ext':
            return posixpath.join(head, _fitting(name, len(self.value.encode())) + self.value)
        return posixpath.join(self.value, relpath)

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
