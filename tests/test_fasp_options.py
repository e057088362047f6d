"""TransferOptions, orders and finding ascp: argv spelled like real ascp, secrets only in
the environment, clear errors for bad values."""

import os
import stat

import pytest

import faspmanager as fm
from faspmanager import ascp as ascp_module
from faspmanager.testing import cmdline

# Each option with a sample value and the argv items real ascp takes for it, spelled as
# in ascp's --help, IBM's aspera-cli and IBM's Go FASP manager SDK.
# None: the option reaches ascp through the environment only.
HTTP = fm.HttpFallbackOptions(http_port=8080, https_key_filename='key.pem',
                              https_cert_filename='cert.pem', http_proxy_address_host='proxy',
                              http_proxy_address_port=3128, encode_all_as_jpeg=True)
EXPECTED = {
    'alternate_config_filename': ('/etc/alt.conf', ['-f', '/etc/alt.conf']),
    'apply_local_docroot': (True, ['--apply-local-docroot']),
    'auto_detect_capacity': (True, ['-wf']),
    'check_ssh_fingerprint': ('f74e5de9ed0d62feaf0616ed1e851133c42a0082',
                              ['--check-sshfp=f74e5de9ed0d62feaf0616ed1e851133c42a0082']),
    'chunk_size': (65536, []),        # stream orders only, see test_stream_order
    'cipher': (fm.CipherType.AES_256, ['-c', 'aes256']),
    'content_protection_passphrase': ('x', ['--file-crypt=encrypt']),
    'cookie': ('x', None),
    'create_dirs': (True, ['-d']),
    'datagram_size': (1492, ['-Z', '1492']),
    'delete_before_transfer': (True, ['--delete-before-transfer']),
    'destination_root': ('/data/in', ['/data/in']),
    'encryption': (False, ['-T']),
    'exclude_newer_than': (1700000000, ['--exclude-newer-than=1700000000']),
    'exclude_older_than': (-3600, ['--exclude-older-than=-3600']),
    'exclude_patterns': (['*.tmp', '.*'], ['-E', '*.tmp', '-E', '.*']),
    'extra_options': (['-DD'], ['-DD']),
    'file_checksum': (fm.FileChecksumType.SHA_256, ['--file-checksum=sha-256']),
    'file_manifest_format': (fm.FileManifestFormat.TEXT, ['--file-manifest=text']),
    'file_manifest_path': ('/tmp/manifests', ['--file-manifest-path=/tmp/manifests']),
    'http_fallback_options': (HTTP, ['-y', '1', '-t', '8080', '-Y', 'key.pem', '-I', 'cert.pem',
                                     '-x', 'proxy:3128', '-j', '1']),
    'ignore_host_key': (True, ['--ignore-host-key']),
    'local_log_dir': ('/var/log/ascp', ['-L', '/var/log/ascp']),
    'min_rate_kbps': (100, ['-m', '100']),
    'move_after_transfer_path': ('/archive', ['--move-after-transfer=/archive']),
    'multi_session_threshold': (1000000, ['--multi-session-threshold=1000000']),
    'overwrite_policy': (fm.OverwritePolicy.DIFF_AND_OLDER, ['--overwrite=diff+older']),
    'partial_file_suffix': ('.part', ['--partial-file-suffix=.part']),
    'policy': (fm.TransferPolicy.LOW, ['--policy=low']),
    'pre_post_command_path': ('/opt/prepost.sh', ['-e', '/opt/prepost.sh']),
    'precalculate_job_size': (True, ['--precalculate-job-size']),
    'preserve_access_time': (True, ['--preserve-access-time']),
    'preserve_acls': (fm.PreserveMode.NATIVE, ['--preserve-acls=native']),
    'preserve_creation_time': (True, ['--preserve-creation-time']),
    'preserve_dates': (True, ['-p']),
    'preserve_file_owner_gid': (True, ['--preserve-file-owner-gid']),
    'preserve_file_owner_uid': (True, ['--preserve-file-owner-uid']),
    'preserve_modification_time': (True, ['--preserve-modification-time']),
    'preserve_source_access_time': (True, ['--preserve-source-access-time']),
    'preserve_xattrs': (fm.PreserveMode.METAFILE, ['--preserve-xattrs=metafile']),
    'read_size': (65536, ['-g', '65536']),
    'remote_log_dir': ('/var/log/remote', ['-R', '/var/log/remote']),
    'remote_preserve_acls': (fm.PreserveMode.NONE, ['--remote-preserve-acls=none']),
    'remote_preserve_xattrs': (fm.PreserveMode.NATIVE, ['--remote-preserve-xattrs=native']),
    'remove_empty_directories': (True, ['--remove-empty-directories']),
    'remove_empty_source_dir': (True, ['--remove-empty-source-directory']),
    'remove_files_after_transfer': (True, ['--remove-after-transfer']),
    'resume_check': (fm.ResumeCheck.SPARSE_CHECKSUM, ['-k', '2']),
    'retransmission_request_max_size': (1000, ['-X', '1000']),
    'retry_timeout': (60, ['--retry-timeout=60']),
    'save_before_overwrite': (True, ['--save-before-overwrite']),
    'skip_dir_traversal_dups': (True, ['--skip-dir-traversal-dupes']),
    'skip_special_files': (True, ['--skip-special-files']),
    'source_base': ('/base', ['--src-base=/base']),
    'source_prefix': ('/prefix', ['--source-prefix=/prefix']),
    'symlink_policy': (fm.SymlinkPolicy.COPY_FORCE, ['--symbolic-links=copy+force']),
    'target_rate_kbps': (50000, ['-l', '50000']),
    'tcp_port': (2222, ['-P', '2222']),
    'token': ('x', None),
    'udp_port': (33002, ['-O', '33002']),
    'write_size': (131072, ['-G', '131072']),
}

