"""Configuration files read as FileTransfer 0.11 reads them: an empty value is the
empty string (not "unset"), `%` interpolation, [DEFAULT] sections. The expected
outcomes are what 0.11 did with the same files, except where
docs/migrating-from-0.11.md lists a difference."""

import os
import re

import pytest

import filetransfer
from filetransfer import ConfigError, config
from helpers import make_files, tree, write_ini
from remote import ftp_host, write_hosts


def job_text(source='', target='', extra=''):
    return (f'[source]\npath = src\nfiles = *\n{source}\n'
            f'[target]\npath = dst\n{target}\n{extra}')


# -- empty values ------------------------------------------------------------------

def test_empty_job_cfg_ext_is_no_extension(ws):
    make_files(ws.src, {'a.txt': 'A'})
    write_ini(ws.app_cfg, {'global': {'jobs_dir': ws.jobs_dir, 'job_cfg_ext': ''}})
    write_ini(os.path.join(ws.jobs_dir, 'job1'), job_text())
    assert ws.run('job1').returncode == 0
    assert tree(ws.dst) == {'a.txt': b'A'}


def test_empty_jobs_dir_is_the_working_directory(ws):
    make_files(ws.src, {'a.txt': 'A'})
    write_ini(ws.app_cfg, {'global': {'jobs_dir': ''}})
    write_ini(os.path.join(ws.root, 'job1.cfg'), job_text())
    assert ws.run('job1').returncode == 0
    assert tree(ws.dst) == {'a.txt': b'A'}


def test_empty_ignore_ignores_nothing_and_empty_files_takes_nothing(ws):
    make_files(ws.src, {'a.txt': 'A', '.h.txt': 'H'})
    ws.write_job(source={'ignore': ''})
    assert ws.run('job1').returncode == 0
    assert set(tree(ws.dst)) == {'a.txt', '.h.txt'}
    ws.write_job('job2', source={'files': ''}, target={'path': os.path.join(ws.root, 'dst2')})
    assert ws.run('job2').returncode == 0
    assert tree(os.path.join(ws.root, 'dst2')) == {}


def test_empty_log_dir_is_the_working_directory(ws):
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_app(logging={'log_dir': ''})
    ws.write_job()
    done = ws.run('job1')
    assert (done.returncode, done.stderr) == (0, '')
    [name] = os.listdir(os.path.join(ws.root, 'job1'))
    assert re.fullmatch(r'\d{8}-\d{6}\.log', name)


def test_empty_msg_format_logs_the_bare_messages(ws):
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_app(logging={'log_dir': ws.log_dir, 'msg_format': ''})
    ws.write_job()
    assert ws.run('job1').returncode == 0
    assert ws.log_text().startswith('job job1 (job1) started: ')


@pytest.mark.parametrize('file,section,option', [
    ('app', 'global', 'collect_data'), ('app', 'logging', 'use_subdirs'),
    ('app', 'logging', 'disabled'), ('app', 'mail', 'security'),
    ('job', 'job', 'collect_data'), ('job', 'job', 'single_instance'),
    ('job', 'job', 'retries'), ('job', 'job', 'log_disabled'),
    ('job', 'source', 'recursive'), ('job', 'source', 'delete'), ('job', 'target', 'temp'),
    ('job', 'target', 'path'),
    ('hosts', 'h', 'timeout'), ('hosts', 'h', 'keep_alive'), ('hosts', 'h', 'passive_mode'),
    ('hosts', 'h', 'key_type'),
])
def test_empty_values_that_are_configuration_errors(ws, file, section, option):
    app = {'global': {'jobs_dir': ws.jobs_dir, 'locks_dir': ws.locks_dir,
                      'hosts_cfg': ws.hosts_cfg}}
    job = {'source': {'path': ws.src, 'files': '*', 'host_id': 'h'},
           'target': {'path': ws.dst}}
    hosts = {'h': {'type': 'FTP', 'host': 'h', 'user': 'u', 'password': 'p'}}
    if section == 'mail':
        app['mail'] = {'host': 'localhost', 'from_addr': 'ft@example.com'}
    chosen = {'app': app, 'job': job, 'hosts': hosts}[file]
    chosen.setdefault(section, {})[option] = ''
    write_ini(ws.app_cfg, app)
    job_path = write_ini(os.path.join(ws.jobs_dir, 'job1.cfg'), job)
    write_ini(ws.hosts_cfg, hosts)
    path = {'app': ws.app_cfg, 'job': job_path, 'hosts': ws.hosts_cfg}[file]
    with pytest.raises(ConfigError, match=re.escape(f'{path}: [{section}] {option}: ')):
        config.load_job(config.load_app(ws.app_cfg), 'job1')


