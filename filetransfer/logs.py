"""Per-job logging: a log file per run in ``log_dir``, or stderr.

Handlers go on the 'filetransfer' and 'faspmanager' loggers. When the program
using the library configured logging itself, it is left alone.
"""

import datetime
import logging
import os
import sys

from filetransfer.privatedirs import make_private_dirs

LOGGER_NAMES = ('filetransfer', 'faspmanager')
_OURS = '_filetransfer_handler'


class PrivateFileHandler(logging.FileHandler):
    """A FileHandler whose file is created readable by its owner only."""

    def _open(self):
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return open(fd, self.mode, encoding=self.encoding, errors=self.errors)


def _remove_our_handlers():
    for name in LOGGER_NAMES:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if getattr(handler, _OURS, False):
                logger.removeHandler(handler)
                handler.close()


def configured_elsewhere() -> bool:
    """Whether someone else set up handlers (on the root or on our loggers)."""
    loggers = [logging.getLogger()] + [logging.getLogger(name) for name in LOGGER_NAMES]
    return any(not getattr(handler, _OURS, False)
               for logger in loggers for handler in logger.handlers)


def log_file_path(log_dir: str, job_id: str, use_subdirs: bool, now=None) -> str:
    stamp = (now or datetime.datetime.now()).strftime('%Y%m%d-%H%M%S')
    if use_subdirs:
        return os.path.join(log_dir, job_id, stamp + '.log')
    return os.path.join(log_dir, f'{job_id}_{stamp}.log')


def setup(settings, job_id: str, *, level=None, disabled=None) -> str | None:
    """Sets up logging for one run of a job from the [logging] section (schema.Logging) and the
    job's overrides. Returns the log file path, None when there is none.

    Raises OSError when the log directory cannot be created.
    """
    _remove_our_handlers()
    if configured_elsewhere():
        return None
    disabled = settings.disabled if disabled is None else disabled
    level = settings.log_level if level is None else level
    path = None
    if disabled:
        handler = logging.NullHandler()
    elif settings.log_dir:
        path = log_file_path(settings.log_dir, job_id, settings.use_subdirs)
        make_private_dirs(os.path.dirname(path))
        if not os.access(os.path.dirname(path), os.W_OK):
            raise PermissionError(13, 'Permission denied', os.path.dirname(path))
        handler = PrivateFileHandler(path, delay=True, encoding='utf-8')
    else:
        handler = logging.StreamHandler(sys.stderr)
    setattr(handler, _OURS, True)
    handler.setFormatter(formatter(settings, job_id))
    for name in LOGGER_NAMES:
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False
    return path


def formatter(settings, job_id: str | None = None) -> logging.Formatter:
    """The formatter of the [logging] section (schema.Logging): its msg_format, or
    one JSON object per line naming ``job_id``."""
    if settings.format == 'json':
        from filetransfer.jsonlog import JsonFormatter
        return JsonFormatter(job_id)
    return logging.Formatter(settings.msg_format)


def shutdown() -> None:
    """Closes the handlers this module installed."""
    _remove_our_handlers()
