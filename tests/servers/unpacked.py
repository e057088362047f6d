"""The FTP servers unpacked from their Debian packages by install-system-deps.sh
(vsftpd, ProFTPD with its crypto modules, Pure-FTPd): where their files are."""

import os

ROOT = os.path.join(os.environ.get('FILETRANSFER_TEST_SERVERS') or os.path.join(
    os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'),
    'filetransfer-tests', 'servers'), 'root')


def program(relpath: str) -> str | None:
    """The path of an unpacked file (``usr/sbin/vsftpd``), or None when it is not there."""
    path = os.path.join(ROOT, relpath)
    return path if os.path.exists(path) else None
