"""Config files: every kind of mistake is a ConfigError naming file, section and
option; through the command it is exit 3 with that message."""

import os

import pytest

from filetransfer import ConfigError
from filetransfer import config
from filetransfer.secret import Secret
from filetransfer.config.tempnames import TempNames
from helpers import write_ini

BAD_JOB_VALUES = [
    ('source', 'recursive', 'maybe', 'expected yes/no'),
    ('source', 'delete', '2', 'expected yes/no'),
    ('target', 'temp', 'tmp', 'expected dot, ext:EXT or dir:DIR'),
    ('target', 'temp', 'ext:a:b', 'expected dot, ext:EXT or dir:DIR'),
    ('target', 'temp', 'dir:', 'expected dir:DIR with another DIR than the target'),
    ('target', 'temp', 'dir:.', 'expected dir:DIR with another DIR than the target'),
    ('target', 'path', '', 'expected a directory, got an empty value'),
    ('job', 'retries', 'two', 'expected a whole number >= 0'),
    ('job', 'single_instance', '../x', 'expected yes/no or a lock name inside locks_dir'),
    ('job', 'single_instance', '', 'expected yes/no or a lock name'),
    ('job', 'collect_data', 'sometimes', 'expected yes/no'),
    ('job', 'log_disabled', 'nah', 'expected yes/no'),
    ('notify', 'success', 'not an address', 'expected comma-separated addresses'),
    ('notify', 'done', 'a@b.c, d@', 'expected comma-separated addresses'),
    ('source', 'recursve', 'yes', "unknown option (did you mean 'recursive'?)"),
    ('target', 'host_id', 'nohost', 'no host [nohost]'),
]


@pytest.mark.parametrize('section,option,value,expected', BAD_JOB_VALUES)
def test_bad_job_value_names_file_section_option(ws, section, option, value, expected):
    job_path = ws.write_job(**{section: {option: value}})
    write_ini(ws.hosts_cfg, {'other': {'type': 'FTP', 'host': 'h', 'user': 'u',
                                       'password': 'p'}})
    app = config.load_app(ws.app_cfg)
    with pytest.raises(ConfigError) as info:
        config.load_job(app, 'job1')
    message = str(info.value)
    assert message.startswith(f'{job_path}: [{section}] {option}: ')
    assert expected in message


BAD_APP_VALUES = [
    ('global', 'collect_data', 'perhaps', 'expected yes/no'),
    ('logging', 'use_subdirs', 'x', 'expected yes/no'),
    ('logging', 'msg_format', '%(nosuchfield)s', 'expected a logging format'),
    ('logging', 'disabled', 'kind of', 'expected yes/no'),
    ('mail', 'host', 'smtp.example.com:port', 'expected name[:port]'),
    ('mail', 'host', 'smtp.example.com:70000', 'expected a port number'),
    ('mail', 'security', 'SSL', 'expected one of STARTTLS, TLS'),
    ('notify', 'error', '"Doe, John" <jd@example.com>', 'expected comma-separated addresses'),
    ('mail', 'security', '', 'expected one of STARTTLS, TLS'),
    ('global', 'job_dir', 'x', "unknown option (did you mean 'jobs_dir'?)"),
]


@pytest.mark.parametrize('section,option,value,expected', BAD_APP_VALUES)
def test_bad_app_value_names_file_section_option(ws, section, option, value, expected):
    extra = {section: {option: value}}
    if section == 'mail' and option != 'host':
        extra['mail'].update(host='localhost')
    if section == 'mail':
        extra['mail'].setdefault('from_addr', 'ft@example.com')
    ws.write_app(extra)
    with pytest.raises(ConfigError) as info:
        config.load_app(ws.app_cfg)
    message = str(info.value)
    assert message.startswith(f'{ws.app_cfg}: [{section}] {option}: ')
    assert expected in message


