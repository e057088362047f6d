"""faspmanager: drive IBM Aspera's ascp (transfer orders, sessions, management-port
events).

Instantiate an order (FileUpload, FileDownload, PersistentUpload, PersistentDownload,
StreamUpload), open a session for it with ``session()``, ``start()`` it, steer it
(``set_rate``, ``cancel``, ``add_source``, ``open_stream``) and ``finish()`` it for a
SessionResult. ``Ascmd`` does file operations (list, stat, remove, mkdir, rename) on
an Aspera server over SSH, where aspshell allows no SFTP. faspmanager logs to the
logger ``faspmanager``. See README.md, section "faspmanager", for what is decided where
ascp's behaviour is not documented.
"""

import logging

from .ascmd import Ascmd, AscmdConnectionError
from .ascp import find_ascp
from .errors import (AuthenticationError, ErrorCode, InvalidPathError, ProtocolError,
                     SessionStartError, SessionStateError, StreamStateError, is_retryable)
from .options import (CipherType, FileChecksumType, FileManifestFormat, FileState,
                      HttpFallbackOptions, OverwritePolicy, PreserveMode, ResumeCheck,
                      SessionState, SymlinkPolicy, TransferEventType, TransferOptions,
                      TransferPolicy)
from .orders import (BaseTransferOrder, FileDownload, FileUpload, PersistentDownload,
                     PersistentUpload, StreamUpload)
from .session import (PersistentSession, Session, SessionResult, Stream, StreamSession,
                      TransferEvent, session)

logging.getLogger('faspmanager').addHandler(logging.NullHandler())

__all__ = [
    'Ascmd', 'AscmdConnectionError', 'AuthenticationError', 'BaseTransferOrder', 'CipherType', 'ErrorCode', 'FileChecksumType',
    'FileDownload', 'FileManifestFormat', 'FileState', 'FileUpload', 'HttpFallbackOptions',
    'InvalidPathError', 'OverwritePolicy', 'PersistentDownload', 'PersistentSession',
    'PersistentUpload', 'PreserveMode', 'ProtocolError', 'ResumeCheck', 'Session',
    'SessionResult', 'SessionStartError', 'SessionState', 'SessionStateError', 'Stream',
    'StreamSession', 'StreamStateError', 'StreamUpload', 'SymlinkPolicy', 'TransferEvent',
    'TransferEventType', 'TransferOptions', 'TransferPolicy', 'find_ascp', 'is_retryable',
    'session',
]
