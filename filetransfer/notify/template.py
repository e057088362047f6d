"""Mail templates: the file format, the placeholders, and the subject and text
of the notification mail of one job run.

A template file has one ``KEY: value`` entry per line (keys case-insensitive,
blank lines and lines starting with ``#`` ignored); ``MESSAGE:`` comes last and
runs to the end of the file. Entries a custom template leaves out are taken
from the built-in ``default`` template (``default.mail``).
"""

import datetime
import logging
import os
import re
import string
import traceback
from importlib import resources

from filetransfer.outcome import JobReport
from filetransfer.outcome import FileTags
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
NO_FILE_LIST = '(no file list: collect_data is off)'
NO_FILES = '(no files)'
NO_LOG_FILE = '(none)'


class TemplateError(ValueError):
    """A template file that cannot be used; the text says why."""


def parse(text: str) -> dict[str, str]:
    """The entries of a template file's text (keys in upper case)."""
    entries = {}
    lines = text.splitlines(keepends=True)
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
        if key == 'MESSAGE':
            first = value.lstrip(' \t')
            entries[key] = (first if first.strip() else '') + ''.join(lines[number:])
            break
        entries[key] = value.strip()
    return entries


def default_entries() -> dict[str, str]:
    """The built-in template."""
    text = resources.files(__package__).joinpath('default.mail').read_text('utf-8')
    return parse(text)


def load(name: str, mail_cfgs_dir: str | None) -> dict[str, str]:
    """The entries of the template ``name`` (a file in ``mail_cfgs_dir``), completed
    from the default template. Raises TemplateError."""
    entries = default_entries()
    if name.lower() == DEFAULT:
        return entries
    if not mail_cfgs_dir:
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


_DURATION_UNITS = {'d': 86_400_000, 'H': 3_600_000, 'M': 60_000, 'S': 1000, 'f': 1}
_DURATION_WIDTH = {'d': 1, 'H': 2, 'M': 2, 'S': 2, 'f': 3}
_CODE_RE = re.compile(r'%(.?)', re.DOTALL)


def format_duration(fmt: str, duration: datetime.timedelta) -> str:
    """Formats ``duration`` with the codes %d (days), %H (hours), %M (minutes),
    %S (seconds), %f (milliseconds) and %% (a percent sign).

    The largest unit in ``fmt`` takes the whole duration that the smaller ones
    leave (``%M:%S`` of 2 hours is ``120:00``); H, M and S have at least two
    digits, f three. Raises TemplateError for any other code.
    """
    codes = _CODE_RE.findall(fmt)
    for code in codes:
        if code != '%' and code not in _DURATION_UNITS:
            raise TemplateError(f'DURATION_FORMAT: unknown code %{code} '
                                '(use %d %H %M %S %f %%)')
    rest = max(0, duration // datetime.timedelta(milliseconds=1))
    values = {}
    for unit, size in _DURATION_UNITS.items():
        if unit in codes:
            values[unit], rest = divmod(rest, size)

    def replace(match):
        code = match.group(1)
        if code == '%':
            return '%'
        return str(values[code]).zfill(_DURATION_WIDTH[code])

    return _CODE_RE.sub(replace, fmt)


def _file_list(report: JobReport, duration_format: str) -> str:
    file_list = report.result.file_list
    if file_list is None:
        return NO_FILE_LIST
    if not file_list:
        return NO_FILES
    lines = []
    for record in file_list:
        path, info, tag = record
        if tag is FileTags.TRANSF and isinstance(info, datetime.timedelta):
            checksum = getattr(record, 'checksum', None)
            lines.append(f'{tag} {path}  {format_duration(duration_format, info)}'
                         + (f'  sha256 {checksum}' if checksum else ''))
        else:
            lines.append(f'{tag} {path}: {info}')
    return '\n'.join(lines)


_STAT_KEYS = {'success': 'STAT_SUCCESS', 'errors': 'STAT_ERRORS', 'failure': 'STAT_FAILURE',
              'config': 'STAT_CONFIG', 'terminated': 'STAT_TERMINATED', 'other': 'STAT_OTHER'}


def _error_message(report: JobReport) -> str:
    error = report.error
    if error is None:
        return ''
    if report.status == 'other':   # an unexpected exception: its type tells what happened
        return f'{type(error).__name__}: {error}'
    return str(error) or type(error).__name__


def _strftime(fmt: str, when: datetime.datetime) -> str:
    try:
        return when.strftime(fmt)
    except ValueError as exc:   # some C libraries refuse some formats
        raise TemplateError(f'DATETIME_FORMAT: {exc}') from None


def values(entries: dict[str, str], report: JobReport) -> dict[str, str]:
    """The placeholder values for one run."""
    time_format, duration_format = entries['DATETIME_FORMAT'], entries['DURATION_FORMAT']
    result, error = report.result, report.error
    return {
        'jobname': report.name,
        'jobid': report.job_id,
        'status': entries['STATUS_OK' if report.exit_code == 0 else 'STATUS_ERR'],
        'statstr': entries[_STAT_KEYS[report.status]],
        'exitcode': str(report.exit_code),
        'starttime': _strftime(time_format, report.started),
        'endtime': _strftime(time_format, report.ended),
        'duration': format_duration(duration_format, report.duration),
        'info': report.info or '',
        'source': report.source,
        'target': report.target,
        'logfile': os.path.abspath(report.log_file) if report.log_file else NO_LOG_FILE,
        'files_cnt': str(result.files_cnt),
        'src_error_cnt': str(result.src_error_cnt),
        'tgt_error_cnt': str(result.tgt_error_cnt),
        'skipped_cnt': str(result.skipped_cnt),
        'filelist': _file_list(report, duration_format),
        'errormsg': _error_message(report),
        'stacktrace': ''.join(traceback.format_exception(error)) if error else '',
    }


def _substitute(key: str, text: str, mapping: dict[str, str]) -> str:
    try:
        return string.Template(text).substitute(mapping)
    except KeyError as exc:
        raise TemplateError(f'{key}: unknown placeholder ${exc.args[0]}') from None
    except ValueError as exc:
        raise TemplateError(f'{key}: {exc} (write $$ for a dollar sign)') from None


def render(entries: dict[str, str], report: JobReport) -> tuple[str, str]:
    """The subject (one line) and the text of the mail. Raises TemplateError."""
    mapping = values(entries, report)
    subject = _substitute('SUBJECT', entries['SUBJECT'], mapping)
    text = _substitute('MESSAGE', entries['MESSAGE'], mapping)
    return ' '.join(subject.split()), text.rstrip() + '\n'


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
