"""Mail templates: the file format, the placeholders, and the subject and text
of the notification mail of one job run, as FileTransfer 0.11 makes them.

A template file has one ``KEY: value`` entry per line (keys case-insensitive, values
stripped, a ``\\n`` in a value is a line break); ``MESSAGE:`` comes last, and the
lines after it are the message. Blank lines and lines starting with ``#`` are
skipped, and entries a custom template leaves out are taken from the built-in
``default`` template (``default.mail``).

Subject and message are `string.Template` texts filled in leniently: a ``$name`` that
is no placeholder (or ``$5``, a lone ``$``) stays as written; ``$$`` is a ``$``.
"""

import datetime
import logging
import os
import re
import string
import textwrap
import traceback
from importlib import resources

from filetransfer.outcome import FileTags, JobReport
from filetransfer.smallfile import read_small_text

log = logging.getLogger('filetransfer.notify')

DEFAULT = 'default'
KEYS = ('DATETIME_FORMAT', 'DURATION_FORMAT', 'STAT_SUCCESS', 'STAT_ERRORS', 'STAT_FAILURE',
        'STAT_CONFIG', 'STAT_TERMINATED', 'STAT_OTHER', 'STATUS_OK', 'STATUS_ERR',
        'SUBJECT', 'MESSAGE')
PLACEHOLDERS = ('jobname', 'jobid', 'status', 'statstr', 'exitcode', 'starttime', 'endtime',
                'duration', 'info', 'source', 'target', 'logfile', 'files_cnt',
                'src_error_cnt', 'tgt_error_cnt', 'skipped_cnt', 'filelist', 'errormsg',
                'stacktrace')
# Values of several lines: when a line of the message starts with one of these, its
# other lines are indented as far as the placeholder.
INDENTED = ('info', 'errormsg', 'stacktrace', 'filelist')
NOTHING = '-'                 # a value that is not there (no info, no error, no file)
LOG_TO_STDERR = '<STDERR>'


class TemplateError(ValueError):
    """A template file that cannot be used; the text says why."""


def _value(text: str) -> str:
    return text.replace('\\n', '\n').strip()


def parse(text: str) -> dict[str, str]:
    """The entries of a template file's text (keys in upper case)."""
    entries = {}
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith('#'):
            continue
        key, colon, value = line.partition(':')
        key = key.strip().upper()
        if not colon or key not in KEYS:
            raise TemplateError(f'line {number}: expected KEY: value with a KEY of '
                                f'{", ".join(KEYS)}, got {line.strip()[:40]!r}')
        if key in entries:
            raise TemplateError(f'line {number}: {key} is given twice')
        if key == 'MESSAGE':     # the lines that follow; the rest of this one is dropped
            entries[key] = _value('\n'.join(lines[number:]))
            break
        entries[key] = _value(value)
    return entries


def default_entries() -> dict[str, str]:
    """The built-in template."""
    text = resources.files(__package__).joinpath('default.mail').read_text('utf-8')
    return parse(text)


def load(name: str, mail_cfgs_dir: str | None) -> dict[str, str]:
    """The entries of the template ``name`` (a path relative to ``mail_cfgs_dir``, or
    absolute), completed from the default template. Raises TemplateError."""
    entries = default_entries()
    if name.lower() == DEFAULT:
        return entries
    if not name:
        raise TemplateError('mail_cfg is empty')
    if mail_cfgs_dir is None:
        raise TemplateError('[global] mail_cfgs_dir is not set')
    path = os.path.join(mail_cfgs_dir, name)
    try:
        text = read_small_text(path)
    except OSError as exc:
        raise TemplateError(f'{path}: {exc.strerror or exc}') from None
    except UnicodeDecodeError:
        raise TemplateError(f'{path}: not UTF-8 text') from None
    try:
        entries.update(parse(text))
    except TemplateError as exc:
        raise TemplateError(f'{path}: {exc}') from None
    return entries


# DURATION_FORMAT: '%', a flag ('0' or ' '), a width, and D (days), H (hours),
# M (minutes), S (seconds) or s (microseconds); %X, %Y and %Z are shorthands.
_SHORTHANDS = (('%X', '%02H:%02M:%02S'), ('%Y', '%02H:%02M'), ('%Z', '%02M:%02S'))
_CODE_RE = re.compile(r'%([0 ]?)(\d*)([DHMSs])')
_UNITS = 'sSMHD'             # from the smallest


def _unit_values(largest: str, duration: datetime.timedelta) -> dict[str, int]:
    """Each unit's number: the largest unit of the format takes the whole rest of the
    duration, every smaller one its remainder (a unit left out between them is
    dropped, not carried into the next smaller one)."""
    days, seconds, micros = duration.days, duration.seconds, duration.microseconds
    values = {'D': 0, 'H': 0, 'M': 0, 'S': 0, 's': micros}
    if largest == 's':
        values['s'] = (days * 86_400 + seconds) * 1_000_000 + micros
    elif largest == 'S':
        values['S'] = days * 86_400 + seconds
    else:
        minutes, values['S'] = divmod(seconds, 60)
        if largest == 'M':
            values['M'] = days * 1440 + minutes
        else:
            hours, values['M'] = divmod(minutes, 60)
            if largest == 'H':
                values['H'] = days * 24 + hours
            else:
                values['H'], values['D'] = hours, days
    return values


