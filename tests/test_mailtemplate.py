"""Mail templates: the file format, DURATION_FORMAT, the placeholders, the fallback
to the built-in template."""

import datetime
import logging
import os

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
                seconds=3725.25):
    result = JobResult(file_list=None if file_list is None else list(file_list))
    for _, _, tag in result.file_list or ():
        if tag is FileTags.TRANSF:
            result.files_cnt += 1
        elif tag is FileTags.SRCERR:
            result.src_error_cnt += 1
        else:
            result.tgt_error_cnt += 1
    return JobReport('job1', name, info, '/data/in', 'SFTP u@h:22 /out', started,
                     started + T(seconds=seconds), result, exit_code_of(error, result.error_cnt), error,
                     log_file)


def test_parse_keys_case_insensitive_message_last_to_the_end():
    entries = parse('# a comment\n'
                    'subject: [$status] $jobname\n'
                    '\n'
                    'Status_OK :  fine  \n'
                    'Message: first line\n'
                    'SUBJECT: not a key here\n'
                    '\n'
                    'last line\n')
    assert entries == {'SUBJECT': '[$status] $jobname', 'STATUS_OK': 'fine',
                       'MESSAGE': 'first line\nSUBJECT: not a key here\n\nlast line\n'}
    assert parse('MESSAGE:\nbody\n')['MESSAGE'] == 'body\n'
    assert parse('MESSAGE: \t\n\n  indented\n')['MESSAGE'] == '\n  indented\n'


@pytest.mark.parametrize('text,expected', [
    ('SUBJECT: x\nthis is no entry\nMESSAGE: m', "line 2: expected KEY: value"),
    ('SUBJEKT: x\nMESSAGE: m', "line 1: expected KEY: value with a KEY of DATETIME_FORMAT"),
    ('SUBJECT: x\nsubject: y\n', 'line 2: SUBJECT is given twice'),
])
def test_parse_errors_name_the_line(text, expected):
    with pytest.raises(TemplateError, match=expected):
        parse(text)


@pytest.mark.parametrize('fmt,seconds,expected', [
    ('%H:%M:%S', 3725.25, '01:02:05'),
    ('%H:%M:%S.%f', 3725.25, '01:02:05.250'),
    ('%H:%M:%S', 26 * 3600 + 1, '26:00:01'),            # the largest unit is not wrapped
    ('%M:%S', 2 * 3600 + 5, '120:05'),
    ('%S s', 61.9, '61 s'),
    ('%S.%f s', 0.0421, '00.042 s'),
    ('%d days %H:%M:%S', 86400 + 7384, '1 days 02:03:04'),
    ('%d d %H h', 3 * 86400 + 5 * 3600 + 59 * 60, '3 d 05 h'),
    ('%H h %S s', 3725, '01 h 125 s'),                  # without %M, seconds take its part
    ('%f ms', 2.5, '2500 ms'),
    ('100%% in %S s', 3, '100% in 03 s'),
    ('no codes', 5, 'no codes'),
    ('%H:%M:%S', -1, '00:00:00'),
])
def test_format_duration(fmt, seconds, expected):
    assert format_duration(fmt, T(seconds=seconds)) == expected


@pytest.mark.parametrize('fmt', ['%H:%M:%Y', '%s', 'ends with %', '%j'])
def test_format_duration_unknown_code(fmt):
    with pytest.raises(TemplateError, match='DURATION_FORMAT: unknown code'):
        format_duration(fmt, T(seconds=1))


ALL_PLACEHOLDERS = 'MESSAGE:\n' + '\n'.join(f'{name}=${name}'
                                             for name in mailtemplate.PLACEHOLDERS)