def test_empty_password_logs_in_anonymously(ws, ftp_server):
    server = ftp_server(user='anonymous', password='')
    make_files(ws.src, {'a.txt': 'A'})
    write_hosts(ws, srv=ftp_host(server, user='anonymous', password=''))
    ws.write_job(target={'host_id': 'srv', 'path': '/'})
    done = ws.run('job1')
    assert done.returncode == 0, done.stderr
    assert tree(server.home) == {'a.txt': b'A'}


def test_empty_mail_user_and_password_log_in(ws, smtpd_starttls, smtp_cert):
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_app({'mail': smtpd_starttls.mail_section(security='STARTTLS', user='',
                                                      password='', ca_file=smtp_cert.ca_file),
                  'notify': {'done': 'ops@example.com'}})
    ws.write_job()
    assert ws.run('job1').returncode == 0
    assert smtpd_starttls.messages == []
    assert f'{smtpd_starttls.host}:{smtpd_starttls.port}: 535 ' in ws.log_text()


def test_empty_mail_cfg_uses_the_built_in_template_with_a_warning(ws, smtpd):
    make_files(ws.src, {'a.txt': 'A'})
    os.makedirs(os.path.join(ws.root, 'mails'))
    ws.write_app({'global': {'mail_cfgs_dir': os.path.join(ws.root, 'mails')},
                  'mail': smtpd.mail_section(),
                  'notify': {'done': 'ops@example.com', 'mail_cfg': ''}})
    ws.write_job()
    assert ws.run('job1').returncode == 0
    [received] = smtpd.messages
    assert received.subject == 'Job "job1" finished [OK]'
    assert "WARNING  mail template '' cannot be used" in ws.log_text()


def test_empty_source_path_fails_and_empty_target_path_is_refused(ws):
    ws.write_job(source={'path': ''})
    done = ws.run('-v', 'job1')
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1].startswith('TransferError: ')
    job_path = ws.write_job(target={'path': ''})
    done = ws.run('job1')
    assert done.returncode == 3
    assert f'{job_path}: [target] path: expected a directory' in done.stderr


# -- % interpolation ----------------------------------------------------------------

def test_double_percent_is_a_percent_sign(ws, ftp_server):
    server = ftp_server(password='50%off')
    make_files(ws.src, {'a.txt': 'A'})
    write_hosts(ws, srv=ftp_host(server, password='50%%off'))
    ws.write_job(job={'info': '50%%off'}, target={'host_id': 'srv', 'path': 't%%1'})
    assert ws.run('job1').returncode == 0
    assert tree(server.home) == {'t%1/a.txt': b'A'}


def test_references_to_the_section_and_to_default(ws):
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job(raw=f'[DEFAULT]\nbase = {ws.src}\n[source]\nBase_files = *\n'
                     'path = %(base)s\nfiles = %(BASE_FILES)s\n'
                     '[target]\npath = %(base)s-copy\n')
    done = ws.run('job1')
    assert done.returncode == 0, done.stderr
    assert tree(ws.src + '-copy') == {'a.txt': b'A'}


@pytest.mark.parametrize('target,problem', [
    ('50%off', "'%' must be followed by '%' (a percent sign) or '(name)s' (a reference), "
               "found '%off'"),
    ('%(path)s-x', 'a %(name)s reference leads back to itself'),
    ('%(nosuch)s', 'the reference %(nosuch)s names no option of this section or of [DEFAULT]'),
])
def test_bad_interpolation_names_file_section_and_option(ws, target, problem):
    job_path = ws.write_job(target={'path': target})
    done = ws.run('job1')
    assert done.returncode == 3
    assert f'{job_path}: [target] path: {problem}' in done.stderr


