"""The public API, name for name, as the reference text (faspmanager-api.txt) lists it:
every function, class, method signature, enum member and instance variable."""

import enum
import inspect

import pytest

import faspmanager as fm

# Transcribed from the reference text.
FUNCTIONS = {'session': 'order, ascp_path=None, port=0, listener=None'}
CLASSES = {'BaseTransferOrder': {'methods': {'ascp_opts': 'self'}, 'vars': []},
 'CipherType': {'methods': {}, 'vars': ['AES_128', 'AES_192', 'AES_256']},
 'FileChecksumType': {'methods': {},
                      'vars': ['MD5', 'NONE', 'SHA1', 'SHA_256', 'SHA_384', 'SHA_512']},
 'FileDownload': {'methods': {'__init__': 'self, source_paths, source_user, source_host, '
                                          'dest_paths=None, source_pass=None, '
                                          'source_identity=None, options=None',
                              'ascp_opts': 'self'},
                  'vars': ['dest_paths',
                           'options',
                           'source_host',
                           'source_identity',
                           'source_pass',
                           'source_paths',
                           'source_user']},
 'FileManifestFormat': {'methods': {}, 'vars': ['NONE', 'TEXT']},
 'FileState': {'methods': {}, 'vars': ['FAILED', 'FINISHED', 'SKIPPED', 'TRANSFERRING']},
 'FileUpload': {'methods': {'__init__': 'self, source_paths, dest_user, dest_host, '
                                        'dest_paths=None, dest_pass=None, dest_identity=None, '
                                        'options=None',
                            'ascp_opts': 'self'},
                'vars': ['dest_host',
                         'dest_identity',
                         'dest_pass',
                         'dest_paths',
                         'dest_user',
                         'options',
                         'source_paths']},
 'HttpFallbackOptions': {'methods': {'__init__': 'self, encode_all_as_jpeg=None, '
                                                 'http_port=None, https_key_filename=None, '
                                                 'https_cert_filename=None, '
                                                 'http_proxy_address_host=None, '
                                                 'http_proxy_address_port=None',
                                     'build_ascp_options': 'self'},
                         'vars': ['encode_all_as_jpeg',
                                  'http_port',
                                  'http_proxy_address_host',
                                  'http_proxy_address_port',
                                  'https_cert_filename',
                                  'https_key_filename']},
 'OverwritePolicy': {'methods': {},
                     'vars': ['ALWAYS', 'DIFF', 'DIFF_AND_OLDER', 'NEVER', 'OLDER']},
 'PersistentDownload': {'methods': {'__init__': 'self, source_user, source_host, '
                                                'source_pass=None, source_identity=None, '
                                                'options=None',
                                    'ascp_opts': 'self'},
                        'vars': ['options',
                                 'source_host',
                                 'source_identity',
                                 'source_pass',
                                 'source_user']},
 'PersistentSession': {'methods': {'__init__': 'self, order, ascp_path=None, listener=None, '
                                               'port=None',
                                   'add_source': 'self, source_path, dest_path, '
                                                 'start_offset=None, end_offset=None',
                                   'cancel': 'self',
                                   'close': 'self',
                                   'failed_files': 'self',
                                   'file_stats': 'self, filename=None',
                                   'finish': 'self',
                                   'set_rate': 'self, target_kbps',
                                   'start': 'self',
                                   'state': 'self',
                                   'stats': 'self'},
                       'vars': []},
 'PersistentUpload': {'methods': {'__init__': 'self, dest_user, dest_host, dest_pass=None, '
                                              'dest_identity=None, options=None',
                                  'ascp_opts': 'self'},
                      'vars': ['dest_host',
                               'dest_identity',
                               'dest_pass',
                               'dest_user',
                               'options']},
 'PreserveMode': {'methods': {}, 'vars': ['METAFILE', 'NATIVE', 'NONE']},
 'ResumeCheck': {'methods': {},
                 'vars': ['FILE_ATTRIBUTES', 'FULL_CHECKSUM', 'OFF', 'SPARSE_CHECKSUM']},
 'Session': {'methods': {'__init__': 'self, order, ascp_path=None, listener=None, port=None',
                         'cancel': 'self',
                         'close': 'self',
                         'failed_files': 'self',
                         'file_stats': 'self, filename=None',
                         'finish': 'self',
                         'set_rate': 'self, target_kbps',
                         'start': 'self',
                         'state': 'self',
                         'stats': 'self'},
             'vars': ['ascp_path', 'listener', 'order', 'port']},
 'SessionResult': {'methods': {'__init__': 'self, end_state, stats, failed_files',
                               'failed': 'self',
                               'failed_files': 'self',
                               'ok': 'self',
                               'reason': 'self',
                               'stats': 'self'},
                   'vars': []},
 'SessionState': {'methods': {}, 'vars': ['FAILED', 'FINISHED', 'NOTSTARTED', 'RUNNING']},
 'SessionStateError': {'methods': {}, 'vars': []},
 'Stream': {'methods': {'__init__': 'self, dest_path, mgmt_conn, chunk_size',
                        'close': 'self',
                        'open': 'self',
                        'send': 'self, data'},
            'vars': []},
 'StreamSession': {'methods': {'__init__': 'self, order, chunk_size, ascp_path=None, '
                                           'listener=None, port=None',
                               'cancel': 'self',
                               'close': 'self',
                               'failed_files': 'self',
                               'file_stats': 'self, filename=None',
                               'finish': 'self',
                               'open_stream': 'self, dest_path',
                               'set_rate': 'self, target_kbps',
                               'start': 'self',
                               'state': 'self',
                               'stats': 'self'},
                   'vars': ['ascp_path']},
 'StreamStateError': {'methods': {}, 'vars': []},
 'StreamUpload': {'methods': {'__init__': 'self, dest_user, dest_host, dest_pass=None, '
                                          'dest_identity=None, options=None',
                              'ascp_opts': 'self'},
                  'vars': ['dest_host', 'dest_identity', 'dest_pass', 'dest_user', 'options']},
 'SymlinkPolicy': {'methods': {}, 'vars': ['COPY', 'COPY_FORCE', 'FOLLOW', 'SKIP']},
 'TransferEvent': {'methods': {'__init__': 'self, event_type, session_stats, file_stats=None'},
                   'vars': ['event_type', 'file_stats', 'session_stats']},
 'TransferEventType': {'methods': {},
                       'vars': ['ARGSTOP',
                                'DONE',
                                'ERROR',
                                'FILEERROR',
                                'INIT',
                                'SESSION',
                                'SKIP',
                                'STATS',
                                'STOP']},
 'TransferOptions': {'methods': {'__init__': 'self, **kwargs',
                                 'defaults': '',
                                 'valid_options': ''},
                     'vars': ['DEFAULT_CHUNK_SIZE',
                              'DEFAULT_DESTINATION_ROOT',
                              'DEFAULT_POLICY',
                              'opts']},
 'TransferPolicy': {'methods': {}, 'vars': ['FAIR', 'FIXED', 'HIGH', 'LOW']}}


