"""Declarative schemas of the application, job and hosts files.

A schema maps section name -> option name -> `Option`. The loader applies it; the
checks that relate options to each other live in the loader too.
"""

from dataclasses import dataclass
from typing import Any, Callable

from filetransfer.config import types as t


@dataclass(frozen=True)
class Option:
    type: Callable[[str], Any] = t.text
    default: Any = None
    required: bool = False
    secret: bool = False      # the raw value is never repeated in messages


def secret_text(raw: str):
    from filetransfer.secret import Secret
    return Secret(raw)


SECRET = Option(secret_text, secret=True)
TEXT = Option()
PATH = Option(t.path)

DEFAULT_MSG_FORMAT = '%(asctime)s %(levelname)-8s %(message)s'
ADDRESSES = Option(t.addresses, ())

NOTIFY = {
    'mail_cfg': Option(t.file_name),
    'success': ADDRESSES,
    'error': ADDRESSES,
    'done': ADDRESSES,
}

KEY_TYPES = ('RSA', 'DSA', 'ECDSA', 'Ed25519')

APP = {
    'global': {
        'jobs_dir': Option(t.path, required=True),
        'job_cfg_ext': Option(default='.cfg'),
        'hosts_cfg': PATH,
        'collect_data': Option(t.boolean, False),
        'mail_cfgs_dir': PATH,
        'locks_dir': PATH,
    },
    'logging': {
        'log_dir': PATH,
        'use_subdirs': Option(t.boolean, True),
        'msg_format': Option(t.log_format, DEFAULT_MSG_FORMAT),
        'log_level': Option(t.log_level, 20),
        'disabled': Option(t.boolean, False),
    },
    'sftp': {
        **{f'key_{kind.lower()}_{what}': SECRET if what == 'pass' else PATH
           for kind in KEY_TYPES for what in ('file', 'pass')},
        'known_hosts': PATH,
    },
    'mail': {
        'host': Option(t.host_port),
        'security': Option(t.choice('STARTTLS', 'TLS')),
        'user': TEXT,
        'password': SECRET,
        'from_addr': Option(t.address),
        'verify_cert': Option(t.boolean, True),
        'ca_file': PATH,
        'timeout': Option(t.positive_float, 30.0),
    },
    'notify': {**NOTIFY, 'mail_cfg': Option(t.file_name, 'default')},
    'daemon': {                      # required by `filetransfer daemon` only
        'jobs': Option(t.job_ids),   # required when the section is present
        'interval': Option(t.positive_float, 60.0),
        'pidfile': PATH,             # required when the section is present
    },
}
APP_REQUIRED = ('global',)

SOURCE = {
    'host_id': TEXT,
    'path': Option(t.path, required=True),
    'files': Option(t.comma_list, required=True),
    'ignore': Option(t.comma_list, ('.*',)),
    'recursive': Option(t.boolean, False),
    'delete': Option(t.boolean, False),
}

TARGET = {
    'host_id': TEXT,
    'path': Option(t.path, required=True),
    'temp': Option(t.temp),
    'resume': Option(t.boolean),      # unset: None, so a FASP host's resume shows through
    'connections': Option(t.connections),   # unset: the host's
}

JOB = {
    'job': {
        'name': TEXT,
        'info': TEXT,
        'collect_data': Option(t.boolean),
        'single_instance': Option(t.single_instance, False),
        'ready_file': TEXT,
        'retries': Option(t.non_negative_int, 0),
        'log_disabled': Option(t.boolean),
        'log_level': Option(t.log_level),
    },
    'source': SOURCE,
    'target': TARGET,
    'notify': NOTIFY,
}
JOB_REQUIRED = ('source', 'target')

HOST_TYPES = ('FTP', 'FTPS', 'SFTP', 'FASP')
DEFAULT_PORTS = {'FTP': 21, 'FTPS': 21, 'SFTP': 22, 'FASP': 22}

_HOST_COMMON = {
    'type': Option(t.choice(*HOST_TYPES), required=True),
    'host': Option(t.host_port, required=True),
    'user': Option(required=True),
    'password': SECRET,
    'timeout': Option(t.non_negative_float, 0.0),
}
_FTP = {
    'connections': Option(t.connections, 1),
    'passive_mode': Option(t.boolean, True),
    'dir_a_option': Option(t.boolean, True),
    'keep_alive': Option(t.non_negative_float, 60.0),
}
_FTPS = {
    'encrypt_data': Option(t.boolean, True),
    'verify_cert': Option(t.boolean, True),
    'ca_file': PATH,
}
_SFTP = {
    'connections': Option(t.connections, 1),
    'key_type': Option(t.choice(*KEY_TYPES)),
    'key_file': PATH,
    'key_pass': SECRET,
    'known_hosts': PATH,
    'transport': Option(t.choice('auto', 'openssh', 'paramiko'), 'auto'),
}
_FASP = {
    'key_file': PATH,
    'key_pass': SECRET,
    'ascp_path': PATH,
    'target_rate_kbps': Option(t.positive_int),
    'min_rate_kbps': Option(t.non_negative_int),
    'policy': Option(t.choice('fixed', 'high', 'fair', 'low')),
    'cipher': Option(t.choice('none', 'aes128', 'aes192', 'aes256')),
    'udp_port': Option(t.port),
    'tcp_port': Option(t.port),
    'resume': Option(t.choice('off', 'attributes', 'sparse', 'full')),
    'overwrite': Option(t.choice('never', 'always', 'diff', 'older', 'diff+older')),
    'ssh_fingerprint': TEXT,
}

HOST = {
    'FTP': {**_HOST_COMMON, **_FTP},
    'FTPS': {**_HOST_COMMON, **_FTP, **_FTPS},
    'SFTP': {**_HOST_COMMON, **_SFTP},
    'FASP': {**_HOST_COMMON, **_FASP},
}
