"""Notification mails through the real command and a real SMTP server (aiosmtpd):
every outcome, the recipient lists, templates, TLS, and a mail server that fails."""

import os
import signal
import socket
import subprocess
import sys

import pytest

import filetransfer
from helpers import make_files, write_ini
from procs import wait_for
from servers.smtpd import PASSWORD, USER

APP_NOTIFY = {'success': 'app-ok@example.com', 'error': 'app-err@example.com',
              'done': 'app-done@example.com'}


def use_mail(ws, server, notify=None, global_=None, **mail):
    """The workspace's application config, mailing through ``server``."""
    ws.write_app({'global': {'collect_data': 'yes', **(global_ or {})},
                  'mail': server.mail_section(**mail),
                  'notify': APP_NOTIFY if notify is None else notify})


def only_message(server):
    messages = server.messages
    assert len(messages) == 1, f'expected one message, got {len(messages)}'
    return messages[0]


def assert_proper_mime(received, to):
    message = received.message
    assert received.data.isascii()                   # 7-bit clean: any server takes it
    assert message['MIME-Version'] == '1.0'
    assert message.get_content_type() == 'text/plain'
    assert message.get_content_charset() == 'utf-8'
    assert message['From'] == 'filetransfer@example.com' == received.mail_from
    assert [str(a.addr_spec) for a in message['To'].addresses] == to == received.rcpt_tos
    assert message['Date'].datetime is not None
    assert message['Message-ID'].startswith('<') and message['Message-ID'].endswith(
        '@example.com>')


def test_success_mails_success_and_done_of_app_and_job_once_each(ws, smtpd):
    make_files(ws.src, {'a.txt': 'A', 'sub/b.csv': 'B'})
    use_mail(ws, smtpd)
    ws.write_job(source={'recursive': 'yes'},
                 notify={'success': 'job-ok@example.com, APP-OK@example.com',
                         'error': 'job-err@example.com', 'done': 'app-done@example.com'})
    done = ws.run('job1')
    assert (done.returncode, done.stderr) == (0, '')
    received = only_message(smtpd)
    assert_proper_mime(received, ['app-ok@example.com', 'app-done@example.com',
                                  'job-ok@example.com'])
    assert received.subject == 'Job "job1" finished [OK]'
    assert (received.tls, received.login) == (False, None)   # plain, no login configured
    text = received.text
    assert ('Finished w/o errors:\n  2 files transferred, 0 source error(s), 0 target '
            'error(s)\n') in text
    assert f'Source:    file://{ws.src}\nTarget:    file://{ws.dst}\n' in text
    assert f'Log file:  {os.path.basename(ws.log_files()[0])}\n' in text
    lines = text.splitlines()
    files = lines[lines.index('Files (= transferred, > source error, < target error):') + 1:]
    assert [line.split(' (')[0] for line in files] == ['  = a.txt', '  = sub/b.csv']
    log = ws.log_text()
    assert (f'notification mail sent to app-ok@example.com, app-done@example.com, '
            f'job-ok@example.com through {smtpd.host}:{smtpd.port}') in log
    assert log.rstrip().splitlines()[-1].endswith('(exit code 0)')   # still the last line


def test_file_errors_mail_error_and_done(ws, smtpd):
    make_files(ws.src, {'a.txt': 'A', 'b.txt': 'B'})
    os.makedirs(os.path.join(ws.dst, 'b.txt'))    # a directory where the file must go
    use_mail(ws, smtpd)
    ws.write_job(notify={'error': 'job-err@example.com'})
    assert ws.run('job1').returncode == 1
    received = only_message(smtpd)
    assert received.rcpt_tos == ['app-err@example.com', 'app-done@example.com',
                                 'job-err@example.com']
    assert received.subject == 'Job "job1" finished [ERROR]'
    text = received.text
    assert ('Finished with errors:\n  1 files transferred, 0 source error(s), 1 target '
            'error(s)\n') in text
    assert '\n  < b.txt (Is a directory)\n' in text
    assert '\n  = a.txt (0:00.' in text


def test_failure_mails_the_error_message(ws, smtpd):
    missing = os.path.join(ws.root, 'missing')
    use_mail(ws, smtpd)
    ws.write_job(source={'path': missing})
    done = ws.run('job1')
    assert (done.returncode, done.stderr) == (2, '')
    received = only_message(smtpd)
    assert received.rcpt_tos == ['app-err@example.com', 'app-done@example.com']
    assert received.subject == 'Job "job1" finished [ERROR]'
    lines = received.text.splitlines()
    error_line = lines[lines.index('Error:') + 1]
    assert missing in error_line and error_line.endswith('does not exist')
    assert 'Failure:\n  0 files transferred, 0 source error(s), 0 target error(s)\n' in \
        received.text
    assert received.text.endswith(':\n  -\n')


