"""The ping (healthchecks.io's convention) and the webhook, through the real command
and a real HTTP(S) server: URLs, bodies, the job's settings winning, one retry, the
timeout, certificates, and a failure that changes neither the exit code nor the mail."""

import json
import os
import shutil

from filelock import FileLock

from helpers import make_files, write_ini
from servers.httpd import HANG


def notify(ws, *, mail_server=None, global_=None, **options):
    """The application config with these [notify] options (and a mail server)."""
    sections = {'notify': options, 'global': global_ or {}}
    if mail_server is not None:
        sections['mail'] = mail_server.mail_section()
        sections['notify'] = {'done': 'ops@example.com', **options}
    ws.write_app(sections)
    os.chmod(ws.app_cfg, 0o600)      # it holds tokens: others reading it would be warned of


def warnings(ws) -> list[str]:
    return [line.split('WARNING', 1)[1].strip() for line in ws.log_text().splitlines()
            if ' WARNING ' in line]


def test_ping_start_then_end_with_the_json_result(ws, httpd):
    make_files(ws.src, {'a.txt': 'A', 'b.txt': 'BB'})
    notify(ws, ping_url=httpd.url('/ping/KEY/{job_id}?create=1'))
    ws.write_job()
    done = ws.run('--json', 'job1')
    assert (done.returncode, done.stderr) == (0, '')
    start, end = httpd.requests
    assert (start.method, start.path, start.body) == ('POST', '/ping/KEY/job1/start?create=1',
                                                      b'')
    assert (end.method, end.path) == ('POST', '/ping/KEY/job1/0?create=1')
    assert end.headers['Content-Type'] == 'application/json'
    assert end.json == json.loads(done.stdout)
    assert (end.json['files_cnt'], end.json['bytes_cnt']) == (2, 3)
    assert f'ping sent to http://127.0.0.1:{httpd.port}' in ws.log_text()
    assert 'KEY' not in ws.log_text()


def test_the_job_ping_url_wins_and_the_end_names_the_exit_code(ws, httpd):
    notify(ws, ping_url=httpd.url('/app'))
    make_files(ws.src, {'a.txt': 'A', 'b.txt': 'B'})
    os.makedirs(os.path.join(ws.dst, 'b.txt'))          # a target error
    ws.write_job(notify={'ping_url': httpd.url('/job')})
    assert ws.run('job1').returncode == 1
    assert httpd.paths() == ['/job/start', '/job/1']

    httpd.clear()                            # the source cannot be opened: it never started
    ws.write_job(source={'path': os.path.join(ws.root, 'missing')},
                 notify={'ping_url': httpd.url('/job')})
    assert ws.run('job1').returncode == 2
    assert httpd.paths() == ['/job/2']

    httpd.clear()                            # a broken job file: the application's URL
    ws.write_job(raw='[source]\npath = src\n')
    assert ws.run('job1').returncode == 3
    assert httpd.paths() == ['/app/3']


def test_a_job_that_does_not_run_sends_nothing(ws, httpd):
    notify(ws, ping_url=httpd.url('/ping'), webhook_url=httpd.url('/hook'))
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job(job={'ready_file': 'go', 'single_instance': 'yes'})
    assert ws.run('job1').returncode == 0                          # not ready
    make_files(ws.src, {'go': ''})
    os.makedirs(ws.locks_dir, exist_ok=True)
    with FileLock(os.path.join(ws.locks_dir, 'job1.lock')):
        assert ws.run('job1').returncode == 0                      # already running
    assert httpd.requests == []
    assert ws.run('job1').returncode == 0                          # now it runs
    assert sorted(httpd.paths()) == ['/hook', '/ping/0', '/ping/start']


def test_a_failed_request_is_tried_once_more(ws, httpd):
    notify(ws, ping_url=httpd.url('/p'))
    ws.write_job()
    httpd.reply(503)
    assert ws.run('job1').returncode == 0
    assert httpd.paths() == ['/p/start', '/p/start', '/p/0']
    assert warnings(ws) == []


def test_a_failure_is_a_warning_the_exit_code_and_the_mail_stay(ws, httpd, smtpd):
    make_files(ws.src, {'a.txt': 'A'})
    notify(ws, mail_server=smtpd, ping_url=httpd.url('/p'), webhook_url=httpd.url('/w'))
    ws.write_job()
    httpd.reply(default=500)
    done = ws.run('job1')
    assert (done.returncode, done.stderr) == (0, '')
    assert sorted(httpd.paths()) == ['/p/0', '/p/0', '/p/start', '/p/start', '/w', '/w']
    where = f'http://127.0.0.1:{httpd.port}'
    assert sorted(warnings(ws)) == [
        f'ping start to {where} not sent: HTTP 500 Internal Server Error',
        f'ping to {where} not sent: HTTP 500 Internal Server Error',
        f'webhook to {where} not sent: HTTP 500 Internal Server Error']
    assert len(smtpd.messages) == 1
    assert ws.log_text().rstrip().splitlines()[-1].endswith('(exit code 0)')

    httpd.clear()                                         # a refusal is not tried again
    smtpd.clear()
    os.unlink(ws.log_files()[0])
    httpd.reply(default=404)
    assert ws.run('job1').returncode == 0
    assert sorted(httpd.paths()) == ['/p/0', '/p/start', '/w']
    assert f'webhook to {where} not sent: HTTP 404 Not Found' in warnings(ws)


