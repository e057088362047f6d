"""Exceptions of the public API; each carries the exit code of the command."""


class Error(Exception):
    """Base error of filetransfer."""

    code = 2


class ConfigError(Error):
    """A problem with the configuration (a file, a section or an option)."""

    code = 3


class ConnectError(Error):
    """A server (or a local directory) could not be reached or opened."""

    code = 2


class TransferError(Error):
    """A fatal problem during the transfer, e.g. a lost connection."""

    code = 2


class SingleInstanceError(Error):
    """Another instance of the job (or of its lock group) is running."""

    code = 0


class NotReadyError(Error):
    """The job's ready file is not present."""

    code = 0


class Terminated(BaseException):
    """The job was terminated by SIGTERM or Ctrl-C."""

    code = 5

    def __init__(self, *args):
        super().__init__(*(args or ("terminated",)))


def not_retryable(error: Error) -> Error:
    """Marks a ConnectError or TransferError as one that another try of the job
    cannot fix (a refused login, a wrong host key, a missing program)."""
    error.retryable = False
    return error