def test_a_secret_is_not_repeated_by_an_interpolation_error(ws, smtpd):
    ws.write_app({'mail': smtpd.mail_section(), 'notify': {'done': 'ops@example.com'}})
    write_hosts(ws, srv={'type': 'FTP', 'host': 'h', 'user': 'u', 'password': 'se%zqxw'})
    ws.write_job(target={'host_id': 'srv'})
    done = ws.run('-vv', 'job1')
    assert done.returncode == 3
    assert f'{ws.hosts_cfg}: [srv] password: ' in done.stderr
    [received] = smtpd.messages
    for text in (done.stderr, ws.log_text(), received.text):
        assert 'zqxw' not in text


def test_msg_format_is_not_interpolated(ws):
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_app(logging={'log_dir': ws.log_dir, 'msg_format': '%(levelname)s|%(message)s'})
    ws.write_job()
    assert ws.run('job1').returncode == 0
    assert ws.log_text().startswith('INFO|job job1 (job1) started')


# -- [DEFAULT] -----------------------------------------------------------------------

def test_default_options_apply_to_the_sections_that_know_them(ws):
    make_files(ws.src, {'a.txt': 'A', 'b.csv': 'B', 'sub/c.txt': 'C'})
    ws.write_job(raw=f'[DEFAULT]\nrecursive = yes\nfiles = *.txt\npath = {ws.src}\n'
                     f'[source]\n[target]\npath = {ws.dst}\n')
    assert ws.run('job1').returncode == 0
    assert set(tree(ws.dst)) == {'a.txt', 'sub/c.txt'}


def test_default_name_applies_to_a_job_section_that_is_there(ws, smtpd):
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_app({'mail': smtpd.mail_section(), 'notify': {'done': 'ops@example.com'}})
    ws.write_job(raw='[DEFAULT]\nname = from-default\n' + job_text().replace('src', ws.src)
                 .replace('dst', ws.dst))
    ws.write_job('job2', raw='[DEFAULT]\nname = from-default\n[job]\n'
                 + job_text().replace('src', ws.src).replace('dst', ws.dst + '2'))
    assert ws.run('job1').returncode == 0 and ws.run('job2').returncode == 0
    assert [mail.subject for mail in smtpd.messages] == [
        'Job "job1" finished [OK]', 'Job "from-default" finished [OK]']


def test_a_default_option_no_section_knows_is_an_error(ws):
    job_path = ws.write_job(raw='[DEFAULT]\nuser = nobody\n' + job_text())
    done = ws.run('job1')
    assert done.returncode == 3
    assert f'{job_path}: [DEFAULT] user: unknown option' in done.stderr


def test_a_default_option_of_a_protocol_section_the_file_lacks_is_known(ws):
    """[DEFAULT] of the application file may hold an option of [sftp] without that
    section being in the file (the option then applies to no section)."""
    write_ini(ws.app_cfg, f'[DEFAULT]\nknown_hosts = /nonexistent\n'
                          f'[global]\njobs_dir = {ws.jobs_dir}\n')
    ws.write_job()
    done = ws.run('job1')
    assert done.returncode == 0, done.stderr


def test_default_login_of_the_hosts_file(ws, ftp_server):
    server = ftp_server()
    make_files(ws.src, {'a.txt': 'A'})
    write_ini(ws.hosts_cfg, f'[DEFAULT]\nuser = {server.user}\npassword = {server.password}\n'
                            f'[srv]\ntype = FTP\nhost = 127.0.0.1:{server.port}\n')
    ws.write_job(target={'host_id': 'srv', 'path': '/'})
    assert ws.run('job1').returncode == 0
    assert tree(server.home) == {'a.txt': b'A'}


def test_extra_sections_get_the_default_options_of_both_files(ws):
    write_ini(ws.app_cfg, f'[DEFAULT]\nshared = from-app\n[global]\njobs_dir = {ws.jobs_dir}\n'
                          '[x:a]\nk = 1\nboth = app\n')
    ws.write_job(raw='[DEFAULT]\njobdefault = jd\n' + job_text()
                 + '[x:a]\nboth = job\n[x:b]\nref = %(jobdefault)s!\n')
    _, extra = filetransfer.configure(ws.app_cfg, 'job1')
    assert {name: dict(extra[name]) for name in extra.sections()} == {
        'a': {'shared': 'from-app', 'jobdefault': 'jd', 'k': '1', 'both': 'job'},
        'b': {'shared': 'from-app', 'jobdefault': 'jd', 'ref': 'jd!'}}
