"""Files that hold a password or a key passphrase should be readable by their
owner only: the loader notes the ones that are not, and a run logs a warning."""

import os
import stat

from filetransfer.secret import Secret


def holds_secret(*sections) -> bool:
    """Whether parsed sections (config/schema.py objects, or None) hold a secret."""
    return any(isinstance(value, Secret) and value
               for section in sections if section is not None
               for value in vars(section).values())


def exposed(path: str) -> str | None:
    """A warning when ``path`` (a file holding a secret) can be read by other users
    than its owner, else None."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None
    if not mode & (stat.S_IRGRP | stat.S_IROTH):
        return None
    return (f'{path} holds a password, passphrase or token and can be read by other '
            f'users than its owner (mode {mode:04o}); make it private: chmod 600 {path}')