def test_a_server_that_does_not_answer_holds_the_job_no_longer_than_http_timeout(
        ws, httpd, smtpd):
    make_files(ws.src, {'a.txt': 'A'})
    notify(ws, mail_server=smtpd, ping_url=httpd.url('/p'), webhook_url=httpd.url('/w'),
           http_timeout='1')
    ws.write_job()
    httpd.reply(default=HANG)
    done = ws.run('job1', timeout=60)
    assert (done.returncode, done.stderr) == (0, '')
    where = f'http://127.0.0.1:{httpd.port}'
    assert sorted(warnings(ws)) == [
        f'ping start to {where} not sent: no answer within 1 s (timeout)',
        f'ping to {where} not sent: no answer within 1 s (timeout)',
        f'webhook to {where} not sent: no answer within 1 s (timeout)']
    assert len(smtpd.messages) == 1                       # the mail did not wait for them
    log = ws.log_text()
    assert log.index('notification mail sent') < log.index('ping start to')
    assert tuple(sorted(httpd.paths())) in (('/p/start', '/w'), ('/p/0', '/p/start', '/w'))


def test_https_certificates_are_verified(ws, httpsd, tls_files):
    ca_file, _, other_ca = tls_files
    make_files(ws.src, {'a.txt': 'A'})
    notify(ws, ping_url=httpsd.url('/p'), ca_file=ca_file)
    ws.write_job()
    assert ws.run('job1').returncode == 0
    assert httpsd.paths() == ['/p/start', '/p/0'] and warnings(ws) == []

    for app_ca, job_notify in ((other_ca, {}), (None, {})):   # refused, and not tried again
        os.unlink(ws.log_files()[0])
        httpsd.clear()
        notify(ws, ping_url=httpsd.url('/p'), **({'ca_file': app_ca} if app_ca else {}))
        ws.write_job(notify=job_notify)
        assert ws.run('job1').returncode == 0
        assert httpsd.requests == [] and httpsd.handshake_failures == 2
        for warning in warnings(ws):
            assert warning.startswith('ping') and \
                f'https://127.0.0.1:{httpsd.port} not sent: certificate verify failed: ' \
                in warning, warning

    os.unlink(ws.log_files()[0])                          # the job's ca_file wins
    httpsd.clear()
    notify(ws, ping_url=httpsd.url('/p'), ca_file=other_ca)
    ws.write_job(notify={'ca_file': ca_file})
    assert ws.run('job1').returncode == 0
    assert httpsd.paths() == ['/p/start', '/p/0'] and warnings(ws) == []


def test_webhook_on_success_error_or_done(ws, httpd):
    notify(ws, webhook_url=httpd.url('/hook'))
    make_files(ws.src, {'a.txt': 'A'})
    for webhook_on, sent in (('success', ['ok']), ('error', ['bad']), ('done', ['ok', 'bad']),
                             (None, ['ok', 'bad'])):
        got = []
        for outcome in ('ok', 'bad'):
            httpd.clear()
            if outcome == 'bad':
                os.makedirs(os.path.join(ws.dst, 'a.txt'))     # a target error: exit 1
            ws.write_job(notify={'webhook_on': webhook_on} if webhook_on else {})
            done = ws.run('--json', 'job1')
            assert done.returncode == (0 if outcome == 'ok' else 1)
            if httpd.requests:
                [request] = httpd.requests
                assert request.path == '/hook'
                assert request.headers['Content-Type'] == 'application/json'
                assert request.json == json.loads(done.stdout)
                got.append(outcome)
            shutil.rmtree(ws.dst, ignore_errors=True)
        assert got == sent, webhook_on


def test_webhook_text_for_chat_services(ws, httpd):
    notify(ws, webhook_url=httpd.url('/hook'), webhook_format='text')
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job()
    assert ws.run('job1').returncode == 0
    [request] = httpd.requests
    assert set(request.json) == {'text'}
    subject, counts = request.json['text'].split('\n')
    assert subject == 'Job "job1" finished [OK]'      # the built-in mail template's subject
    assert counts.startswith('1 file(s) transferred, 0 source error(s), 0 target error(s) in ')

    httpd.clear()                             # a failure, and the job's own mail template
    write_ini(os.path.join(ws.root, 'mail', 'brief'), 'SUBJECT: $jobid is $statstr\n')
    notify(ws, webhook_url=httpd.url('/hook'), webhook_format='text',
           global_={'mail_cfgs_dir': os.path.join(ws.root, 'mail')})
    ws.write_job(source={'path': os.path.join(ws.root, 'missing')}, notify={'mail_cfg': 'brief'})
    assert ws.run('job1').returncode == 2
    [request] = httpd.requests
    subject, counts, error = request.json['text'].split('\n')
    assert (subject, counts[:21]) == ('job1 is Failure', '0 file(s) transferred')
    assert error.startswith('Error: ') and 'missing' in error


def test_the_end_ping_body_is_cut_to_100_kB_and_stays_json(ws, httpd):
    make_files(ws.src, {f'{number:04d}-{"x" * 200}.txt': 'x' for number in range(600)})
    notify(ws, ping_url=httpd.url('/p'), global_={'collect_data': 'yes'})
    ws.write_job()
    assert ws.run('job1').returncode == 0
    end = httpd.requests[-1]
    assert end.path == '/p/0' and 90_000 < len(end.body) <= 100_000
    data = end.json
    assert data['files_cnt'] == 600 and data['files_left_out'] > 0
    assert len(data['files']) + data['files_left_out'] == 600
