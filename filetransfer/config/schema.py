"""The options of the application, job and hosts files, declared once.

Each section is a frozen dataclass whose fields are its options: `option()` gives a
field its parser (config/types.py), default, whether it is required or secret, and
a line of documentation. The loader parses a file's sections into these classes;
`options_of()` gives a section's options by name, for the loader, `filetransfer
check` and the option reference. The hosts file's sections are `Host` subclasses
declared by the protocol packages (filetransfer/endpoints/*/options.py); the
checks that relate options to each other live in the loader and in those packages.
"""

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

from filetransfer.config import types as t


@dataclass(frozen=True)
class Option:
    type: Callable[[str], Any] = t.text
    default: Any = None
    required: bool = False
    secret: bool = False      # the raw value is never repeated in messages
    doc: str = ''
    aliases: tuple = ()       # other names the option is also known by


def option(type: Callable[[str], Any] = t.text, default: Any = None, *, required=False,
           secret=False, doc='', aliases=()) -> Any:
    """A dataclass field that is an option of a configuration file."""
    return dataclasses.field(default=default, metadata={
        'option': Option(type, default, required, secret, doc, tuple(aliases))})


def options_of(section_class) -> dict[str, Option]:
    """The options of a section class, by name."""
    return {field.name: field.metadata['option'] for field in dataclasses.fields(section_class)
            if 'option' in field.metadata}


def secret_text(raw: str):
    from filetransfer.secret import Secret
    return Secret(raw)


def secret_url(raw: str):
    """An http(s) URL kept as a Secret: its path and query may hold a token."""
    return secret_text(t.http_url(raw))


DEFAULT_MSG_FORMAT = '%(asctime)s %(levelname)-8s %(message)s'
WEBHOOK_ON = ('success', 'error', 'done')
WEBHOOK_FORMATS = ('json', 'text')
OVERWRITE = ('always', 'never', 'different', 'older')
VERIFY = ('size', 'checksum')


# -- the application file ---------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Global:
    jobs_dir: str = option(t.path, required=True, doc='directory of the job files')
    job_cfg_ext: str = option(default='.cfg', doc='extension of the job files')
    hosts_cfg: str | None = option(t.path, doc='the hosts file')
    collect_data: bool = option(t.boolean, False,
                                doc='keep the list of files of a run (for the mail)')
    mail_cfgs_dir: str | None = option(t.path, doc='directory of the mail templates')
    locks_dir: str | None = option(t.path, doc='directory of the locks and of the record '
                                               'of files being written')
    metrics_dir: str | None = option(t.path, doc="where each run writes JOBID.prom (node "
                                                 "exporter's textfile collector)")


@dataclass(frozen=True, kw_only=True)
class Logging:
    log_dir: str | None = option(t.path, doc='directory of the log files (unset: stderr)')
    use_subdirs: bool = option(t.boolean, True, doc='a sub-directory of log_dir per job')
    msg_format: str = option(t.log_format, DEFAULT_MSG_FORMAT, doc='format of a log line')
    log_level: int = option(t.log_level, 20, doc='DEBUG, INFO, WARNING, ERROR or CRITICAL')
    disabled: bool = option(t.boolean, False, doc='no log at all')
    format: str = option(t.choice('text', 'json'), 'text',
                         doc='text (msg_format) or json (one object per line)')


@dataclass(frozen=True, kw_only=True)
class Mail:
    """[mail]: host and from_addr are required when the section is present."""

    host: tuple | None = option(t.host_port, doc='SMTP server, name[:port]')
    security: str | None = option(t.choice('STARTTLS', 'TLS'))
    user: str | None = option()
    password: Any = option(secret_text, secret=True)
    from_addr: str | None = option(t.address)
    verify_cert: bool = option(t.boolean, True)
    ca_file: str | None = option(t.path)
    timeout: float = option(t.positive_float, 30.0)


@dataclass(frozen=True, kw_only=True)
class Notify:
    mail_cfg: str | None = option(t.file_name, doc='the mail template')
    success: tuple = option(t.addresses, (), doc='addresses mailed after a success')
    error: tuple = option(t.addresses, (), doc='addresses mailed after a failure')
    done: tuple = option(t.addresses, (), doc='addresses mailed after every run')
    # Ping and webhook: a job's value replaces the application's (None: not set here).
    ping_url: Any = option(secret_url, secret=True,
                           doc='healthchecks-style URL: URL/start, then URL/EXITCODE')
    webhook_url: Any = option(secret_url, secret=True, doc='URL that gets the result (POST)')
    webhook_on: str | None = option(t.choice(*WEBHOOK_ON), doc='success, error or done')
    webhook_format: str | None = option(t.choice(*WEBHOOK_FORMATS),
                                        doc='json (the result) or text ({"text": ...})')
    ca_file: str | None = option(t.path, doc='CA certificates (PEM) trusted for ping_url and '
                                             "webhook_url, besides the system's")
    http_timeout: float | None = option(t.positive_float,
                                        doc='seconds a ping or webhook may take, retry included')


