"""The directories the program makes for itself (logs, locks, the pidfile's): each
one it creates is private to its owner, as the files in them are. Directories that
exist already are left as they are."""

import os

PRIVATE_DIR_MODE = 0o700


def make_private_dirs(path: str) -> None:
    """Creates ``path`` and its missing parents, each with mode 0700 (os.makedirs
    gives its mode to the last one only). Raises OSError."""
    head, tail = os.path.split(path)
    if not tail:
        head, tail = os.path.split(head)
    if head and tail and not os.path.exists(head):
        make_private_dirs(head)
    try:
        os.mkdir(path, PRIVATE_DIR_MODE)
    except FileExistsError:   # made by another process meanwhile, or there already
        if not os.path.isdir(path):
            raise
