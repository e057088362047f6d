"""Mail templates: the file format, DURATION_FORMAT, the placeholders, the fallback
to the built-in template."""

import datetime
import logging

import pytest

from filetransfer import ConfigError, ConnectError, Terminated
from filetransfer.notify import template as mailtemplate
from filetransfer.notify.template import TemplateError, format_duration, parse
from filetransfer.errors import exit_code_of
from filetransfer.outcome import JobReport
from filetransfer.outcome import FileTags, JobResult

T = datetime.timedelta


def make_report(error=None, file_list=(), *, name='Job One', info='the info',
                log_file='logs/job1.log', started=datetime.datetime(2024, 3, 1, 22, 59, 58),
                seconds=3725.25, log_disabled=False):
    result = JobResult(file_list=None if file_list is None else list(file_list))
    for _, _, tag in result.file_list or ():
        if tag is FileTags.TRANSF:
            result.files_cnt += 1
        elif tag is FileTags.SRCERR:
            result.src_error_cnt += 1
        else:
            result.tgt_error_cnt += 1
    if error is not None and not isinstance(error, ConfigError):
        error.result = result          # as Job.run gives it
    return JobReport('job1', name, info, '/data/in', 'SFTP u@h:22 /out', started,
                     started + T(seconds=seconds), result, exit_code_of(error, result.error_cnt),
                     error, log_file, log_disabled, 'file:///data/in', 'sftp://h:22/out')


def test_parse_keys_case_insensitive_message_after_its_line():
    entries = parse('# a comment\n'
                    'subject: [$status] $jobname\n'
                    '\n'
                    'Status_OK :  fine  \n'
                    'STATUS_ERR: two\\nlines\n'
                    'Message: dropped\n'
                    'first line\n'
                    'SUBJECT: not a key here\n'
                    '\n'
                    'last line\n')
    assert entries == {'SUBJECT': '[$status] $jobname', 'STATUS_OK': 'fine',
                       'STATUS_ERR': 'two\nlines',
                       'MESSAGE': 'first line\nSUBJECT: not a key here\n\nlast line'}
    assert parse('MESSAGE:\nbody\n')['MESSAGE'] == 'body'
    assert parse('MESSAGE: \t\n\n  indented\n')['MESSAGE'] == 'indented'


@pytest.mark.parametrize('text,expected', [
    ('SUBJECT: x\nthis is no entry\nMESSAGE: m', "line 2: expected KEY: value"),
    ('SUBJEKT: x\nMESSAGE: m', "line 1: expected KEY: value with a KEY of DATETIME_FORMAT"),
    ('SUBJECT: x\nsubject: y\n', 'line 2: SUBJECT is given twice'),
])
def test_parse_errors_name_the_line(text, expected):
    with pytest.raises(TemplateError, match=expected):
        parse(text)


@pytest.mark.parametrize('fmt,seconds,expected', [
    ('%H:%M:%S', 3725.25, '1:2:5'),                     # plain numbers
    ('%02H:%02M:%02S.%03s', 3725.25, '01:02:05.250'),
    ('%H:%M:%S', 26 * 3600 + 1, '26:0:1'),              # the largest unit is not wrapped
    ('%M:%02S', 2 * 3600 + 5, '120:05'),
    ('%S s', 61.9, '61 s'),
    ('%D days %X', 86400 + 7384, '1 days 02:03:04'),
    ('%D d %H h', 3 * 86400 + 5 * 3600 + 59 * 60, '3 d 5 h'),
    ('%3s ms', 2.5, '2500000 ms'),                      # alone, %s is all of it in µs
    ('no codes', 5, 'no codes'),
    ('%M:%02S.%03s', -1, '0:00.000'),
])
def test_format_duration(fmt, seconds, expected):
    assert format_duration(fmt, T(seconds=seconds)) == expected


@pytest.mark.parametrize('fmt', ['%00S', '%d %S', '%q %S'])
def test_format_duration_that_cannot_be_used(fmt):
    with pytest.raises(TemplateError, match='DURATION_FORMAT: '):
        format_duration(fmt, T(seconds=1))


ALL_PLACEHOLDERS = 'MESSAGE:\n' + '\n'.join(f'{name}=${name}'
                                             for name in mailtemplate.PLACEHOLDERS)


def test_every_placeholder_of_a_run_with_file_errors():
    files = [('sub/b.txt', 'Permission denied\nmore', FileTags.SRCERR),
             ('a.txt', T(seconds=1.5), FileTags.TRANSF),
             ('c.txt', 'Is a directory', FileTags.TGTERR)]
    entries = {**mailtemplate.default_entries(), **parse(ALL_PLACEHOLDERS),
               'DATETIME_FORMAT': '%d.%m.%Y %H:%M'}
    subject, text = mailtemplate.render(entries, make_report(file_list=files))
    values = dict(line.split('=', 1) for line in text.splitlines() if '=' in line[:15])
    assert values == {
        'jobname': 'Job One', 'jobid': 'job1', 'status': 'ERROR',
        'statstr': 'Finished with errors', 'exitcode': '1',
        'starttime': '01.03.2024 22:59', 'endtime': '02.03.2024 00:02',
        'duration': '62:05.250', 'info': 'the info', 'source': 'file:///data/in',
        'target': 'sftp://h:22/out', 'logfile': 'job1.log',
        'files_cnt': '1', 'src_error_cnt': '1', 'tgt_error_cnt': '1', 'skipped_cnt': '0',
        'filelist': '= a.txt (0:01.500)', 'errormsg': '-', 'stacktrace': '-'}
    assert '= a.txt (0:01.500)\n< c.txt (Is a directory)\n> sub/b.txt (Permission denied)\n' \
        in text
    assert subject == 'Job "Job One" finished [ERROR]'


