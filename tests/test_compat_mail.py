"""Notification mails as FileTransfer 0.11 sends them: its built-in subject, status
words and counts line, its DURATION_FORMAT and placeholders, addresses as
email.utils reads them, templates by path. The expected texts are 0.11's."""

import datetime
import os

import pytest

from filetransfer.notify.template import format_duration
from helpers import make_files, write_ini

T = datetime.timedelta
DAY_2_03_04 = T(days=1, hours=2, minutes=3, seconds=4.567891)


@pytest.mark.parametrize('fmt,duration,expected', [
    ('%M:%02S.%03s', T(seconds=65.25), '1:05.250'),
    ('%M:%02S.%03s', T(seconds=0.9996), '0:00.1000'),       # rounded, not carried
    ('%M:%02S.%03s', T(seconds=3725.5), '62:05.500'),
    ('%M:%02S.%03s', T(seconds=0.002), '0:00.002'),
    ('%H:%M:%S', DAY_2_03_04, '26:3:4'),
    ('%H h %S s', T(seconds=3725.5), '1 h 5 s'),            # the minutes are dropped
    ('%D d %H h', T(seconds=3725.5), '0 d 1 h'),
    ('%D %H %M %S', T(days=3, seconds=59.9999), '3 0 0 59'),
    ('%S', T(seconds=3725.5), '3725'),
    ('%M', T(days=3), '4320'),
    ('%X', T(seconds=3725.5), '01:02:05'),
    ('%Y', T(seconds=3725.5), '01:02'),
    ('%Z.%03s', T(seconds=3725.5), '62:05.500'),
    ('%s', T(seconds=5.004), '5004000'),
    ('%3s', T(0), '  0'),
    ('%S.%s', T(seconds=5.004), '5.4000'),
    ('%S.%s', T(0), '0.0'),
    ('%S.%3s', T(seconds=5.004), '5.4'),
    ('%S.%03s', T(seconds=5.004), '5.004'),
    ('%S.%8s', T(seconds=5.004), '5.400000'),
    ('%S.%08s', T(seconds=5.004), '5.00400000'),
    ('%8s', T(seconds=5.004), ' 5004000'),
    ('% 5S|', T(seconds=93784), ' 93784|'),
    ('%5S|', T(seconds=5), '    5|'),
    ('%05S|', T(seconds=5), '00005|'),
    ('%0S|', T(seconds=5), '5|'),
    ('%H:%M:%S', T(seconds=65), '0:1:5'),
    ('%%S', T(seconds=5), '%(S)d'),
    ('%M:%S %f', T(seconds=5), '0:5 %f'),
    ('%q %T', T(seconds=5), '%q %T'),
    ('100%', T(seconds=5), '100%'),
])
def test_duration_format(fmt, duration, expected):
    assert format_duration(fmt, duration) == expected


def use_mail(ws, smtpd, notify=None, global_=None, mail=None):
    ws.write_app({'global': {'collect_data': 'yes', **(global_ or {})},
                  'mail': {**smtpd.mail_section(), **(mail or {})},
                  'notify': notify or {'done': 'ops@example.com'}})


def one_mail(smtpd):
    messages = smtpd.messages
    assert len(messages) == 1, messages
    return messages[0]


def template(**entries):
    """A complete template of 0.11's twelve keys (MESSAGE last)."""
    keys = {'DATETIME_FORMAT': '%Y', 'DURATION_FORMAT': '%S', 'STAT_SUCCESS': 'S-OK',
            'STAT_ERRORS': 'S-ERR', 'STAT_FAILURE': 'S-FAIL', 'STAT_CONFIG': 'S-CONF',
            'STAT_TERMINATED': 'S-TERM', 'STAT_OTHER': 'S-OTHER', 'STATUS_OK': 'good',
            'STATUS_ERR': 'bad', 'SUBJECT': '$jobid', **entries}
    message = keys.pop('MESSAGE', '$statstr')
    return ''.join(f'{key}: {value}\n' for key, value in keys.items()) + f'MESSAGE:\n{message}\n'


