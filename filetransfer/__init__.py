"""Run file transfer jobs described by INI files (local, FTP, FTPS, SFTP, FASP).

This package logs through the logger named 'filetransfer'.
"""

from .errors import (ConfigError, ConnectError, Error, NotReadyError, SingleInstanceError,
                     Terminated, TransferError)
from .job import configure, transfer
from .result import FileTags, JobResult
from .signals import set_sigterm_handler

__version__ = '0.12.0'

__all__ = ['ConfigError', 'ConnectError', 'Error', 'FileTags', 'JobResult', 'NotReadyError',
           'SingleInstanceError', 'Terminated', 'TransferError', 'configure',
           'set_sigterm_handler', 'transfer']