BAD_HOSTS = [
    ({'type': 'SCP', 'host': 'h', 'user': 'u'}, 'type', 'expected one of FTP, FTPS, SFTP, FASP'),
    ({'type': 'FTP', 'host': 'h', 'user': 'u'}, 'password', 'required option is missing'),
    ({'type': 'FTP', 'user': 'u', 'password': 'p'}, 'host', 'required option is missing'),
    ({'type': 'FTP', 'host': 'h:0', 'user': 'u', 'password': 'p'}, 'host',
     'expected a port number'),
    ({'type': 'FTP', 'host': 'h', 'user': 'u', 'password': 'p', 'timeout': 'inf'}, 'timeout',
     'expected a finite number >= 0'),
    ({'type': 'FTP', 'host': 'h', 'user': 'u', 'password': 'p', 'passive_mode': 'often'},
     'passive_mode', 'expected yes/no'),
    ({'type': 'FTP', 'host': 'h', 'user': 'u', 'password': 'p', 'bogus': 'yes'},
     'bogus', 'unknown option'),
    ({'type': 'FTP', 'host': 'h', 'user': 'u', 'password': 'p', 'key_type': 'XYZ'},
     'key_type', 'expected one of RSA, DSA, ECDSA, Ed25519'),
    ({'type': 'FTPS', 'host': 'h', 'user': 'u', 'password': 'p', 'verify_cert': 'nope'},
     'verify_cert', 'expected yes/no'),
    ({'type': 'SFTP', 'host': 'h', 'user': 'u', 'password': 'p'}, 'known_hosts',
     'required option is missing'),
    ({'type': 'SFTP', 'host': 'h', 'user': 'u', 'known_hosts': 'k'}, 'password',
     'required when no key is configured'),
    ({'type': 'SFTP', 'host': 'h', 'user': 'u', 'known_hosts': 'k', 'key_type': 'ECDSA'},
     'key_file', 'required for key_type ECDSA'),
    ({'type': 'SFTP', 'host': 'h', 'user': 'u', 'known_hosts': 'k', 'key_type': 'PGP'},
     'key_type', 'expected one of RSA, DSA, ECDSA, Ed25519'),
    ({'type': 'FASP', 'host': 'h', 'user': 'u'}, 'password', 'required when no key_file'),
    ({'type': 'FASP', 'host': 'h', 'user': 'u', 'password': 'p', 'policy': 'greedy'},
     'policy', 'expected one of fixed, high, fair, low'),
    ({'type': 'FASP', 'host': 'h', 'user': 'u', 'password': 'p', 'target_rate_kbps': '0'},
     'target_rate_kbps', 'expected a whole number > 0'),
    ({'type': 'FASP', 'host': 'h', 'user': 'u', 'password': 'p', 'udp_port': '99999'},
     'udp_port', 'expected a port number'),
    ({'type': 'FASP', 'host': 'h:33001', 'user': 'u', 'password': 'p', 'tcp_port': '22'},
     'tcp_port', 'differs from the port given in host'),
    ({'type': 'FASP', 'host': 'h', 'user': 'u', 'password': 'p', 'overwrite': 'sometimes'},
     'overwrite', 'expected one of never, always, diff, older, diff+older'),
    ({'type': 'FASP', 'host': 'h', 'user': 'u', 'password': 'p', 'resume': 'yes'},
     'resume', 'expected one of off, attributes, sparse, full'),
]


@pytest.mark.parametrize('options,option,expected', BAD_HOSTS)
def test_bad_host_names_hosts_file_section_option(ws, options, option, expected):
    write_ini(ws.hosts_cfg, {'h1': options})
    ws.write_job(target={'host_id': 'h1'})
    app = config.load_app(ws.app_cfg)
    with pytest.raises(ConfigError) as info:
        config.load_job(app, 'job1')
    message = str(info.value)
    assert message.startswith(f'{ws.hosts_cfg}: [h1] {option}: ')
    assert expected in message


def test_passwords_are_secret_and_never_repeated(ws):
    write_ini(ws.hosts_cfg, {'h1': {'type': 'FTP', 'host': 'h', 'user': 'u',
                                    'password': 'hunter2', 'timeout': 'x'}})
    ws.write_job(target={'host_id': 'h1'})
    with pytest.raises(ConfigError) as info:
        config.load_job(config.load_app(ws.app_cfg), 'job1')
    assert 'hunter2' not in str(info.value)
    write_ini(ws.hosts_cfg, {'h1': {'type': 'FTP', 'host': 'h', 'user': 'u',
                                    'password': 'hunter2'}})
    job = config.load_job(config.load_app(ws.app_cfg), 'job1')
    assert isinstance(job.target.host.password, Secret)
    assert 'hunter2' not in repr(job.target) and 'hunter2' not in str(job.target)
    assert job.target.host.password.reveal() == 'hunter2'