def test_sigterm_mails_terminated_once_after_several_tries(ws, smtpd):
    use_mail(ws, smtpd)
    ws.write_job(job={'retries': '5'}, source={'path': os.path.join(ws.root, 'later')})
    proc = ws.popen('job1', stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: 'trying again in 2 s' in ws.log_text(), proc=proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 5
    finally:
        proc.kill()
        proc.wait()
    received = only_message(smtpd)
    assert received.rcpt_tos == ['app-err@example.com', 'app-done@example.com']
    assert received.subject == 'Job "job1" finished [ERROR]'
    assert '\nTerminated:\n  0 files transferred,' in received.text
    assert 'Error:\n  terminated by signal SIGTERM\n' in received.text


def test_config_error_in_the_job_file_mails_the_app_recipients(ws, smtpd):
    use_mail(ws, smtpd)
    job_path = ws.write_job(source={'recursive': 'maybe'},
                            notify={'error': 'job-err@example.com'})
    done = ws.run('job1')
    assert done.returncode == 3
    received = only_message(smtpd)
    assert received.rcpt_tos == ['app-err@example.com', 'app-done@example.com']
    assert received.subject == 'Job "job1" finished [ERROR]'
    assert (f"Error:\n  {job_path}: [source] recursive: expected yes/no, got 'maybe'\n"
            in received.text)
    assert ('Configuration error:\n  - files transferred, - source error(s), - target '
            'error(s)\n') in received.text
    assert 'Source:    -\nTarget:    -\n' in received.text


def test_no_mail_without_a_readable_app_config_or_when_not_run(ws, smtpd):
    use_mail(ws, smtpd)
    with open(ws.app_cfg, 'a') as fh:
        fh.write('[global]\nstray = 1\n')
    ws.write_job()
    assert ws.run('job1').returncode == 3
    use_mail(ws, smtpd)
    ws.write_job(job={'ready_file': 'ready'})
    assert ws.run('job1').returncode == 0    # not ready: quiet
    assert smtpd.messages == []


def test_one_message_to_nobody_is_no_message(ws, smtpd):
    make_files(ws.src, {'a.txt': 'A'})
    use_mail(ws, smtpd, notify={'error': 'app-err@example.com'})
    ws.write_job()
    assert ws.run('job1').returncode == 0
    assert smtpd.messages == []
    assert 'notification' not in ws.log_text()


def test_recipients_without_a_mail_section_are_a_warning(ws):
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_app({'notify': {'done': 'ops@example.com'}})
    ws.write_job()
    assert ws.run('job1').returncode == 0
    assert (f'WARNING  notification mail not sent to ops@example.com: no mail server '
            f'configured ([mail] in {ws.app_cfg})') in ws.log_text()


def test_collect_data_off_lists_no_file(ws, smtpd):
    make_files(ws.src, {'a.txt': 'A'})
    use_mail(ws, smtpd)
    ws.write_job(job={'collect_data': 'no'})
    assert ws.run('job1').returncode == 0
    assert only_message(smtpd).text.endswith(
        'Files (= transferred, > source error, < target error):\n  -\n')


def test_non_ascii_job_name_info_and_files(ws, smtpd):
    make_files(ws.src, {'Bericht-März.txt': 'ü', 'données/été.csv': 'é'})
    use_mail(ws, smtpd)
    ws.write_job(job={'name': 'Überweisungen → Zürich', 'info': 'Täglich um 06:00 · 日本'},
                 source={'recursive': 'yes'})
    assert ws.run('job1').returncode == 0
    received = only_message(smtpd)
    assert_proper_mime(received, ['app-ok@example.com', 'app-done@example.com'])
    assert received.subject == 'Job "Überweisungen → Zürich" finished [OK]'
    text = received.text
    assert 'Job:       Überweisungen → Zürich (job1)\n' in text
    assert 'Info:\n  Täglich um 06:00 · 日本\n' in text
    assert '\n  = Bericht-März.txt (' in text and '\n  = données/été.csv (' in text


TEMPLATES = {
    'short': 'SUBJECT: short $jobid $status\nMESSAGE:\n$files_cnt file(s) in $duration\n',
    'other': 'duration_format: %S s\nsubject: other $statstr\nmessage:\n$jobname: $duration\n',
}


@pytest.mark.parametrize('app_cfg,job_cfg,subject,text', [
    ('short', None, 'short job1 OK', '1 file(s) in 0:00.'),
    ('short', 'other', 'other Finished w/o errors', 'job1: 0 s\n'),
    (None, 'other', 'other Finished w/o errors', 'job1: 0 s\n'),
    ('short', 'default', 'Job "job1" finished [OK]', 'Job:       job1 (job1)\n'),
])
def test_template_of_app_or_job_the_job_wins(ws, smtpd, app_cfg, job_cfg, subject, text):
    templates = os.path.join(ws.root, 'mail')
    for name, content in TEMPLATES.items():
        write_ini(os.path.join(templates, name), content)
    make_files(ws.src, {'a.txt': 'A'})
    use_mail(ws, smtpd, {'done': 'ops@example.com', **({'mail_cfg': app_cfg} if app_cfg else {})},
             {'mail_cfgs_dir': templates})
    ws.write_job(**({'notify': {'mail_cfg': job_cfg}} if job_cfg else {}))
    assert ws.run('job1').returncode == 0
    received = only_message(smtpd)
    assert received.subject == subject
    assert text in received.text
    assert 'WARNING' not in ws.log_text()


@pytest.mark.parametrize('content,reason', [
    (None, 'No such file or directory'),
    ('SUBJECT: $jobid\nSTATUS_OK OK\nMESSAGE: x\n', 'line 2: expected KEY: value'),
    ('DURATION_FORMAT: %00S\n', 'DURATION_FORMAT: a width must be at least 1'),
])
def test_missing_or_broken_template_falls_back_to_default(ws, smtpd, content, reason):
    templates = os.path.join(ws.root, 'mail')
    os.makedirs(templates)
    if content is not None:
        write_ini(os.path.join(templates, 'mine'), content)
    make_files(ws.src, {'a.txt': 'A'})
    use_mail(ws, smtpd, {'done': 'ops@example.com', 'mail_cfg': 'mine'},
             {'mail_cfgs_dir': templates})
    ws.write_job()
    assert ws.run('job1').returncode == 0
    assert only_message(smtpd).subject == 'Job "job1" finished [OK]'
    log = ws.log_text()
    assert "WARNING  mail template 'mine' cannot be used, using the default template: " in log
    assert reason in log


@pytest.mark.parametrize('source_ok', [True, False])
def test_unreachable_server_changes_nothing(ws, source_ok):
    with socket.socket() as closed:     # bound but not listening: connections are refused
        closed.bind(('127.0.0.1', 0))
        port = closed.getsockname()[1]
        make_files(ws.src, {'a.txt': 'A'})
        ws.write_app({'mail': {'host': f'127.0.0.1:{port}',
                               'from_addr': 'ft@example.com'},
                      'notify': {'done': 'ops@example.com'}})
        ws.write_job(source={} if source_ok else {'path': os.path.join(ws.root, 'nothere')})
        done = ws.run('job1')
    assert (done.returncode, done.stderr) == (0 if source_ok else 2, '')
    assert (f'ERROR    notification mail to ops@example.com not sent: '
            f'127.0.0.1:{port}: Connection refused') in ws.log_text()


def test_silent_server_times_out(ws):
    with socket.socket() as silent:   # accepts connections (backlog) but never greets
        silent.bind(('127.0.0.1', 0))
        silent.listen(5)
        port = silent.getsockname()[1]
        make_files(ws.src, {'a.txt': 'A'})
        ws.write_app({'mail': {'host': f'127.0.0.1:{port}',
                               'from_addr': 'ft@example.com', 'timeout': '0.5'},
                      'notify': {'done': 'ops@example.com'}})
        ws.write_job()
        done = ws.run('job1', timeout=60)
    assert (done.returncode, done.stderr) == (0, '')
    assert (f'notification mail to ops@example.com not sent: 127.0.0.1:{port}: '
            'no answer within 0.5 s (timeout)') in ws.log_text()


def test_starttls_with_the_ca_file_and_login(ws, smtpd_starttls, smtp_cert):
    make_files(ws.src, {'a.txt': 'A'})
    use_mail(ws, smtpd_starttls, security='STARTTLS', ca_file=smtp_cert.ca_file, user=USER,
             password=PASSWORD)
    ws.write_job(job={'log_level': 'DEBUG'})
    assert ws.run('job1').returncode == 0
    received = only_message(smtpd_starttls)
    assert (received.tls, received.login) == (True, USER)
    assert received.subject == 'Job "job1" finished [OK]'
    assert PASSWORD not in ws.log_text()


def test_starttls_without_login(ws, smtpd_starttls, smtp_cert):
    make_files(ws.src, {'a.txt': 'A'})
    use_mail(ws, smtpd_starttls, security='starttls', ca_file=smtp_cert.ca_file)
    ws.write_job()
    assert ws.run('job1').returncode == 0
    assert (only_message(smtpd_starttls).tls, only_message(smtpd_starttls).login) == (True, None)


def test_implicit_tls(ws, smtpd_tls, smtp_cert):
    make_files(ws.src, {'a.txt': 'A'})
    use_mail(ws, smtpd_tls, security='TLS', ca_file=smtp_cert.ca_file, user=USER,
             password=PASSWORD)
    ws.write_job()
    assert ws.run('job1').returncode == 0
    assert (only_message(smtpd_tls).tls, only_message(smtpd_tls).login) == (True, USER)


@pytest.mark.parametrize('kind', ['STARTTLS', 'TLS'])
def test_unknown_certificate_is_refused(ws, smtpd_starttls, smtpd_tls, kind):
    server = smtpd_starttls if kind == 'STARTTLS' else smtpd_tls
    make_files(ws.src, {'a.txt': 'A'})
    use_mail(ws, server, security=kind)
    ws.write_job()
    assert ws.run('job1').returncode == 0
    assert server.messages == []
    assert f'{server.host}:{server.port}: certificate verify failed: ' in ws.log_text()
    use_mail(ws, server, security=kind, verify_cert='no')   # the documented way out
    assert ws.run('job1').returncode == 0
    assert len(server.messages) == 1


def test_wrong_password_is_logged_without_the_password(ws, smtpd_starttls, smtp_cert):
    wrong = 'Wr0ng-pass-phrase'
    make_files(ws.src, {'a.txt': 'A'})
    use_mail(ws, smtpd_starttls, security='STARTTLS', ca_file=smtp_cert.ca_file, user=USER,
             password=wrong)
    ws.write_job(job={'log_level': 'DEBUG'})
    done = ws.run('-vv', 'job1')
    assert done.returncode == 0
    assert smtpd_starttls.messages == []
    log = ws.log_text()
    assert f'{smtpd_starttls.host}:{smtpd_starttls.port}: 535 ' in log
    assert wrong not in log and wrong not in done.stderr


def test_library_run_with_an_exception_mails_it(ws, smtpd):
    use_mail(ws, smtpd)
    ws.write_job()
    run, _ = filetransfer.configure(ws.app_cfg, 'job1')
    with pytest.raises(LookupError):
        run(LookupError('no input for today'))
    received = only_message(smtpd)
    assert received.subject == 'Job "job1" finished [ERROR]'
    assert 'Another error:\n  0 files transferred,' in received.text
    assert 'Error:\n  no input for today\n' in received.text


def test_smtplib_is_imported_only_to_send(ws):
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job()
    code = ('import sys, filetransfer\n'
            'before = "smtplib" in sys.modules\n'
            f'run, _ = filetransfer.configure({ws.app_cfg!r}, "job1")\n'
            'run()\n'
            'print(before, "smtplib" in sys.modules, "email.message" in sys.modules)\n')
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          cwd=ws.root)
    assert (done.stdout, done.returncode) == ('False False False\n', 0), done.stderr