def format_duration(fmt: str, duration: datetime.timedelta) -> str:
    """Formats ``duration`` by FileTransfer 0.11's DURATION_FORMAT rule.

    A number is plain, or padded to the width with spaces (zeros with the flag
    ``0``). ``%s`` is the microseconds, or with a width w below 6 the fraction in
    units of 10^-w s, rounded (``%03s``: milliseconds). The text before a code goes
    through Python's %-formatting with it, so ``%%S`` gives ``%(S)d``. Raises
    TemplateError where 0.11 would fail (a width of 0, a stray % before a code).
    """
    for short, long in _SHORTHANDS:
        fmt = fmt.replace(short, long)
    codes = list(_CODE_RE.finditer(fmt))
    if any(width and int(width) < 1 for _, width, _ in (code.groups() for code in codes)):
        raise TemplateError('DURATION_FORMAT: a width must be at least 1')
    largest = max((code[3] for code in codes), key=_UNITS.index, default='s')
    values = _unit_values(largest, max(duration, datetime.timedelta(0)))
    pieces, end = [], 0
    try:
        for code in codes:
            text, (flag, width, unit) = fmt[end:code.start()], code.groups()
            if unit == 's' and largest != 's':
                number = round(float(values['s']) / 10 ** (6 - int(width) if width else 0))
                pieces.append(text + (f'%{flag}{width}d' % number if flag else str(number)))
            else:
                pieces.append(f'{text}%({unit}){flag}{width}d' % values)
            end = code.end()
    except (TypeError, ValueError, KeyError) as exc:
        raise TemplateError(f'DURATION_FORMAT: {exc}') from None
    return ''.join(pieces) + fmt[end:]


def _file_list(report: JobReport, duration_format: str) -> str:
    file_list = report.result.file_list
    if not file_list:
        return NOTHING
    lines = []
    for record in sorted(file_list, key=lambda record: record[0]):
        path, info, tag = record
        if tag is FileTags.TRANSF and isinstance(info, datetime.timedelta):
            shown = format_duration(duration_format, info)
            checksum = getattr(record, 'checksum', None)
            if checksum:
                shown += f', sha256 {checksum}'
        else:
            shown = (str(info).splitlines() or [''])[0]
        lines.append(f'{tag} {path} ({shown})')
    return '\n'.join(lines)


_STAT_KEYS = {'success': 'STAT_SUCCESS', 'errors': 'STAT_ERRORS', 'failure': 'STAT_FAILURE',
              'config': 'STAT_CONFIG', 'terminated': 'STAT_TERMINATED', 'other': 'STAT_OTHER'}


def _strftime(fmt: str, when: datetime.datetime) -> str:
    try:
        return when.strftime(fmt)
    except ValueError as exc:   # some C libraries refuse some formats
        raise TemplateError(f'DATETIME_FORMAT: {exc}') from None


def _log_file(report: JobReport) -> str:
    if report.log_file:
        return os.path.basename(report.log_file)
    return NOTHING if report.log_disabled else LOG_TO_STDERR


def values(entries: dict[str, str], report: JobReport) -> dict[str, str]:
    """The placeholder values for one run."""
    time_format, duration_format = entries['DATETIME_FORMAT'], entries['DURATION_FORMAT']
    result, error = report.result, report.error
    # a run that ended with an error has the counts reached so far; a configuration
    # error found before the run has none
    counted = error is None or hasattr(error, 'result')
    return {
        'jobname': report.name,
        'jobid': report.job_id,
        'status': entries['STATUS_OK' if report.exit_code == 0 else 'STATUS_ERR'],
        'statstr': entries[_STAT_KEYS[report.status]],
        'exitcode': str(report.exit_code),
        'starttime': _strftime(time_format, report.started),
        'endtime': _strftime(time_format, report.ended),
        'duration': format_duration(duration_format, report.duration),
        'info': report.info or NOTHING,
        'source': report.source_url or NOTHING,
        'target': report.target_url or NOTHING,
        'logfile': _log_file(report),
        'files_cnt': str(result.files_cnt) if counted else NOTHING,
        'src_error_cnt': str(result.src_error_cnt) if counted else NOTHING,
        'tgt_error_cnt': str(result.tgt_error_cnt) if counted else NOTHING,
        'skipped_cnt': str(result.skipped_cnt) if counted else NOTHING,
        'filelist': _file_list(report, duration_format) if counted else NOTHING,
        'errormsg': NOTHING if error is None else (str(error).strip() and str(error)
                                                   or type(error).__name__),
        'stacktrace': ''.join(traceback.format_exception(error)) if error else NOTHING,
    }


def _indent(message: str, mapping: dict[str, str]) -> None:
    """Indents the continuation lines of the values of INDENTED placeholders that
    start a line of ``message`` as far as the placeholder."""
    for line in message.splitlines():
        for name in INDENTED:
            if line.lstrip().startswith('$' + name):
                column = ' ' * line.index('$')
                mapping[name] = textwrap.indent(mapping[name], column).lstrip(' ')


def render(entries: dict[str, str], report: JobReport) -> tuple[str, str]:
    """The subject (one line) and the text of the mail. Raises TemplateError."""
    mapping = values(entries, report)
    subject = string.Template(entries['SUBJECT']).safe_substitute(mapping)
    _indent(entries['MESSAGE'], mapping)
    text = string.Template(entries['MESSAGE']).safe_substitute(mapping)
    return re.sub(r'[\r\n]+', ' ', subject), text.rstrip() + '\n'


def render_named(name: str, mail_cfgs_dir: str | None, report: JobReport) -> tuple[str, str]:
    """Renders the template ``name``; a missing or broken one is logged as a
    warning and the default template is used instead."""
    if name.lower() != DEFAULT:
        try:
            return render(load(name, mail_cfgs_dir), report)
        except TemplateError as exc:
            log.warning('mail template %r cannot be used, using the default template: %s',
                        name, exc)
    return render(default_entries(), report)
