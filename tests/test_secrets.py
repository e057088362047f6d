"""Passwords, key passphrases and the tokens in ping and webhook URLs: never in the log
(at DEBUG), in -vv output (messages and stack traces), in --json, in the mail, in
ascp's argv or in any file the run writes; configuration files that hold one and can
be read by other users produce a warning; log, lock and journal files are created
readable by their owner only."""

import os
import stat
import subprocess

import pytest

from fasp_helpers import AscpWrapper
from helpers import command_argv, make_files, tree
from remote import ftp_host, sftp_host, write_hosts
from servers.common import free_port
from servers.smtpd import PASSWORD as MAIL_PASSWORD, USER as MAIL_USER


def everything_written(ws, done, *servers) -> str:
    """All a run showed or left: stdout, stderr, the log, mails, files it wrote."""
    texts = [done.stdout, done.stderr, ws.log_text()]
    for server in servers:
        texts.extend(message.data.decode('utf-8', 'replace') for message in server.messages)
    for folder in (ws.locks_dir, ws.dst, ws.log_dir):
        if os.path.isdir(folder):
            texts.extend(data.decode('utf-8', 'replace') for data in tree(folder).values())
    return '\n'.join(texts)


def debug_with_mail(ws, smtpd_starttls, smtp_cert, password=MAIL_PASSWORD):
    ws.write_app({'mail': smtpd_starttls.mail_section(security='STARTTLS',
                                                      ca_file=smtp_cert.ca_file,
                                                      user=MAIL_USER, password=password),
                  'notify': {'done': 'ops@example.com'}, 'global': {'collect_data': 'yes'}},
                 logging={'log_dir': ws.log_dir, 'log_level': 'DEBUG'})


def test_sftp_and_ftps_passwords_and_the_mail_password(ws, tmp_path, live_sshd, password_user,
                                                       ftp_server, smtpd_starttls, smtp_cert):
    name, password, home = password_user
    server = ftp_server(tls=True)
    remote = os.path.join(home, f'secrets-{os.getpid()}-{id(ws)}')
    make_files(remote, {'a.txt': 'A', 'b.txt': 'B'})
    debug_with_mail(ws, smtpd_starttls, smtp_cert)
    ws.write_job(source={'host_id': 'sftp', 'path': remote},
                 target={'host_id': 'ftps', 'path': 'in', 'temp': 'dot'})
    hosts = {'sftp': sftp_host(live_sshd, user=name, password=password, key_file=None),
             'ftps': ftp_host(server)}
    write_hosts(ws, **hosts)
    done = ws.run('-vv', '--json', 'job1')
    assert done.returncode == 0, done.stderr
    assert len(smtpd_starttls.messages) == 1
    shown = everything_written(ws, done, smtpd_starttls)
    for secret in (password, server.password, MAIL_PASSWORD):
        assert secret not in shown

    for host_id, key in (('sftp', password), ('ftps', server.password)):   # refused logins
        wrong = f'{key}-Wrong'
        write_hosts(ws, **{**hosts, host_id: {**hosts[host_id], 'password': wrong}})
        smtpd_starttls.clear()
        done = ws.run('-vv', '--json', 'job1')
        assert done.returncode == 2 and 'Traceback' in done.stderr, done.stderr
        assert 'login failed' in done.stderr or 'authentication failed' in done.stderr
        shown = everything_written(ws, done, smtpd_starttls)
        assert smtpd_starttls.messages and 'Traceback' in shown      # the mail has the trace
        for secret in (wrong, password, server.password, MAIL_PASSWORD):
            assert secret not in shown

    wrong = 'Mail-Wrong-Secret'                        # a refused mail login
    debug_with_mail(ws, smtpd_starttls, smtp_cert, password=wrong)
    write_hosts(ws, **hosts)
    done = ws.run('-vv', 'job1')
    assert done.returncode == 0 and 'notification mail to ops@example.com not sent' in \
        ws.log_text()
    assert wrong not in everything_written(ws, done)


