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

from filetransfer.config import statedb
from filetransfer.config import types as t
from filetransfer.config.record import Record, record


@record
class Option(Record):
    """How an option is read: its parser, default, and what the reference says."""

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

@record(kw_only=True)
class Global(Record):
    """[global] of the application file."""

    jobs_dir: str = option(t.path, required=True, doc='directory of the job files')
    job_cfg_ext: str = option(t.extension, '.cfg', doc='extension of the job files')
    hosts_cfg: str | None = option(t.path, doc='the hosts file; required when a job uses '
                                               'host_id')
    collect_data: bool = option(t.boolean, False,
                                doc='keep the list of files of a run (for the mail)')
    mail_cfgs_dir: str | None = option(t.path, doc='directory of the mail templates')
    locks_dir: str | None = option(t.path, doc='directory of the locks and of the record '
                                               'of files being written')
    metrics_dir: str | None = option(t.path, doc="where each run writes JOBID.prom (node "
                                                 "exporter's textfile collector)")
    state_db: Any = option(statedb.location, secret=True,
                           doc='postgresql://USER@HOST[:PORT]/DB: run history, locks and the '
                               'record of files being written shared by several hosts '
                               '(unset: an SQLite file in locks_dir)')
    state_db_password: Any = option(secret_text, secret=True,
                                    doc="state_db's password (else PGPASSWORD or ~/.pgpass)")


@record(kw_only=True)
class Logging(Record):
    """[logging] of the application file."""

    log_dir: str | None = option(t.path, doc='directory of the log files (unset: stderr)')
    use_subdirs: bool = option(t.boolean, True, doc='a sub-directory of log_dir per job')
    msg_format: str = option(t.log_format, DEFAULT_MSG_FORMAT, doc='format of a log line')
    log_level: int = option(t.log_level, 20, doc='DEBUG, INFO, WARNING, ERROR, CRITICAL '
                                                 'or NOTSET')
    disabled: bool = option(t.boolean, False, doc='no log at all')
    format: str = option(t.choice('text', 'json'), 'text',
                         doc='text (msg_format) or json (one object per line)')


@record(kw_only=True)
class Mail(Record):
    """[mail]: host and from_addr are required when the section is present."""

    host: tuple | None = option(t.host_port, doc='SMTP server (port 25; 465 with security '
                                                 '= TLS); required in [mail]')
    security: str | None = option(t.choice('STARTTLS', 'TLS'),
                                  doc='STARTTLS after connecting, or TLS from the start '
                                      '(unset: plain SMTP)')
    user: str | None = option(doc='login name, together with password')
    password: Any = option(secret_text, secret=True, doc='login password, together with user')
    from_addr: str | None = option(doc='sender of the mails, as written; required in [mail]')
    verify_cert: bool = option(t.boolean, True, doc="verify the server's certificate and "
                                                    'name (STARTTLS, TLS)')
    ca_file: str | None = option(t.path, doc="CA certificates (PEM) to verify it with, "
                                             "instead of the system's")
    timeout: float = option(t.positive_float, 30.0, doc='seconds to wait for the server '
                                                        '(connect, each reply)')


@record(kw_only=True)
class Notify(Record):
    """[notify] of a job file (a value set replaces the application's)."""

    mail_cfg: str | None = option(doc="the mail template of the job, a file in "
                                      "mail_cfgs_dir (unset: the application's)")
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


@record(kw_only=True)
class AppNotify(Notify):
    """[notify] of the application file."""

    mail_cfg: str | None = option(default='default',
                                  doc='the mail template: default (the built-in one) or a '
                                      'file in mail_cfgs_dir')
    webhook_on: str = option(t.choice(*WEBHOOK_ON), 'done', doc='success, error or done')
    webhook_format: str = option(t.choice(*WEBHOOK_FORMATS), 'json',
                                 doc='json (the result) or text ({"text": ...})')
    http_timeout: float = option(t.positive_float, 10.0,
                                 doc='seconds a ping or webhook may take, retry included')


