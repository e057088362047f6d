"""Run file transfer jobs described by INI files (local, FTP, FTPS, SFTP, FASP).

This package logs through the logger named 'filetransfer'. Its names are loaded
when first used, so that the command starts fast (``filetransfer -V``, a job whose
ready file is missing) and ``import filetransfer`` costs nothing more.
"""

import importlib

__version__ = '0.12.0'

_PUBLIC = {
    'ConfigError': 'filetransfer.errors', 'ConnectError': 'filetransfer.errors',
    'Error': 'filetransfer.errors', 'NotReadyError': 'filetransfer.errors',
    'SingleInstanceError': 'filetransfer.errors', 'Terminated': 'filetransfer.errors',
    'TransferError': 'filetransfer.errors', 'FileTags': 'filetransfer.outcome',
    'JobResult': 'filetransfer.outcome', 'configure': 'filetransfer.run.job',
    'transfer': 'filetransfer.run.job', 'set_sigterm_handler': 'filetransfer.signals',
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted([*globals(), *_PUBLIC])