def _params(func):
    return list(inspect.signature(func).parameters.values())


def _check_signature(func, spec):
    """The spec's parameters come first, in order, with the same defaults; anything
    added after them is optional."""
    params = _params(func)
    wanted = [item.strip() for item in spec.split(',') if item.strip()]
    assert len(params) >= len(wanted), f'{func.__qualname__}: {spec}'
    for param, item in zip(params, wanted):
        name, _, default = item.partition('=')
        if name.startswith('**'):
            assert param.kind is inspect.Parameter.VAR_KEYWORD
            continue
        assert param.name == name, f'{func.__qualname__}: {param.name} != {name}'
        if default:
            assert param.default == eval(default), f'{func.__qualname__}.{name}'
        else:
            assert param.default is inspect.Parameter.empty, f'{func.__qualname__}.{name}'
    for param in params[len(wanted):]:
        assert param.default is not inspect.Parameter.empty or \
            param.kind is inspect.Parameter.VAR_KEYWORD, f'{func.__qualname__}.{param.name}'


def test_functions():
    for name, spec in FUNCTIONS.items():
        _check_signature(getattr(fm, name), spec)


def _instance(name):
    auth = {'dest_pass': 'p'}
    samples = {
        'FileDownload': lambda: fm.FileDownload('a', 'u', 'h', source_pass='p'),
        'FileUpload': lambda: fm.FileUpload('a', 'u', 'h', **auth),
        'HttpFallbackOptions': fm.HttpFallbackOptions,
        'PersistentDownload': lambda: fm.PersistentDownload('u', 'h', source_pass='p'),
        'PersistentUpload': lambda: fm.PersistentUpload('u', 'h', **auth),
        'StreamUpload': lambda: fm.StreamUpload('u', 'h', **auth),
        'Session': lambda: fm.Session(fm.FileUpload('a', 'u', 'h', **auth)),
        'StreamSession': lambda: fm.StreamSession(fm.StreamUpload('u', 'h', **auth), 1024),
        'TransferEvent': lambda: fm.TransferEvent(fm.TransferEventType.INIT, {}),
        'TransferOptions': fm.TransferOptions,
    }
    return samples[name]()


@pytest.mark.parametrize('name', sorted(CLASSES))
def test_classes(name):
    cls = getattr(fm, name)
    spec = CLASSES[name]
    for method, params in spec['methods'].items():
        _check_signature(getattr(cls, method), params)
    if not spec['vars']:
        return
    if issubclass(cls, enum.Enum):
        assert set(spec['vars']) <= set(cls.__members__)
        return
    if all(var.isupper() for var in spec['vars']):      # class constants
        assert all(hasattr(cls, var) for var in spec['vars'])
        return
    instance = _instance(name)
    for var in spec['vars']:
        assert hasattr(instance, var) or hasattr(cls, var), f'{name}.{var}'


def test_exceptions_have_the_documented_ancestry():
    for name in ('SessionStateError', 'StreamStateError'):
        assert getattr(fm, name).__mro__[1:] == (ValueError, Exception, BaseException, object)
    assert issubclass(fm.AuthenticationError, ValueError)
    assert issubclass(fm.InvalidPathError, ValueError)
    assert issubclass(fm.SessionStartError, Exception)


def test_ancestry_of_sessions_and_orders():
    assert issubclass(fm.PersistentSession, fm.Session)
    assert issubclass(fm.StreamSession, fm.Session)
    for order in (fm.FileUpload, fm.FileDownload, fm.PersistentUpload, fm.PersistentDownload,
                  fm.StreamUpload):
        assert issubclass(order, fm.BaseTransferOrder)