@dataclass(frozen=True, kw_only=True)
class AppNotify(Notify):
    mail_cfg: str | None = option(t.file_name, 'default', doc='the mail template')
    webhook_on: str = option(t.choice(*WEBHOOK_ON), 'done', doc='success, error or done')
    webhook_format: str = option(t.choice(*WEBHOOK_FORMATS), 'json',
                                 doc='json (the result) or text ({"text": ...})')
    http_timeout: float = option(t.positive_float, 10.0,
                                 doc='seconds a ping or webhook may take, retry included')


@dataclass(frozen=True, kw_only=True)
class Daemon:
    """[daemon]: required by `filetransfer daemon` only; jobs and pidfile are
    required when the section is present."""

    jobs: tuple | None = option(t.job_ids, doc="the jobs the daemon runs ('*': all)")
    interval: float = option(t.positive_float, 60.0, doc='seconds between scans')
    pidfile: str | None = option(t.path)


APP_SECTIONS = {'global': Global, 'logging': Logging, 'mail': Mail, 'notify': AppNotify,
                'daemon': Daemon}   # and the protocols' sections (endpoints/registry.py)
APP_REQUIRED = ('global',)


# -- the job file -------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class JobOptions:
    name: str | None = option()
    info: str | None = option()
    collect_data: bool | None = option(t.boolean)
    single_instance: bool | str = option(t.single_instance, False)
    ready_file: str | None = option()
    retries: int = option(t.non_negative_int, 0)
    log_disabled: bool | None = option(t.boolean)
    log_level: int | None = option(t.log_level)
    before: tuple | None = option(t.command, doc='command run once the source is ready, '
                                                 'before any file (failure: exit 2)')
    after: tuple | None = option(t.command, doc='command run at the end when the job started')
    hook_timeout: float = option(t.positive_float, 300.0,
                                 doc='seconds before or after may take')


@dataclass(frozen=True, kw_only=True)
class Source:
    host_id: str | None = option(doc='the host in the hosts file (unset: a local directory)')
    path: str = option(t.path, required=True)
    files: tuple = option(t.comma_list, required=True, doc='patterns of the files to take')
    ignore: tuple = option(t.comma_list, ('.*',), doc='patterns of the files to leave')
    recursive: bool = option(t.boolean, False)
    delete: bool = option(t.boolean, False, doc='delete each transferred source file')
    archive_dir: str | None = option(t.path, doc='move each transferred source file into this '
                                                 'directory (relative to path, or absolute) '
                                                 'instead of deleting it')
    min_age: int | None = option(t.duration, doc='leave a file modified less than this long '
                                                 'ago for a later run (90, 90s, 15m, 2h, 1d)')
    max_age: int | None = option(t.duration, doc='leave out the files modified longer ago '
                                                 'than this')
    remember: bool = option(t.boolean, False, doc='keep a record of the files sent (in '
                                                  'locks_dir) and never send an unchanged '
                                                  'one again')


@dataclass(frozen=True, kw_only=True)
class Target:
    host_id: str | None = option(doc='the host in the hosts file (unset: a local directory)')
    path: str = option(t.path, required=True)
    temp: Any = option(t.temp, doc='dot, ext:.EXT or dir:SUBDIR')
    resume: bool = option(t.boolean, False, doc='continue an interrupted file')
    connections: int | None = option(t.connections, doc="several files at once (unset: "
                                                        "the host's)")
    overwrite: str = option(t.choice(*OVERWRITE), 'always',
                            doc='a file the target has already: always replaced, never, '
                                'different (unless same size and modification time), older '
                                '(replaced when the source is newer)')
    verify: str = option(t.choice(*VERIFY), 'size',
                         doc="how a copy is checked: size, or checksum (SHA-256 of the "
                             "source's bytes and of the stored file)")


JOB_SECTIONS = {'job': JobOptions, 'source': Source, 'target': Target, 'notify': Notify}
JOB_REQUIRED = ('source', 'target')


# -- the hosts file -----------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Host:
    """What every host section has; each protocol declares a subclass with its own
    options (see filetransfer/endpoints/registry.py). ``host`` is the name, ``port``
    the port, given in ``host`` or the protocol's default. ``connections`` is None
    for a protocol that moves one file at a time."""

    type: str = option(required=True)
    host: str = option(t.host_port, required=True, doc='name[:port]')
    port: int = 0
    user: str = option(required=True)
    password: Any = option(secret_text, secret=True)
    timeout: float = option(t.non_negative_float, 0.0, doc='seconds a server may be silent '
                                                          '(0: no limit)')
    connections: int | None = None