def test_placeholders_not_known_stay_as_written(ws, smtpd, tmp_path):
    write_ini(tmp_path / 'mails' / 't', template(
        SUBJECT='[$status] ${jobname} $5 $unknown $$ cost 5$ $statstr'))
    make_files(ws.src, {'a.txt': 'A'})
    use_mail(ws, smtpd, {'done': 'ops@example.com', 'mail_cfg': 't'},
             {'mail_cfgs_dir': str(tmp_path / 'mails')})
    ws.write_job()
    assert ws.run('job1').returncode == 0
    assert one_mail(smtpd).subject == '[good] job1 $5 $unknown $ cost 5$ S-OK'


def test_values_of_several_lines_are_indented(ws, smtpd, tmp_path):
    write_ini(tmp_path / 'mails' / 'sub' / 't.mail', template(
        MESSAGE='info:\n    $info\nfiles:\n  $filelist\nnot at the start: $filelist\n'
                'log: $logfile'))
    make_files(ws.src, {'a.txt': 'A', 'b.txt': 'B'})
    use_mail(ws, smtpd, {'done': 'ops@example.com', 'mail_cfg': 'sub/t.mail'},
             {'mail_cfgs_dir': str(tmp_path / 'mails')})
    ws.write_job(raw=f'[job]\ninfo = first\n  second\n[source]\npath = {ws.src}\nfiles = *\n'
                     f'[target]\npath = {ws.dst}\n')
    assert ws.run('job1').returncode == 0
    text = one_mail(smtpd).text
    assert 'info:\n    first\n    second\n' in text
    assert 'files:\n  = a.txt (0)\n  = b.txt (0)\n' in text
    assert 'not at the start: = a.txt (0)\n  = b.txt (0)\n' in text   # as the line above
    assert f'log: {os.path.basename(ws.log_files()[0])}\n' in text


def test_template_by_absolute_path_needs_mail_cfgs_dir(ws, smtpd, tmp_path):
    write_ini(tmp_path / 'abs.mail', template(SUBJECT='absolute $jobid'))
    make_files(ws.src, {'a.txt': 'A'})
    use_mail(ws, smtpd, {'done': 'ops@example.com', 'mail_cfg': str(tmp_path / 'abs.mail')},
             {'mail_cfgs_dir': str(tmp_path)})
    ws.write_job()
    assert ws.run('job1').returncode == 0
    assert one_mail(smtpd).subject == 'absolute job1'
    use_mail(ws, smtpd, {'done': 'ops@example.com', 'mail_cfg': str(tmp_path / 'abs.mail')})
    assert ws.run('job1').returncode == 0
    assert smtpd.messages[1].subject == 'Job "job1" finished [OK]'
    assert 'mail_cfgs_dir is not set' in ws.log_text()


def test_a_template_with_width_0_falls_back_to_the_built_in_one(ws, smtpd, tmp_path):
    # 0.11 failed the whole run (exit 2) and sent no mail
    write_ini(tmp_path / 'mails' / 't', template(DURATION_FORMAT='%00S'))
    make_files(ws.src, {'a.txt': 'A'})
    use_mail(ws, smtpd, {'done': 'ops@example.com', 'mail_cfg': 't'},
             {'mail_cfgs_dir': str(tmp_path / 'mails')})
    ws.write_job()
    assert ws.run('job1').returncode == 0
    assert one_mail(smtpd).subject == 'Job "job1" finished [OK]'
    assert 'DURATION_FORMAT: a width must be at least 1' in ws.log_text()


def test_a_line_break_in_the_subject_is_a_space(ws, smtpd):
    make_files(ws.src, {'a.txt': 'A'})
    use_mail(ws, smtpd)
    ws.write_job(raw=f'[job]\nname = two\n  lines\n[source]\npath = {ws.src}\nfiles = *\n'
                     f'[target]\npath = {ws.dst}\n')
    assert ws.run('job1').returncode == 0
    assert one_mail(smtpd).subject == 'Job "two lines" finished [OK]'