SECRETS = dict(dest_pass='pw-SECRET-1', token='tok-SECRET-2', cookie='ck-SECRET-3',
               content_protection_passphrase='fp-SECRET-4')


def upload(**option_values):
    return fm.FileUpload('a.txt', 'user', 'example.com', dest_pass='pw',
                         options=fm.TransferOptions(**option_values))


def contains(argv, part):
    return any(argv[i:i + len(part)] == part for i in range(len(argv) - len(part) + 1))


def test_every_option_has_an_expected_spelling():
    assert sorted(EXPECTED) == sorted(fm.TransferOptions.valid_options())


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_each_option_gives_real_ascp_flags(name):
    value, expected = EXPECTED[name]
    argv = upload(**{name: value}).ascp_opts()
    if expected is not None:
        assert contains(argv, expected), argv
    # the emulator's table lists real ascp's options and refuses anything else
    parsed = cmdline.parse(argv)
    assert parsed.paths[-1] == (value if name == 'destination_root' else '.')


def test_defaults_go_to_ascp():
    argv = upload().ascp_opts()
    assert argv[:3] == ['--mode=send', '--host=example.com', '--user=user']
    for part in (['-l', '10000'], ['--policy=fair'], ['-P', '22'], ['-O', '33001'], ['-q']):
        assert contains(argv, part)
    assert argv[-2:] == ['a.txt', '.']
    assert '-T' not in argv


def test_no_min_rate_unless_set_so_the_servers_minimum_applies():
    assert '-m' not in upload().ascp_opts()
    assert fm.TransferOptions().opts['min_rate_kbps'] is None
    assert contains(upload(min_rate_kbps=0).ascp_opts(), ['-m', '0'])


def test_extra_options_take_bytes_as_the_bytes_they_are():
    argv = upload(extra_options=[b'-DD', b'--tags=caf\xc3\xa9', b'--x=\xff', 5]).ascp_opts()
    assert ['-DD', '--tags=café', '--x=\udcff', '5'] == argv[4:8]
    assert os.fsencode(argv[6]) == b'--x=\xff'       # what the child process receives
    for bad in ([1.5], [None], [b'a\0b'], b'-DD'):
        with pytest.raises(ValueError, match='extra_options'):
            upload(extra_options=bad)


@pytest.mark.parametrize('kwargs, expected', [
    ({'cipher': 'aes-128'}, ['-c', 'aes128']),
    ({'cipher': 'aes-256-gcm'}, ['-c', 'aes256gcm']),
    ({'cipher': 'aes-192-cfb'}, ['-c', 'aes192cfb']),
    ({'cipher': 'none'}, ['-T']),
    ({'resume_check': 'sparse_csum'}, ['-k', '2']),
    ({'resume_check': 'attrs'}, ['-k', '1']),
    ({'resume_check': 'full_checksum'}, ['-k', '3']),
    ({'resume_check': 'none'}, ['-k', '0']),
    ({'file_checksum': 'sha256'}, ['--file-checksum=sha-256']),
    ({'file_checksum': 'sha-512'}, ['--file-checksum=sha-512']),
    ({'overwrite_policy': 'diff+older'}, ['--overwrite=diff+older']),
    ({'symlink_policy': 'copy+force'}, ['--symbolic-links=copy+force']),
    ({'preserve_xattrs': 'metafile'}, ['--preserve-xattrs=metafile']),
])
def test_transfer_spec_spellings_are_accepted(kwargs, expected):
    argv = upload(**kwargs).ascp_opts()
    assert contains(argv, expected), argv
    cmdline.parse(argv)          # and the emulator, like ascp, takes them
    if kwargs.get('cipher') == 'none':
        assert '-c' not in argv
        with pytest.raises(ValueError, match='contradict'):
            fm.TransferOptions(cipher='none', encryption=True)


