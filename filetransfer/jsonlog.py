"""Log lines as JSON objects (``[logging] format = json``), one per line: time,
level, job, message, and the structured fields the logging call passed with
``extra=`` (file, size, seconds, error, exit_code ...)."""

import datetime
import logging

# What every LogRecord has: anything else on a record came with ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord('', 0, '', 0, '', None, None))) | {
    'message', 'asctime'}


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON. ``job`` is the job of the log (None for
    the daemon's); a record's own ``job`` field wins."""

    def __init__(self, job: str | None = None):
        super().__init__()
        self.job = job

    def format(self, record: logging.LogRecord) -> str:
        import json   # only once a line is written: a run that logs nothing never loads it

        line = {'time': datetime.datetime.fromtimestamp(record.created).astimezone()
                .isoformat(timespec='milliseconds'),
                'level': record.levelname,
                'job': self.job,
                'message': record.getMessage()}
        for name, value in vars(record).items():
            if name not in _STANDARD and not name.startswith('_'):
                line[name] = value
        if record.exc_info:
            line['traceback'] = self.formatException(record.exc_info)
        if record.stack_info:
            line['stack'] = self.formatStack(record.stack_info)
        # ASCII: a file name that is not UTF-8 (surrogate escapes) cannot break the line
        return json.dumps(line, default=str)