def test_host_defaults_and_sftp_fallbacks_from_app(ws):
    ws.write_app({'sftp': {'known_hosts': '/kh', 'key_ed25519_file': '/k',
                           'key_ed25519_pass': 'pp'}})
    write_ini(ws.hosts_cfg, {
        'ftp': {'type': 'ftps', 'host': 'ftp.example.com', 'user': 'u', 'password': 'p'},
        'sftp': {'type': 'SFTP', 'host': '[::1]:2222', 'user': 'u', 'key_type': 'ed25519'},
    })
    ws.write_job(source={'host_id': 'ftp'}, target={'host_id': 'sftp'})
    job = config.load_job(config.load_app(ws.app_cfg), 'job1')
    ftp, sftp = job.source.host, job.target.host
    assert (ftp.type, ftp.host, ftp.port) == ('FTPS', 'ftp.example.com', 21)
    assert (ftp.passive_mode, ftp.dir_a_option, ftp.keep_alive) == (True, True, 60)
    assert (ftp.encrypt_data, ftp.verify_cert, ftp.timeout) == (True, True, 0)
    assert (sftp.host, sftp.port, sftp.key_type) == ('::1', 2222, 'Ed25519')
    assert (sftp.key_file, sftp.known_hosts) == ('/k', '/kh')
    assert sftp.key_pass.reveal() == 'pp'
    assert job.target.path == ws.dst and job.target.options.host_id == 'sftp'


def test_job_defaults(ws):
    ws.write_job()
    job = config.load_job(config.load_app(ws.app_cfg), 'job1')
    assert vars(job.job) == {'name': None, 'info': None, 'collect_data': None,
                             'single_instance': False, 'ready_file': None, 'retries': 0,
                             'log_disabled': None, 'log_level': None, 'before': None,
                             'after': None, 'hook_timeout': 300.0}
    source = job.source
    assert (source.type, source.options.files, source.options.ignore) == \
        ('LOCAL', ('*',), ('.*',))
    assert (source.options.recursive, source.options.delete) == (False, False)
    assert job.target.options.temp is None


@pytest.mark.parametrize('raw,expected', [
    ('yes', True), ('On', True), ('1', True), ('TRUE', True),
    ('no', False), ('off', False), ('0', False), ('False', False), ('shared-lock', 'shared-lock'),
])
def test_single_instance_values(ws, raw, expected):
    ws.write_job(job={'single_instance': raw})
    job = config.load_job(config.load_app(ws.app_cfg), 'job1')
    assert job.job.single_instance == expected


@pytest.mark.parametrize('raw,mode,value,example', [
    ('dot', 'dot', '', 'a/.f.txt'), ('DOT', 'dot', '', 'a/.f.txt'),
    ('ext:.tmp', 'ext', '.tmp', 'a/f.txt.tmp'), ('dir:tmp/x', 'dir', 'tmp/x', 'tmp/x/a/f.txt'),
    ('ext:tmp', 'ext', '.tmp', 'a/f.txt.tmp'), ('EXT:.part', 'ext', '.part', 'a/f.txt.part'),
    ('ext:', 'ext', '.', 'a/f.txt.'), ('dir:../x', 'dir', '../x', '../x/a/f.txt'),
    ('dir:/abs/t', 'dir', '/abs/t', '/abs/t/a/f.txt'), ('dir:./t', 'dir', 't', 't/a/f.txt'),
])
def test_temp_forms(raw, mode, value, example):
    temp = TempNames.parse(raw)
    assert (temp.mode, temp.value) == (mode, value)
    assert temp.temp_path('a/f.txt') == example