@record(kw_only=True)
class Daemon(Record):
    """[daemon]: required by `filetransfer daemon` only; jobs and pidfile are
    required when the section is present."""

    jobs: tuple | None = option(t.job_ids, doc="the jobs the daemon runs ('*': all); "
                                              'required in [daemon]')
    interval: float = option(t.positive_float, 60.0, doc='seconds between scans')
    pidfile: str | None = option(t.path, doc="the daemon's pidfile (its directory is "
                                             'created); required in [daemon]')


APP_SECTIONS = {'global': Global, 'logging': Logging, 'mail': Mail, 'notify': AppNotify,
                'daemon': Daemon}   # and the protocols' sections (endpoints/registry.py)
APP_REQUIRED = ('global',)


# -- the job file -------------------------------------------------------------------------

@record(kw_only=True)
class JobOptions(Record):
    """[job] of a job file."""

    name: str | None = option(doc='shown in logs and mails (unset: the job id)')
    info: str | None = option(doc='a line about the job, for the mails')
    collect_data: bool | None = option(t.boolean, doc='overrides [global] collect_data')
    single_instance: bool | str = option(t.single_instance, False,
                                         doc='yes: one running instance of this job; a name: '
                                             'one lock shared by every job naming it')
    ready_file: str | None = option(t.source_path,     # as written, without NUL
                                    doc='a file in the source directory: without it the job '
                                        'does not run; deleted after a successful run')
    retries: int = option(t.lenient_count, 0, doc='runs the job again after a failure '
                                                  '(exit code 2), waiting 1, 2, 4 ... 60 s')
    log_disabled: bool | None = option(t.boolean, doc='overrides [logging] disabled')
    log_level: int | None = option(t.log_level, doc='overrides [logging] log_level')
    before: tuple | None = option(t.command, doc='command run once the source is ready, '
                                                 'before any file (failure: exit 2)')
    after: tuple | None = option(t.command, doc='command run at the end when the job started')
    hook_timeout: float = option(t.positive_float, 300.0,
                                 doc='seconds before or after may take')


@record(kw_only=True)
class Source(Record):
    """[source] of a job file."""

    host_id: str | None = option(doc='the host in the hosts file (unset: a local directory)')
    path: str = option(t.source_path, required=True, doc='the source directory')
    files: tuple = option(t.patterns, required=True, doc='patterns of the files to take '
                                                         '(* matches across /)')
    ignore: tuple = option(t.patterns, ('.*',), doc='patterns of the files to leave '
                                                    '(empty: none)')
    recursive: bool = option(t.boolean, False, doc='descend into sub-directories (relative '
                                                    'paths are kept)')
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


@record(kw_only=True)
class Target(Record):
    """[target] of a job file."""

    host_id: str | None = option(doc='the host in the hosts file (unset: a local directory)')
    path: str = option(t.target_path, required=True, doc='the target directory (created if '
                                                          'missing)')
    temp: Any = option(t.temp, doc='write each file under a temp name, renamed when '
                                   'complete: dot (.NAME), ext:EXT (NAME.EXT) or dir:DIR '
                                   '(DIR/NAME)')
    resume: bool = option(t.boolean, False, doc='continue an interrupted file from its temp '
                                                'file (needs temp and locks_dir)')
    connections: int | str | None = option(t.connections, doc="files at once: 1-16 or auto "
                                                              "(unset: the host's)")
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

    type: str = option(required=True, doc='the protocol, which selects the other options')
    host: str = option(t.host_port, required=True, doc="the server (port: the protocol's "
                                                       'default)')
    port: int = 0
    user: str = option(required=True, doc='login name')
    password: Any = option(secret_text, secret=True, doc='login password (needed unless a key '
                                                         'logs in)')
    timeout: float = option(t.lenient_seconds, 0.0, doc='seconds a server may be silent '
                                                        '(0: no limit)')
    connections: int | str | None = None