@pytest.fixture
def encrypted_key(live_sshd, tmp_path):
    path = str(tmp_path / 'id_encrypted')
    with open(live_sshd.client_keys['ed25519'], 'rb') as fh, open(path, 'wb') as out:
        out.write(fh.read())
    os.chmod(path, 0o600)
    passphrase = 'Key-Passphrase-' + os.urandom(4).hex()
    subprocess.run(['ssh-keygen', '-q', '-p', '-P', '', '-N', passphrase, '-f', path],
                   check=True, capture_output=True)
    return path, passphrase


@pytest.mark.parametrize('kind', ['SFTP', 'FASP'])
def test_key_passphrases_and_fasp_passwords(ws, tmp_path, live_sshd, encrypted_key, kind):
    path, passphrase = encrypted_key
    remote = str(tmp_path / 'remote')
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_app(logging={'log_dir': ws.log_dir, 'log_level': 'DEBUG'})
    ws.write_job(target={'host_id': 'srv', 'path': remote,
                         'temp': 'ext:.part' if kind == 'FASP' else 'dot'})
    wrapper = AscpWrapper(tmp_path)
    host = sftp_host(live_sshd, key_file=path, key_pass=passphrase)
    if kind == 'FASP':
        host = {'type': 'FASP', 'host': f'{live_sshd.host}:{live_sshd.port}',
                'user': live_sshd.user, 'key_file': path, 'key_pass': passphrase,
                'ascp_path': wrapper.path, 'target_rate_kbps': '800000',
                'remote_commands': 'sftp'}
    for key_pass, code in ((passphrase, 0), (f'{passphrase}-Wrong', 2)):
        write_hosts(ws, srv={**host, 'key_pass': key_pass})
        done = ws.run('-vv', '--json', 'job1')
        assert done.returncode == code, done.stderr
        shown = everything_written(ws, done)
        assert passphrase not in shown
    assert tree(remote) == {'a.txt': b'A'}
    if kind == 'FASP':
        [run] = wrapper.runs                  # the wrong passphrase never got to ascp
        assert run['password'] == passphrase and not any(passphrase in arg
                                                         for arg in run['argv'])


# -- files holding secrets, files written --------------------------------------------

def test_a_hosts_file_with_a_password_readable_by_others_is_a_warning(ws, ftp_server):
    server = ftp_server()
    make_files(ws.src, {'a.txt': 'A'})
    write_hosts(ws, srv=ftp_host(server))
    ws.write_job(target={'host_id': 'srv', 'path': 'in'})
    for mode, warned in ((0o644, True), (0o640, True), (0o600, False)):
        os.chmod(ws.hosts_cfg, mode)
        assert ws.run('job1').returncode == 0
        log = ws.log_text()
        os.unlink(ws.log_files()[-1])
        expected = f'{ws.hosts_cfg} holds a password, passphrase or token and can be ' \
                   f'read by other users than its owner (mode {mode:04o}); make it ' \
                   f'private: chmod 600 {ws.hosts_cfg}'
        assert (expected in log) == warned, log
        assert server.password not in log
    os.chmod(ws.hosts_cfg, 0o644)                    # a local job does not read the hosts
    ws.write_job()
    assert ws.run('job1').returncode == 0
    assert 'holds a password' not in ws.log_text()


def test_an_application_file_with_a_password_readable_by_others_is_a_warning(ws):
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job()
    ws.write_app({'mail': {'host': '127.0.0.1:1', 'from_addr': 'f@example.com', 'user': 'u',
                           'password': 'Mail-Secret-1', 'timeout': '1'}})
    for mode, warned in ((0o604, True), (0o600, False)):
        os.chmod(ws.app_cfg, mode)
        assert ws.run('job1').returncode == 0
        log = ws.log_text()
        os.unlink(ws.log_files()[-1])
        assert (f'{ws.app_cfg} holds a password, passphrase or token' in log) == warned
    ws.write_app()                                  # no secret, no warning
    os.chmod(ws.app_cfg, 0o644)
    assert ws.run('job1').returncode == 0
    assert 'holds a password' not in ws.log_text()


def test_log_and_lock_files_are_owner_only_whatever_the_umask(ws):
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job(job={'single_instance': 'yes'})
    done = subprocess.run(['sh', '-c', 'umask 000; exec "$@"', 'sh',
                           *command_argv('-c', ws.app_cfg, 'job1')],
                          capture_output=True, text=True, cwd=ws.root)
    assert (done.returncode, done.stderr) == (0, '')
    [log] = ws.log_files()
    for path in (log, os.path.join(ws.locks_dir, 'job1.lock')):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path