# -- the built-in mail -----------------------------------------------------------------

@pytest.mark.parametrize('outcome,code,word,counts', [
    ('success', 0, 'Finished w/o errors', '2 files transferred, 0 source error(s), 0 target '
                                          'error(s)'),
    ('file errors', 1, 'Finished with errors', '1 files transferred, 0 source error(s), '
                                               '1 target error(s)'),
    ('failure', 2, 'Failure', '0 files transferred, 0 source error(s), 0 target error(s)'),
    ('configuration', 3, 'Configuration error', '- files transferred, - source error(s), '
                                                '- target error(s)'),
])
def test_built_in_mail_of_each_outcome(ws, smtpd, outcome, code, word, counts):
    make_files(ws.src, {'a.txt': 'A', 'b.txt': 'B'})
    use_mail(ws, smtpd)
    source = {'file errors': {'files': '*'}, 'failure': {'path': ws.src + '-missing'},
              'configuration': {'recursive': 'maybe'}}.get(outcome, {})
    if outcome == 'file errors':
        os.makedirs(os.path.join(ws.dst, 'b.txt'))
    ws.write_job(job={'name': 'Nightly'}, source=source)
    assert ws.run('job1').returncode == code
    received = one_mail(smtpd)
    name = 'job1' if outcome == 'configuration' else 'Nightly'
    assert received.subject == f'Job "{name}" finished [{"OK" if code == 0 else "ERROR"}]'
    assert f'\n{word}:\n  {counts}\n' in received.text
    if outcome == 'success':
        assert f'Source:    file://{ws.src}\n' in received.text
        assert '\n  = a.txt (0:00.' in received.text


def test_a_broken_hosts_entry_is_mailed_as_a_configuration_error(ws, smtpd):
    # 0.11 crashed here (exit 2, no mail)
    use_mail(ws, smtpd)
    write_ini(ws.hosts_cfg, {'srv': {'type': 'FTP', 'host': 'h:notaport', 'user': 'u',
                                     'password': 'p'}})
    ws.write_job(target={'host_id': 'srv'})
    assert ws.run('job1').returncode == 3
    assert '\nConfiguration error:\n' in one_mail(smtpd).text


# -- addresses --------------------------------------------------------------------------

def test_display_names_local_names_and_empty_items(ws, smtpd):
    make_files(ws.src, {'a.txt': 'A'})
    use_mail(ws, smtpd, {'done': 'Ops <ops@example.com>, root,'})
    ws.write_job()
    assert ws.run('job1').returncode == 0
    received = one_mail(smtpd)
    assert received.rcpt_tos == ['ops@example.com', 'root']
    assert received.message['To'] == 'Ops <ops@example.com>, root'


def test_an_address_read_as_another_is_refused(ws):
    ws.write_app({'notify': {'done': '"Doe, John" <jd@example.com>'}})
    ws.write_job()
    done = ws.run('job1')
    assert done.returncode == 3
    assert f'{ws.app_cfg}: [notify] done: expected comma-separated addresses' in done.stderr


@pytest.mark.parametrize('from_addr,sender', [
    ('FileTransfer <ft@example.com>', 'ft@example.com'), ('root', 'root')])
def test_from_addr_as_written(ws, smtpd, from_addr, sender):
    make_files(ws.src, {'a.txt': 'A'})
    use_mail(ws, smtpd, mail={'from_addr': from_addr})
    ws.write_job()
    assert ws.run('job1').returncode == 0
    received = one_mail(smtpd)
    assert (received.message['From'], received.mail_from) == (from_addr, sender)


def test_an_empty_mail_section_is_no_mail_server(ws):
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_app({'mail': {}, 'notify': {'done': 'ops@example.com'}})
    ws.write_job()
    assert ws.run('job1').returncode == 0
    assert ('WARNING  notification mail not sent to ops@example.com: no mail server '
            'configured') in ws.log_text()