def test_auto_detect_capacity_turns_rates_into_percentages():
    argv = upload(auto_detect_capacity=True).ascp_opts()
    assert contains(argv, ['-l', '100%']) and '-wf' in argv
    argv = upload(auto_detect_capacity=True, target_rate_kbps=80, min_rate_kbps=10).ascp_opts()
    assert contains(argv, ['-l', '80%']) and contains(argv, ['-m', '10%'])
    cmdline.parse(argv)


def test_content_protection_decrypts_on_download():
    order = fm.FileDownload('r.txt', 'user', 'host', source_pass='pw',
                            options=fm.TransferOptions(content_protection_passphrase='p'))
    assert '--file-crypt=decrypt' in order.ascp_opts()
    assert order.ascp_opts()[0] == '--mode=recv'


def test_secrets_reach_the_environment_only():
    order = fm.FileUpload('a.txt', 'user', 'host', dest_pass=SECRETS['dest_pass'],
                          options=fm.TransferOptions(
                              token=SECRETS['token'], cookie=SECRETS['cookie'],
                              content_protection_passphrase=SECRETS['content_protection_passphrase']))
    argv = order.ascp_opts()
    assert not [arg for arg in argv if 'SECRET' in arg]
    assert 'SECRET' not in repr(order) and 'SECRET' not in repr(order.options)
    assert order.ascp_env() == {'ASPERA_SCP_PASS': 'pw-SECRET-1', 'ASPERA_SCP_TOKEN': 'tok-SECRET-2',
                                'ASPERA_SCP_COOKIE': 'ck-SECRET-3',
                                'ASPERA_SCP_FILEPASS': 'fp-SECRET-4'}


def test_secret_objects_are_revealed_for_ascp_only():
    class Hidden:
        def __init__(self, value):
            self._value = value

        def reveal(self):
            return self._value

        def __repr__(self):
            return 'Hidden(***)'

    order = fm.FileUpload('a.txt', 'user', 'host', dest_pass=Hidden('pw-SECRET'),
                          options=fm.TransferOptions(token=Hidden('tok-SECRET')))
    assert order.ascp_env()['ASPERA_SCP_PASS'] == 'pw-SECRET'
    assert order.ascp_env()['ASPERA_SCP_TOKEN'] == 'tok-SECRET'
    assert 'SECRET' not in ' '.join(order.ascp_opts()) + repr(order)


def test_invalid_secret_is_not_echoed():
    with pytest.raises(ValueError) as info:
        fm.TransferOptions(token=12345678)
    assert '12345678' not in str(info.value) and 'token' in str(info.value)


@pytest.mark.parametrize('kwargs, words', [
    ({'no_such_option': 1}, 'unknown transfer option'),
    ({'target_rate_kbps': '100'}, 'target_rate_kbps'),
    ({'target_rate_kbps': 0}, 'target_rate_kbps'),
    ({'create_dirs': 'yes'}, 'create_dirs'),
    ({'tcp_port': 70000}, 'tcp_port'),
    ({'udp_port': True}, 'udp_port'),
    ({'datagram_size': 100}, 'datagram_size'),
    ({'retransmission_request_max_size': 1441}, 'retransmission_request_max_size'),
    ({'policy': 'fastest'}, 'policy'),
    ({'overwrite_policy': fm.ResumeCheck.OFF}, 'overwrite_policy'),
    ({'exclude_patterns': '*.tmp'}, 'exclude_patterns'),
    ({'exclude_patterns': [f'p{i}' for i in range(17)]}, 'at most 16'),
    ({'min_rate_kbps': 2000, 'target_rate_kbps': 1000}, 'above'),
    ({'remove_files_after_transfer': True, 'move_after_transfer_path': '/a'}, 'exclude'),
    ({'delete_before_transfer': True, 'http_fallback_options': HTTP}, 'http_fallback'),
    ({'cipher': fm.CipherType.AES_128, 'encryption': False}, 'encryption'),
    ({'auto_detect_capacity': True, 'target_rate_kbps': 500}, 'percentages'),
    ({'destination_root': ''}, 'destination_root'),
    ({'http_fallback_options': {'http_port': 1}}, 'http_fallback_options'),
])
def test_invalid_options_are_value_errors(kwargs, words):
    with pytest.raises(ValueError, match=words):
        fm.TransferOptions(**kwargs)


