"""A one-line progress display on a terminal: which file, how far, how fast.

It is shown only when stderr is a terminal, so nothing of it reaches cron mails,
journals or redirected output. The line is redrawn in place, erased before a log
record goes to the same terminal and after each file; the log keeps the
permanent record.
"""

import logging
import sys
import threading
import time

from filetransfer.run.ledger import ProgressObserver

REDRAW_INTERVAL = 0.1   # seconds between redraws while a file is written
ERASE_LINE = '\r\x1b[K'


def human(count: float) -> str:
    """A byte count for people: 950 B, 1.2 MB, 3.4 GB."""
    for unit in ('B', 'kB', 'MB', 'GB', 'TB'):
        if count < 1000 or unit == 'TB':
            return f'{count:.0f} {unit}' if unit == 'B' else f'{count:.1f} {unit}'
        count /= 1000
    return ''   # not reached


class TerminalProgress(ProgressObserver):
    """Draws the progress of the current file on ``stream`` (a terminal). The log
    handlers that write to the same terminal get it through `_LogStream`, which
    erases the progress line first; `close()` gives them the terminal back."""

    def __init__(self, stream):
        self.stream = stream
        self.count = self.index = 0
        self.entry = None
        self.written = 0
        self.started = self.drawn = 0.0
        self.shown = False
        self.lock = threading.RLock()   # a line drawn and a log record written never mix
        self._handlers = _log_handlers_on(stream)
        for handler in self._handlers:
            handler.setStream(_LogStream(self))

    def start(self, entries):
        self.count, self.index = len(entries), 0

    def file_start(self, entry):
        self.index += 1
        self.entry, self.written = entry, 0
        self.started = time.monotonic()
        self._draw()

    def advance(self, count):
        self.written += count
        if time.monotonic() - self.drawn >= REDRAW_INTERVAL:
            self._draw()

    def file_end(self, entry):
        self._draw()
        self.erase()

    def erase(self) -> None:
        """Erases the line, if one is shown."""
        with self.lock:
            if self.shown:
                self._write(ERASE_LINE)
                self.shown = False

    def close(self) -> None:
        """Erases the line (also after an interruption) and gives the log handlers
        their terminal back."""
        self.erase()
        for handler in self._handlers:
            handler.setStream(self.stream)
        self._handlers = []

    def _draw(self):
        import shutil

        now = time.monotonic()
        self.drawn = now
        size = self.entry.size
        percent = 100 * self.written / size if size else 100
        seconds = now - self.started
        rate = f'  {human(self.written / seconds)}/s' if seconds > 0 and self.written else ''
        count = f'/{self.count}' if self.count else ''   # a FASP download: unknown
        text = (f'[{self.index}{count}] {self.entry.path}  {percent:3.0f}%  '
                f'{human(self.written)} of {human(size)}{rate}')
        width = shutil.get_terminal_size().columns - 1
        if len(text) > width > 0:
            text = text[:width]
        with self.lock:
            self._write(ERASE_LINE + text)
            self.shown = True

    def _write(self, text):
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):   # a closed terminal must not fail the transfer
            pass


class _LogStream:
    """The terminal as a log handler sees it while the progress line is shown: the
    line is erased before a record is written, so each record starts on a clean line."""

    def __init__(self, progress: TerminalProgress):
        self.progress = progress

    def write(self, text: str) -> int:
        with self.progress.lock:
            self.progress.erase()
            return self.progress.stream.write(text)

    def flush(self) -> None:
        self.progress.stream.flush()


def _log_handlers_on(stream) -> list[logging.StreamHandler]:
    """The log handlers (of any logger) that write to ``stream``."""
    loggers = [logging.getLogger(), *(logger for logger in
                                      logging.Logger.manager.loggerDict.values()
                                      if isinstance(logger, logging.Logger))]
    handlers = []
    for logger in loggers:
        for handler in logger.handlers:
            if (isinstance(handler, logging.StreamHandler) and handler.stream is stream
                    and handler not in handlers):
                handlers.append(handler)
    return handlers


def for_terminal(stream=None) -> TerminalProgress | None:
    """A progress display when ``stream`` (default stderr) is a terminal, else None."""
    stream = stream or sys.stderr
    try:
        is_terminal = stream.isatty()
    except (AttributeError, ValueError):
        is_terminal = False
    return TerminalProgress(stream) if is_terminal else None