def test_structure_errors(ws, tmp_path):
    path = ws.write_job(raw='[source]\npath = x\nfiles = *\n')
    app = config.load_app(ws.app_cfg)
    with pytest.raises(ConfigError, match=r'\[target\]: required section is missing'):
        config.load_job(app, 'job1')
    ws.write_job(raw='[source]\npath=x\nfiles=*\n[target]\npath=y\n[Notify]\ndone=a@b.c\n')
    with pytest.raises(ConfigError, match=r"\[Notify\]: unknown section \(did you mean 'notify'"):
        config.load_job(app, 'job1')
    ws.write_job(raw='[source]\npath=x\nfiles=*\n[target]\n')
    with pytest.raises(ConfigError, match=r'\[target\] path: required option is missing'):
        config.load_job(app, 'job1')
    ws.write_job(raw='[source]\npath=x\npath=y\nfiles=*\n[target]\npath=y\n')
    with pytest.raises(ConfigError, match=f'{path}, line 3: not a valid INI file'):
        config.load_job(app, 'job1')
    ws.write_job(raw='path = x\n')
    with pytest.raises(ConfigError, match='not a valid INI file'):
        config.load_job(app, 'job1')
    with pytest.raises(ConfigError, match='no such job file'):
        config.load_job(app, 'nojob')
    with pytest.raises(ConfigError, match='invalid job id'):
        config.load_job(app, '../job1')
    with pytest.raises(ConfigError, match='cannot read: No such file'):
        config.load_app(str(tmp_path / 'missing.cfg'))
    (tmp_path / 'latin1.cfg').write_bytes(b'[global]\njobs_dir = \xe9\n')
    with pytest.raises(ConfigError, match='not UTF-8'):
        config.load_app(str(tmp_path / 'latin1.cfg'))


@pytest.mark.parametrize('text,line,problem', [
    ('[source]\npath = x\npath = y\n', 3, "option 'path' is given twice in [source]"),
    ('[source]\npath = x\n\n[source]\n', 4, 'section [source] is given twice'),
    ('password = hunter2\n[source]\n', 1, 'expected a [section] first'),
    ('[source]\npath = x\n# note\nhunter2\n', 4,
     'expected [section], name = value or a comment'),
])
def test_ini_errors_name_the_line_not_its_text(ws, text, line, problem):
    path = ws.write_job(raw=text)
    done = ws.run('job1')
    assert done.returncode == 3
    assert f'{path}, line {line}: not a valid INI file: {problem}\n' in done.stderr
    assert 'hunter2' not in done.stderr and 'Traceback' not in done.stderr


def test_cross_file_requirements(ws):
    ws.write_job(job={'single_instance': 'yes'})
    write_ini(ws.app_cfg, {'global': {'jobs_dir': ws.jobs_dir}})
    app = config.load_app(ws.app_cfg)
    with pytest.raises(ConfigError, match=r'\[global\] locks_dir: required because .*'
                                          r'\[job\] single_instance is set'):
        config.load_job(app, 'job1')
    ws.write_job(target={'host_id': 'h'})
    with pytest.raises(ConfigError, match=r'\[global\] hosts_cfg: required because'):
        config.load_job(app, 'job1')
    write_ini(ws.app_cfg, {'global': {'jobs_dir': ws.jobs_dir},
                           'mail': {'host': 'localhost', 'user': 'u'}})
    with pytest.raises(ConfigError, match=r'\[mail\] from_addr: required option is missing'):
        config.load_app(ws.app_cfg)
    write_ini(ws.app_cfg, {'global': {'jobs_dir': ws.jobs_dir},
                           'mail': {'host': 'localhost', 'user': 'u', 'from_addr': 'a@b.c'}})
    with pytest.raises(ConfigError, match=r'\[mail\] password: user and password'):
        config.load_app(ws.app_cfg)
    write_ini(ws.app_cfg, {'gloabl': {'jobs_dir': ws.jobs_dir}})
    with pytest.raises(ConfigError, match=r"\[gloabl\]: unknown section \(did you mean 'global'"):
        config.load_app(ws.app_cfg)


def test_extra_sections_are_allowed_and_kept(ws):
    ws.write_app({'x:mine': {'a': '1'}})
    app = config.load_app(ws.app_cfg)
    assert app.extra == {'mine': {'a': '1'}}


def test_every_broken_option_exits_3_through_the_command(ws):
    """The user-facing promise: exit 3 and a message that names the option."""
    ws.write_job(source={'recursive': 'maybe'})
    done = ws.run('job1')
    assert done.returncode == 3
    assert "[source] recursive: expected yes/no, got 'maybe'" in done.stderr
    assert 'Traceback' not in done.stderr
    ws.write_app({'logging': {'use_subdirs': 'LOUD'}})
    done = ws.run('job1')
    assert done.returncode == 3
    assert f"{ws.app_cfg}: [logging] use_subdirs: expected yes/no" in done.stderr
    assert not os.path.exists(ws.dst)