def test_enum_options_take_ascp_spellings_and_names():
    opts = fm.TransferOptions(policy='high', overwrite_policy='diff+older', resume_check=3,
                              cipher='AES_192', symlink_policy='skip')
    assert opts.opts['policy'] is fm.TransferPolicy.HIGH
    assert opts.opts['overwrite_policy'] is fm.OverwritePolicy.DIFF_AND_OLDER
    assert opts.opts['resume_check'] is fm.ResumeCheck.FULL_CHECKSUM
    assert opts.opts['cipher'] is fm.CipherType.AES_192


def test_defaults_and_class_constants():
    defaults = fm.TransferOptions.defaults()
    assert set(defaults) == set(fm.TransferOptions.valid_options())
    assert defaults['target_rate_kbps'] == 10000 and defaults['tcp_port'] == 22
    assert defaults['udp_port'] == 33001 and defaults['policy'] is fm.TransferPolicy.FAIR
    assert fm.TransferOptions.DEFAULT_CHUNK_SIZE == 1048576
    assert fm.TransferOptions.DEFAULT_DESTINATION_ROOT == '.'
    assert fm.TransferOptions.DEFAULT_POLICY is fm.TransferPolicy.FAIR
    assert fm.TransferOptions(udp_port=None).opts['udp_port'] == 33001


def test_http_fallback_options():
    assert fm.HttpFallbackOptions().build_ascp_options() == ['-y', '1']
    with pytest.raises(ValueError, match='needs http_proxy_address_host'):
        fm.HttpFallbackOptions(http_proxy_address_port=3128)
    with pytest.raises(ValueError, match='http_port'):
        fm.HttpFallbackOptions(http_port='80')


# --- orders ---------------------------------------------------------------------------

@pytest.mark.parametrize('make', [
    lambda: fm.FileUpload('a', 'u', 'h'),
    lambda: fm.FileDownload('a', 'u', 'h'),
    lambda: fm.PersistentUpload('u', 'h'),
    lambda: fm.PersistentDownload('u', 'h'),
    lambda: fm.StreamUpload('u', 'h'),
])
def test_orders_need_a_password_or_identity(make):
    with pytest.raises(fm.AuthenticationError):
        make()


def test_paired_destinations_go_to_a_private_pair_list():
    order = fm.FileUpload(['a.txt', 'b.txt'], 'u', 'h', dest_paths=['x/a.txt', 'y/b.txt'],
                          dest_identity='/k')
    argv = order.ascp_opts()
    (flag,) = [arg for arg in argv if arg.startswith('--file-pair-list=')]
    path = flag.split('=', 1)[1]
    assert open(path).read() == 'a.txt\nx/a.txt\nb.txt\ny/b.txt\n'
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert contains(argv, ['-i', '/k']) and argv[-1] == '.'
    order.cleanup()
    assert not os.path.exists(path)


def test_many_sources_go_to_a_file_list():
    sources = [f'f{i}.txt' for i in range(25)]
    order = fm.FileUpload(sources, 'u', 'h', dest_pass='p')
    (flag,) = [arg for arg in order.ascp_opts() if arg.startswith('--file-list=')]
    assert open(flag.split('=', 1)[1]).read().split() == sources
    order.cleanup()


def test_unpaired_or_unusable_paths_are_refused():
    with pytest.raises(fm.InvalidPathError, match='pair'):
        fm.FileUpload(['a', 'b'], 'u', 'h', dest_paths=['x'], dest_pass='p')
    with pytest.raises(fm.InvalidPathError):
        fm.FileDownload([], 'u', 'h', source_pass='p')
    with pytest.raises(fm.InvalidPathError, match='line break'):
        fm.FileUpload('a\nb', 'u', 'h', dest_pass='p')


def test_paths_that_look_like_options_are_kept_paths():
    order = fm.FileUpload('-rf', 'u', 'h', dest_pass='p',
                          options=fm.TransferOptions(destination_root='-out'))
    assert order.ascp_opts()[-2:] == ['./-rf', './-out']


def test_ipv6_hosts_get_dash_6():
    assert '-6' in fm.FileUpload('a', 'u', '::1', dest_pass='p').ascp_opts()
    assert '-6' not in fm.FileUpload('a', 'u', '127.0.0.1', dest_pass='p').ascp_opts()


