"""The emulated Aspera server (HSTS): its configuration, what aspera.conf holds on a real
one, and docroot containment.

The configuration is an INI file named by ``--config`` of the server-side programs or by
``ASCP_EMULATOR_SERVER_CONF``::

    [transfer]
    partial_file_suffix = .partial   ; the receiver's suffix on uploads (empty: none)
    min_rate_kbps = 0                ; applies when the client passes no -m

    [docroot]
    xfer = /srv/aspera/xfer          ; a user's docroot; a user without one has none

With a docroot, a client's path ``/a/b`` or ``a/b`` is ``DOCROOT/a/b``; a path that
leaves the docroot (``..`` above it, or a symbolic link pointing outside) is refused.
"""

from __future__ import annotations

import configparser
import errno
import os
import posixpath
from dataclasses import dataclass, field

ENV_VAR = 'ASCP_EMULATOR_SERVER_CONF'


class DocrootError(PermissionError):
    """A path outside the user's docroot (ascp's code 41, BAD_PATH)."""

    def __init__(self, path: str):
        super().__init__(errno.EACCES, 'Path outside the docroot', path)


@dataclass
class ServerConfig:
    partial_file_suffix: str = ''
    min_rate_kbps: int | None = None
    docroots: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | None) -> 'ServerConfig':
        """The configuration in ``path`` (or ``ASCP_EMULATOR_SERVER_CONF``); an empty
        one when neither is given."""
        path = path or os.environ.get(ENV_VAR)
        if not path:
            return cls()
        parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(';',))
        parser.optionxform = str              # user names keep their case
        with open(path, encoding='utf-8') as fh:
            parser.read_file(fh)
        minimum = parser.get('transfer', 'min_rate_kbps', fallback='').strip()
        return cls(partial_file_suffix=parser.get('transfer', 'partial_file_suffix',
                                                  fallback='').strip(),
                   min_rate_kbps=int(minimum) if minimum else None,
                   docroots=dict(parser['docroot']) if parser.has_section('docroot') else {})

    def write(self, path: str) -> None:
        lines = ['[transfer]', f'partial_file_suffix = {self.partial_file_suffix}',
                 f'min_rate_kbps = {"" if self.min_rate_kbps is None else self.min_rate_kbps}',
                 '', '[docroot]', *(f'{user} = {root}' for user, root in self.docroots.items())]
        with open(path, 'w', encoding='utf-8') as fh:
            fh.write('\n'.join(lines) + '\n')

    def paths_for(self, user: str) -> 'Paths':
        return Paths(self.docroots.get(user))


class Paths:
    """A client's paths on this machine: inside the docroot when there is one,
    otherwise as given (relative to the login directory)."""

    def __init__(self, docroot: str | None):
        self.docroot = os.path.abspath(docroot) if docroot else None

    def local(self, path: str) -> str:
        if self.docroot is None:
            return path or '.'
        depth = 0
        for part in path.split('/'):
            if part == '..':
                depth -= 1
                if depth < 0:
                    raise DocrootError(path)
            elif part not in ('', '.'):
                depth += 1
        local = os.path.join(self.docroot, posixpath.normpath('/' + path).lstrip('/'))
        real, root = os.path.realpath(local), os.path.realpath(self.docroot)
        if real != root and not real.startswith(root + os.sep):
            raise DocrootError(path)
        return local.rstrip(os.sep) or os.sep