def test_every_placeholder_of_a_run_with_file_errors():
    files = [('a.txt', T(seconds=1.5), FileTags.TRANSF),
             ('sub/b.txt', 'Permission denied', FileTags.SRCERR),
             ('c.txt', 'Is a directory', FileTags.TGTERR)]
    entries = {**mailtemplate.default_entries(), **parse(ALL_PLACEHOLDERS),
               'DATETIME_FORMAT': '%d.%m.%Y %H:%M'}
    subject, text = mailtemplate.render(entries, make_report(file_list=files))
    values = dict(line.split('=', 1) for line in text.splitlines() if '=' in line[:15])
    assert values == {
        'jobname': 'Job One', 'jobid': 'job1', 'status': 'ERROR',
        'statstr': 'finished with file errors', 'exitcode': '1',
        'starttime': '01.03.2024 22:59', 'endtime': '02.03.2024 00:02',
        'duration': '01:02:05.250', 'info': 'the info', 'source': '/data/in',
        'target': 'SFTP u@h:22 /out', 'logfile': os.path.abspath('logs/job1.log'),
        'files_cnt': '1', 'src_error_cnt': '1', 'tgt_error_cnt': '1', 'skipped_cnt': '0',
        'filelist': '= a.txt  00:00:01.500', 'errormsg': '', 'stacktrace': ''}
    assert '> sub/b.txt: Permission denied\n< c.txt: Is a directory\n' in text
    assert subject == '[ERROR] Job One: finished with file errors'


@pytest.mark.parametrize('error,status,statstr', [
    (None, 'OK', 'finished successfully'),
    (ConnectError('cannot connect to sftp.example.com:22: Connection refused'), 'ERROR',
     'failed'),
    (ConfigError('jobs/job1.cfg: [source] path: required option is missing'), 'ERROR',
     'configuration error'),
    (Terminated('terminated by signal SIGTERM'), 'ERROR', 'terminated'),
    (ZeroDivisionError('division by zero'), 'ERROR', 'internal error'),
])
def test_default_template_for_every_outcome(error, status, statstr):
    try:   # a raised exception carries the stack trace $stacktrace shows
        if error is not None:
            raise error
    except BaseException as raised:
        error = raised
    subject, text = mailtemplate.render(mailtemplate.default_entries(), make_report(error))
    assert subject == f'[{status}] Job One: {statstr}'
    assert f'Status:       {statstr} (exit code {exit_code_of(error)})' in text
    if error is not None:
        shown = str(error) if statstr != 'internal error' else f'ZeroDivisionError: {error}'
        assert f'Error:        {shown}\n' in text
        values = mailtemplate.values(mailtemplate.default_entries(), make_report(error))
        assert values['stacktrace'].startswith('Traceback (most recent call last):')
        assert values['stacktrace'].rstrip().endswith(str(error))
    assert text.endswith('(no files)\n')


def test_file_list_not_collected_and_no_log_file():
    _, text = mailtemplate.render(mailtemplate.default_entries(),
                                  make_report(file_list=None, log_file=None))
    assert 'Log file:     (none)\n' in text
    assert text.endswith('(no file list: collect_data is off)\n')


def test_subject_is_one_line():
    entries = {**mailtemplate.default_entries(), 'SUBJECT': '$errormsg'}
    subject, _ = mailtemplate.render(entries, make_report(ConnectError('line one\nline two')))
    assert subject == 'line one line two'


def test_custom_template_completed_from_the_default(tmp_path):
    (tmp_path / 'short').write_text('subject: $jobid $status\n', encoding='utf-8')
    entries = mailtemplate.load('short', str(tmp_path))
    assert entries == {**mailtemplate.default_entries(), 'SUBJECT': '$jobid $status'}
    assert mailtemplate.load('Default', None) == mailtemplate.default_entries()


@pytest.mark.parametrize('content,expected', [
    (None, 'No such file or directory'),
    (b'SUBJECT: \xff\xfe\n', 'not UTF-8 text'),
    (b'SUBJECT: $jobname\nnonsense\n', 'line 2: expected KEY: value'),
    (b'SUBJECT: $jobnam\n', 'SUBJECT: unknown placeholder $jobnam'),
    (b'MESSAGE: costs 5$\n', 'MESSAGE: Invalid placeholder in string'),
    (b'DURATION_FORMAT: %H hours %q\n', 'DURATION_FORMAT: unknown code %q'),
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