def test_no_warning_and_no_log_file_while_the_ready_file_is_missing(ws, ftp_server):
    """A job polled by cron stays silent until it runs, warnings included."""
    server = ftp_server()
    write_hosts(ws, srv=ftp_host(server))
    os.chmod(ws.hosts_cfg, 0o644)
    ws.write_job(job={'ready_file': 'READY'}, target={'host_id': 'srv', 'path': 'in'})
    done = ws.run('job1')
    assert (done.returncode, done.stderr) == (0, '') and ws.log_files() == []


# -- tokens in the URLs of the ping and the webhook ------------------------------------

def test_ping_and_webhook_tokens(ws, httpd, httpsd, tls_files, smtpd):
    """The path and query of a URL hold its token: never shown, whatever happens to the
    request (sent, refused, unanswered, a certificate refused) or to the run."""
    ping_token = 'Ping-Token-' + os.urandom(4).hex()
    hook_token = 'Hook-Token-' + os.urandom(4).hex()
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job()
    ping = httpd.url(f'/{ping_token}?rid={ping_token}')
    hook = httpsd.url(f'/hooks/{hook_token}')

    def run(*args, ping_url=ping, hook_url=hook, ca_file=tls_files[0], log_format='text'):
        ws.write_app({'mail': smtpd.mail_section(), 'global': {'collect_data': 'yes'},
                      'notify': {'done': 'ops@example.com', 'ping_url': ping_url,
                                 'webhook_url': hook_url, 'ca_file': ca_file,
                                 'webhook_format': 'text', 'http_timeout': '2'}},
                     logging={'log_dir': ws.log_dir, 'log_level': 'DEBUG',
                              'format': log_format})
        smtpd.clear()
        done = ws.run('-vv', *args, 'job1')
        shown = everything_written(ws, done, smtpd)
        for token in (ping_token, hook_token):
            assert token not in shown
        assert smtpd.messages
        return done, shown

    done, _ = run('--json')                                       # sent
    assert done.returncode == 0 and len(httpd.requests) == 2 and len(httpsd.requests) == 1
    assert ping_token in httpd.requests[0].path                   # what the server got
    done, shown = run(log_format='json')
    assert done.returncode == 0
    httpd.reply(default=500)                                      # refused by the server
    done, shown = run('--json')
    assert 'HTTP 500' in shown
    done, shown = run(ca_file=tls_files[2])                       # a certificate refused
    assert 'certificate verify failed' in shown
    closed = f'http://127.0.0.1:{free_port()}/{ping_token}'       # nobody listens
    done, shown = run(ping_url=closed, hook_url=closed.replace(ping_token, hook_token))
    assert 'Connection refused' in shown
    ws.write_job(source={'path': os.path.join(ws.root, 'missing')})   # the run fails
    done, shown = run('--json')
    assert done.returncode == 2 and 'Traceback' in done.stderr

    for bad in (f'ftp://127.0.0.1/{ping_token}', f'http://127.0.0.1:99999/{ping_token}',
                f'http://user:{ping_token}@127.0.0.1/', f'http://127.0.0.1/{ping_token} x'):
        ws.write_job(notify={'ping_url': bad})                    # a configuration error
        done = ws.run('-vv', '--json', 'job1')
        checked = subprocess.run(command_argv('check', '-c', ws.app_cfg), capture_output=True,
                                 text=True, cwd=ws.root)
        assert done.returncode == checked.returncode == 3
        assert '[notify] ping_url: expected an http:// or https:// URL' in checked.stdout
        for text in (everything_written(ws, done, smtpd), checked.stdout, checked.stderr):
            assert ping_token not in text


def test_a_file_holding_a_token_readable_by_others_is_a_warning(ws, httpd):
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job(notify={'webhook_url': httpd.url('/hooks/Hook-Token')})
    os.chmod(ws.jobs_dir + '/job1.cfg', 0o644)
    assert ws.run('job1').returncode == 0
    assert f'{ws.jobs_dir}/job1.cfg holds a password, passphrase or token and can be read ' \
        'by other users' in ws.log_text()