def test_persistent_and_stream_orders():
    argv = fm.PersistentDownload('u', 'h', source_pass='p').ascp_opts()
    assert '--keepalive' in argv and argv[0] == '--mode=recv' and argv[-1] == '.'
    stream = fm.StreamUpload('u', 'h', dest_pass='p',
                             options=fm.TransferOptions(chunk_size=65536))
    argv = stream.ascp_opts()
    assert '--faspmgr-io' in argv and '--chunk-size=65536' in argv
    cmdline.parse(argv)
    assert '--chunk-size=65536' not in upload(chunk_size=65536).ascp_opts()


def test_order_attributes_are_the_documented_names():
    up = fm.FileUpload(['a'], 'u', 'h', dest_paths=['b'], dest_pass='p')
    assert (up.source_paths, up.dest_paths, up.dest_user, up.dest_host, up.dest_pass,
            up.dest_identity) == (['a'], ['b'], 'u', 'h', 'p', None)
    down = fm.FileDownload('a', 'u', 'h', source_identity='/k')
    assert (down.source_paths, down.dest_paths, down.source_user, down.source_host,
            down.source_pass, down.source_identity) == (['a'], None, 'u', 'h', None, '/k')
    assert isinstance(down.options, fm.TransferOptions)


def test_session_factory_picks_the_session_class():
    assert type(fm.session(upload())) is fm.Session
    assert type(fm.session(fm.PersistentUpload('u', 'h', dest_pass='p'))) is \
        fm.PersistentSession
    stream = fm.session(fm.StreamUpload('u', 'h', dest_pass='p'))
    assert type(stream) is fm.StreamSession and stream.chunk_size == 1048576
    with pytest.raises(RuntimeError):
        fm.session('not an order')


# --- finding ascp -----------------------------------------------------------------------

def _script(path):
    path.write_text('#!/bin/sh\nexit 0\n')
    path.chmod(0o755)
    return str(path)


def test_find_ascp_order_of_places(tmp_path, monkeypatch):
    explicit = _script(tmp_path / 'explicit')
    from_env = _script(tmp_path / 'from_env')
    (tmp_path / 'bin').mkdir()
    in_path = _script(tmp_path / 'bin' / 'ascp')
    monkeypatch.setenv('PATH', str(tmp_path / 'bin'))
    monkeypatch.setenv('FASPMANAGER_ASCP', from_env)
    assert fm.find_ascp(explicit) == explicit
    assert fm.find_ascp() == from_env
    monkeypatch.delenv('FASPMANAGER_ASCP')
    assert fm.find_ascp() == in_path


def test_find_ascp_falls_back_to_install_locations(tmp_path, monkeypatch):
    monkeypatch.setenv('PATH', str(tmp_path))
    monkeypatch.delenv('FASPMANAGER_ASCP', raising=False)
    monkeypatch.setenv('HOME', str(tmp_path))
    (tmp_path / '.aspera' / 'connect' / 'bin').mkdir(parents=True)
    connect = _script(tmp_path / '.aspera' / 'connect' / 'bin' / 'ascp')
    if os.path.exists('/opt/aspera/bin/ascp'):
        pytest.skip('an Aspera server is installed here')
    assert fm.find_ascp() == connect
    os.remove(connect)
    with pytest.raises(FileNotFoundError, match='FASPMANAGER_ASCP'):
        fm.find_ascp()


def test_find_ascp_refuses_a_bad_explicit_path(tmp_path, monkeypatch):
    monkeypatch.delenv('FASPMANAGER_ASCP', raising=False)
    with pytest.raises(FileNotFoundError, match='ascp_path'):
        fm.find_ascp(str(tmp_path / 'nope'))
    monkeypatch.setenv('FASPMANAGER_ASCP', str(tmp_path / 'nope'))
    with pytest.raises(FileNotFoundError, match='FASPMANAGER_ASCP'):
        fm.find_ascp()


def test_install_locations_follow_the_products():
    linux = ascp_module.install_locations('linux')
    assert '/opt/aspera/bin/ascp' in linux
    assert any(path.endswith('/.aspera/connect/bin/ascp') for path in linux)
    assert any(path.endswith('/.aspera/sdk/ascp') for path in linux)
    assert '/Library/Aspera/bin/ascp' in ascp_module.install_locations('darwin')
    assert any(path.endswith(r'Enterprise Server\bin\ascp.exe')
               for path in ascp_module.install_locations('win32'))


def test_faspmanager_stands_alone():
    import subprocess
    import sys
    code = ('import sys, faspmanager, faspmanager.testing.emulator; '
            'print(sorted(m for m in sys.modules if m.split(".")[0] in '
            '("filetransfer", "paramiko", "cli")))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == '[]'
