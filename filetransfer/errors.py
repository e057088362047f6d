"""The exceptions of the public API, the exit codes of the command, and the one map
from the end of a run to its exit code and to its status (the JSON ``status``)."""

import enum


class ExitCode(enum.IntEnum):
    """The exit codes of the `filetransfer` command."""

    SUCCESS = 0          # also: not ready, already running
    FILE_ERRORS = 1
    FAILURE = 2
    CONFIG = 3
    USAGE = 4
    TERMINATED = 5
    INTERNAL = 9


class Error(Exception):
    """Base error of filetransfer. ``retryable`` tells whether another try of the job
    may succeed (a refused login, a wrong host key or a missing program will not);
    a single error may say otherwise than its class."""

    code = ExitCode.FAILURE
    retryable = True

    def __init__(self, *args, retryable: bool | None = None):
        super().__init__(*args)
        if retryable is not None:
            self.retryable = retryable


class ConfigError(Error):
    """A problem with the configuration (a file, a section or an option)."""

    code = ExitCode.CONFIG
    retryable = False


class ConnectError(Error):
    """A server (or a local directory) could not be reached or opened."""


class TransferError(Error):
    """A fatal problem during the transfer, e.g. a lost connection."""


class SingleInstanceError(Error):
    """Another instance of the job (or of its lock group) is running."""

    code = ExitCode.SUCCESS
    status = 'already_running'


class NotReadyError(Error):
    """The job's ready file is not present."""

    code = ExitCode.SUCCESS
    status = 'not_ready'


class Terminated(BaseException):
    """The job was terminated by SIGTERM or Ctrl-C."""

    code = ExitCode.TERMINATED

    def __init__(self, *args):
        super().__init__(*(args or ("terminated",)))


_STATUS = {ExitCode.SUCCESS: 'success', ExitCode.FILE_ERRORS: 'errors',
           ExitCode.FAILURE: 'failure', ExitCode.CONFIG: 'config',
           ExitCode.TERMINATED: 'terminated'}


def exit_code_of(error: BaseException | None, file_errors: int = 0) -> ExitCode:
    """The exit code of a run that ended with ``error`` (None: it finished, with
    ``file_errors`` files failed)."""
    if error is None:
        return ExitCode.FILE_ERRORS if file_errors else ExitCode.SUCCESS
    if isinstance(error, KeyboardInterrupt):
        return ExitCode.TERMINATED
    if isinstance(error, (Error, Terminated)):
        return ExitCode(error.code)
    return ExitCode.INTERNAL


def status_of(code: int, error: BaseException | None = None) -> str:
    """The status word of a run's outcome: success, errors, failure, config,
    terminated, not_ready, already_running or other."""
    return getattr(error, 'status', None) or _STATUS.get(code, 'other')


def error_text(exc: BaseException) -> str:
    """An error as a log line or a message says it: an OS error's own words, 'timed
    out', why a certificate was refused, a closed connection as such; the type name
    only when there is nothing else."""
    if isinstance(exc, TimeoutError):
        return 'timed out'
    verify_message = getattr(exc, 'verify_message', None)   # ssl.SSLCertVerificationError
    if verify_message:
        return f'certificate verification failed: {verify_message}'
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, EOFError):
        return str(exc).strip() or 'the server closed the connection'
    return str(exc).strip() or type(exc).__name__