@pytest.mark.parametrize('error,status,statstr', [
    (None, 'OK', 'Finished w/o errors'),
    (ConnectError('cannot connect to sftp.example.com:22: Connection refused'), 'ERROR',
     'Failure'),
    (ConfigError('jobs/job1.cfg: [source] path: required option is missing'), 'ERROR',
     'Configuration error'),
    (Terminated('terminated by signal SIGTERM'), 'ERROR', 'Terminated'),
    (ZeroDivisionError('division by zero'), 'ERROR', 'Another error'),
])
def test_default_template_for_every_outcome(error, status, statstr):
    try:   # a raised exception carries the stack trace $stacktrace shows
        if error is not None:
            raise error
    except BaseException as raised:
        error = raised
    subject, text = mailtemplate.render(mailtemplate.default_entries(), make_report(error))
    assert subject == f'Job "Job One" finished [{status}]'
    counts = '- files transferred, - source error(s), - target error(s)' \
        if isinstance(error, ConfigError) else \
        '0 files transferred, 0 source error(s), 0 target error(s)'
    assert f'\n{statstr}:\n  {counts}\n' in text
    if error is not None:
        assert f'Error:\n  {error}\n' in text
        values = mailtemplate.values(mailtemplate.default_entries(), make_report(error))
        assert values['stacktrace'].startswith('Traceback (most recent call last):')
        assert values['stacktrace'].rstrip().endswith(str(error))
    assert text.endswith('Files (= transferred, > source error, < target error):\n  -\n')


def test_file_list_not_collected_and_no_log_file():
    _, text = mailtemplate.render(mailtemplate.default_entries(),
                                  make_report(file_list=None, log_file=None))
    assert 'Log file:  <STDERR>\n' in text and text.endswith(':\n  -\n')
    _, text = mailtemplate.render(mailtemplate.default_entries(),
                                  make_report(log_file=None, log_disabled=True))
    assert 'Log file:  -\n' in text


def test_subject_is_one_line():
    entries = {**mailtemplate.default_entries(), 'SUBJECT': '$errormsg'}
    subject, _ = mailtemplate.render(entries, make_report(ConnectError('line one\nline two')))
    assert subject == 'line one line two'


def test_unknown_placeholders_stay_as_written():
    entries = {**mailtemplate.default_entries(), 'SUBJECT': '$jobnam costs 5$ or $5 $$',
               'MESSAGE': '${jobid}: $nothing'}
    subject, text = mailtemplate.render(entries, make_report())
    assert (subject, text) == ('$jobnam costs 5$ or $5 $', 'job1: $nothing\n')


def test_custom_template_completed_from_the_default(tmp_path):
    (tmp_path / 'short').write_text('subject: $jobid $status\n', encoding='utf-8')
    entries = mailtemplate.load('short', str(tmp_path))
    assert entries == {**mailtemplate.default_entries(), 'SUBJECT': '$jobid $status'}
    assert mailtemplate.load('Default', None) == mailtemplate.default_entries()


@pytest.mark.parametrize('content,expected', [
    (None, 'No such file or directory'),
    (b'SUBJECT: \xff\xfe\n', 'not UTF-8 text'),
    (b'SUBJECT: $jobname\nnonsense\n', 'line 2: expected KEY: value'),
    (b'DURATION_FORMAT: %H hours %00S\n', 'DURATION_FORMAT: a width must be at least 1'),
])
def test_broken_template_falls_back_to_the_default_with_a_warning(tmp_path, caplog, content,
                                                                   expected):
    if content is not None:
        (tmp_path / 'mine').write_bytes(content)
    report = make_report()
    with caplog.at_level(logging.WARNING, logger='filetransfer'):
        rendered = mailtemplate.render_named('mine', str(tmp_path), report)
    assert rendered == mailtemplate.render(mailtemplate.default_entries(), report)
    [record] = caplog.records
    assert record.levelname == 'WARNING'
    assert record.getMessage().startswith("mail template 'mine' cannot be used, using the "
                                          'default template: ')
    assert expected in record.getMessage()


def test_custom_template_without_mail_cfgs_dir(caplog):
    with caplog.at_level(logging.WARNING, logger='filetransfer'):
        mailtemplate.render_named('mine', None, make_report())
    assert '[global] mail_cfgs_dir is not set' in caplog.text