def test_missing_ca_file_is_named(ws, smtpd_starttls):
    make_files(ws.src, {'a.txt': 'A'})
    missing = os.path.join(ws.root, 'no-ca.pem')
    use_mail(ws, smtpd_starttls, security='STARTTLS', ca_file=missing)
    ws.write_job()
    assert ws.run('job1').returncode == 0
    assert f'[mail] ca_file {missing}: No such file or directory' in ws.log_text()


def test_a_refused_recipient_does_not_stop_the_others(ws, smtpd):
    make_files(ws.src, {'a.txt': 'A'})
    use_mail(ws, smtpd, {'done': 'nobody@example.com, ops@example.com'})
    ws.write_job()
    assert ws.run('job1').returncode == 0
    assert only_message(smtpd).rcpt_tos == ['ops@example.com']
    log = ws.log_text()
    assert (f'WARNING  notification mail: {smtpd.host}:{smtpd.port} refused nobody@example.com: '
            '550 5.1.1 no such mailbox') in log
    use_mail(ws, smtpd, {'done': 'nobody@example.com'})
    assert ws.run('job1').returncode == 0
    assert len(smtpd.messages) == 1
    assert ('all recipients refused: nobody@example.com: 550 5.1.1 no such mailbox'
            in ws.log_text())


@pytest.mark.parametrize('section,option,value,expected', [
    ('mail', 'verify_cert', 'sometimes', 'expected yes/no'),
    ('mail', 'timeout', '0', 'expected a number > 0'),
    ('mail', 'timeout', 'soon', 'expected a number > 0'),
    ('mail', 'security', 'SSL', 'expected one of STARTTLS, TLS'),
])
def test_bad_mail_options_name_file_section_option(ws, section, option, value, expected):
    ws.write_app({'mail': {'host': 'localhost', 'from_addr': 'ft@example.com'},
                  section: {option: value}})
    with pytest.raises(filetransfer.ConfigError) as info:
        filetransfer.config.load_app(ws.app_cfg)
    assert str(info.value) == f"{ws.app_cfg}: [{section}] {option}: {expected}, got '{value}'"
