"""Reads the INI files and applies the schemas; every problem is a ConfigError
naming the file, the section and the option."""

import configparser
import os
from collections.abc import Mapping

from filetransfer import smallfile
from filetransfer.errors import ConfigError
from filetransfer.config import privacy, schema as s
from filetransfer.config.schema import Option

_NO_DEFAULT_SECTION = '\0'   # a [DEFAULT] section in a file is just an unknown section
EXTRA_PREFIX = 'x:'


class Config(dict):
    """A parsed file: section name -> {option: value}.

    ``present`` holds the sections the file really has, ``extra`` its ``x:``
    sections (prefix stripped, raw strings), ``warnings`` what a run should log
    about the file (and the hosts file it uses).
    """

    def __init__(self, path, sections, present=(), extra=None):
        super().__init__(sections)
        self.path = str(path)
        self.present = set(present)
        self.extra = extra or {}
        self.warnings = []


def _hint(name, candidates):
    import difflib

    close = difflib.get_close_matches(name, list(candidates), n=1)
    return f' (did you mean {close[0]!r}?)' if close else ''


def _where(path, section, option=None):
    return f'{path}: [{section}]' + (f' {option}' if option else '')


def read_ini(path) -> configparser.ConfigParser:
    """Reads an INI file strictly (no interpolation, no duplicates)."""
    parser = configparser.ConfigParser(interpolation=None, strict=True,
                                       default_section=_NO_DEFAULT_SECTION)
    try:
        with open(path, encoding='utf-8') as fh:
            parser.read_file(fh)
    except OSError as exc:
        raise ConfigError(f'{path}: cannot read: {exc.strerror or exc}') from None
    except UnicodeDecodeError:
        raise ConfigError(f'{path}: cannot read: not UTF-8 text') from None
    except configparser.Error as exc:
        line, problem = _ini_problem(exc)
        where = f'{path}, line {line}' if line else str(path)
        raise ConfigError(f'{where}: not a valid INI file: {problem}') from None
    return parser


def _ini_problem(exc: configparser.Error) -> tuple[int | None, str]:
    """The line number and what is wrong, without the line's text (it may hold a
    password)."""
    if isinstance(exc, configparser.DuplicateSectionError):
        return exc.lineno, f'section [{exc.section}] is given twice'
    if isinstance(exc, configparser.DuplicateOptionError):
        return exc.lineno, f'option {exc.option!r} is given twice in [{exc.section}]'
    if isinstance(exc, configparser.MissingSectionHeaderError):
        return exc.lineno, 'expected a [section] first'
    if isinstance(exc, configparser.ParsingError) and exc.errors:
        return exc.errors[0][0], 'expected [section], name = value or a comment'
    return None, str(exc).splitlines()[0]


def parse_section(path, section: str, items: Mapping[str, str],
                  options: Mapping[str, Option]) -> dict:
    """Applies ``options`` to the raw ``items`` of one section.

    Empty values count as unset. Unknown options, missing required ones and values
    of the wrong type raise ConfigError.
    """
    values = {}
    for name, raw in items.items():
        name = name.lower()
        option = options.get(name)
        if option is None:
            raise ConfigError(f'{_where(path, section, name)}: unknown option'
                              + _hint(name, options))
        raw = raw.strip() if isinstance(raw, str) else raw
        if not isinstance(raw, str):
            raise ConfigError(f'{_where(path, section, name)}: expected a string value, '
                              f'got {type(raw).__name__}')
        if raw == '':
            continue
        try:
            values[name] = option.type(raw)
        except ValueError as exc:
            shown = '' if option.secret else f", got '{raw}'"
            raise ConfigError(f'{_where(path, section, name)}: {exc}{shown}') from None
    for name, option in options.items():
        if name in values:
            continue
        if option.required:
            raise ConfigError(f'{_where(path, section, name)}: required option is missing')
        values[name] = option.default
    return values


def parse_file(path, parser: configparser.ConfigParser, sections: Mapping[str, Mapping],
               required: tuple = ()) -> Config:
    """Applies a file schema: known sections parsed, ``x:`` sections kept raw."""
    parsed, extra = {}, {}
    for section in parser.sections():
        if section.startswith(EXTRA_PREFIX):
            extra[section[len(EXTRA_PREFIX):]] = dict(parser.items(section))
        elif section not in sections:
            raise ConfigError(f'{_where(path, section)}: unknown section'
                              + _hint(section, sections))
    for section in required:
        if not parser.has_section(section):
            raise ConfigError(f'{_where(path, section)}: required section is missing')
    for section, options in sections.items():
        items = dict(parser.items(section)) if parser.has_section(section) else {}
        parsed[section] = parse_section(path, section, items, options)
    present = [name for name in parser.sections() if name in sections]
    return Config(path, parsed, present, extra)


def load_app(path) -> Config:
    """Loads and checks the application configuration."""
    app = parse_file(path, read_ini(path), s.APP, s.APP_REQUIRED)
    if 'mail' in app.present:
        mail = app['mail']
        for name in ('host', 'from_addr'):
            if not mail[name]:
                raise ConfigError(f'{_where(path, "mail", name)}: required option is missing')
        if bool(mail['user']) != bool(mail['password']):
            missing = 'password' if mail['user'] else 'user'
            raise ConfigError(f'{_where(path, "mail", missing)}: '
                              'user and password must be given together')
    if 'daemon' in app.present:
        for name in ('jobs', 'pidfile'):
            if not app['daemon'][name]:
                raise ConfigError(f'{_where(path, "daemon", name)}: required option is missing')
    _check_mail_template(app, app.path, app['notify']['mail_cfg'])
    _note_exposed(app, app, app.path)
    return app


def _check_mail_template(app: Config, path: str, name: str | None) -> None:
    """A template file that is a FIFO, a device or too large is a mistake seen here;
    a missing or broken one falls back to the default template when a mail is sent."""
    folder = app['global']['mail_cfgs_dir']
    if not name or name.lower() == 'default' or not folder:
        return
    template = os.path.join(folder, name)
    try:
        problem = smallfile.problem(os.stat(template))
    except OSError:
        return
    if problem:
        raise ConfigError(f'{_where(path, "notify", "mail_cfg")}: {template}: {problem}')


def _note_exposed(config: Config, sections, path: str) -> None:
    """Adds a warning to ``config`` when ``sections`` hold a secret and the file
    ``path`` can be read by other users."""
    warning = privacy.holds_secret(sections) and privacy.exposed(path)
    if warning and warning not in config.warnings:
        config.warnings.append(warning)


def parse_host(path, section: str, items: Mapping[str, str], app: Config | None) -> dict:
    """Parses one host definition (from the hosts file or a transfer() dict)."""
    raw_type = next((v for k, v in items.items() if k.lower() == 'type'), None)
    if raw_type is None or not str(raw_type).strip():
        raise ConfigError(f'{_where(path, section, "type")}: required option is missing')
    host_type = parse_section(path, section, {'type': raw_type},
                              {'type': s.HOST['FTP']['type']})['type']
    host = parse_section(path, section, items, s.HOST[host_type])
    _check_host(path, section, host, app)
    return host


def _check_host(path, section, host, app):
    kind = host['type']
    name, port = host['host']
    if kind == 'FASP' and host['tcp_port']:
        if port and port != host['tcp_port']:
            raise ConfigError(f'{_where(path, section, "tcp_port")}: {host["tcp_port"]} '
                              f'differs from the port given in host ({port})')
        port = host['tcp_port']
    host['host'], host['port'] = name, port or s.DEFAULT_PORTS[kind]
    sftp = app['sftp'] if app else {}
    app_path = app.path if app else None
    if kind == 'SFTP':
        key_type = host['key_type']
        if key_type and not host['key_file']:
            prefix = f'key_{key_type.lower()}_'
            host['key_file'] = sftp.get(prefix + 'file')
            host['key_pass'] = host['key_pass'] or sftp.get(prefix + 'pass')
            if not host['key_file']:
                where_else = f' or {prefix}file in [sftp] of {app_path}' if app else ''
                raise ConfigError(f'{_where(path, section, "key_file")}: required for '
                                  f'key_type {key_type} (here{where_else})')
        if not host['password'] and not host['key_file']:
            raise ConfigError(f'{_where(path, section, "password")}: '
                              'required when no key is configured (key_type/key_file)')
        if host['transport'] == 'openssh' and (host['key_pass'] or not host['key_file']):
            raise ConfigError(f'{_where(path, section, "transport")}: openssh needs a key '
                              'without a passphrase (key_file and no key_pass); use auto')
        host['known_hosts'] = host['known_hosts'] or sftp.get('known_hosts')
        if not host['known_hosts']:
            where_else = f' or in [sftp] of {app_path}' if app else ''
            raise ConfigError(f'{_where(path, section, "known_hosts")}: '
                              f'required option is missing (here{where_else})')
    elif kind == 'FASP':
        if not host['password'] and not host['key_file']:
            raise ConfigError(f'{_where(path, section, "password")}: '
                              'required when no key_file is given')
        from filetransfer.endpoints.fasp import endpoint as fasp
        fasp.check_host(path, section, host)
    elif not host['password']:
        raise ConfigError(f'{_where(path, section, "password")}: required option is missing')


def load_host(path, host_id: str, app: Config) -> dict:
    """Loads one host of the hosts file."""
    parser = read_ini(path)
    if not parser.has_section(host_id):
        raise ConfigError(f'{path}: no host [{host_id}]' + _hint(host_id, parser.sections()))
    return parse_host(path, host_id, dict(parser.items(host_id)), app)


def _endpoint(job_path, section, options, app, hosts_cache) -> dict:
    host_id = options['host_id']
    if not host_id:
        return {'type': 'LOCAL', **options}
    hosts_cfg = app['global']['hosts_cfg']
    if not hosts_cfg:
        raise ConfigError(f'{_where(app.path, "global", "hosts_cfg")}: required because '
                          f'{_where(job_path, section, "host_id")} is set')
    if hosts_cfg not in hosts_cache:
        hosts_cache[hosts_cfg] = read_ini(hosts_cfg)
    parser = hosts_cache[hosts_cfg]
    if not parser.has_section(host_id):
        raise ConfigError(f'{_where(job_path, section, "host_id")}: no host [{host_id}] '
                          f'in {hosts_cfg}' + _hint(host_id, parser.sections()))
    host = parse_host(hosts_cfg, host_id, dict(parser.items(host_id)), app)
    return _merged(host, options)


def _merged(host: dict, options: dict) -> dict:
    """A host's options with an endpoint's; an endpoint option left unset does not
    hide a host option of the same name (a FASP host's resume)."""
    return {**host, **{name: value for name, value in options.items()
                       if value is not None or name not in host}}


def refuse_same_directory(where, source: dict, target: dict) -> None:
    """A local source and target in the same directory would overwrite (and, with
    delete, remove) the very files being read."""
    if source['type'] == target['type'] == 'LOCAL' and \
            os.path.realpath(source['path']) == os.path.realpath(target['path']):
        raise ConfigError(f'{where}: [source] path and [target] path are the same '
                          f'directory ({source["path"]})')


def check_endpoint_types(where, source: dict, target: dict) -> None:
    """What a job may do with its types of endpoints (FASP: endpoints/fasp.py;
    resume: resume.py)."""
    from filetransfer.run.resume import check_config
    check_config(where, source, target)
    if 'FASP' in (source['type'], target['type']):
        from filetransfer.endpoints.fasp import endpoint as fasp
        fasp.check_job(where, source, target)


def job_path(app: Config, job_id: str) -> str:
    if (not job_id or job_id in ('.', '..') or '/' in job_id or '\0' in job_id
            or job_id.startswith('-')):
        raise ConfigError(f'invalid job id {job_id!r}: expected a file name without "/"')
    glob = app['global']
    return os.path.join(glob['jobs_dir'], job_id + glob['job_cfg_ext'])


def job_ids(app: Config) -> list[str]:
    """The ids of the job files in ``jobs_dir`` (hidden files left out), sorted."""
    glob = app['global']
    folder, ext = glob['jobs_dir'], glob['job_cfg_ext']
    try:
        names = os.listdir(folder)
    except OSError as exc:
        raise ConfigError(f'{_where(app.path, "global", "jobs_dir")}: cannot list '
                          f'{folder}: {exc.strerror}') from None
    return sorted(name[:-len(ext)] for name in names
                  if name.endswith(ext) and len(name) > len(ext) and not name.startswith('.')
                  and os.path.isfile(os.path.join(folder, name)))


def load_job(app: Config, job_id: str) -> Config:
    """Loads a job file; its [source] and [target] come back merged with their host."""
    path = job_path(app, job_id)
    if not os.path.exists(path):
        raise ConfigError(f'{path}: no such job file (job id {job_id!r})')
    job = parse_file(path, read_ini(path), s.JOB, s.JOB_REQUIRED)
    options = job['job']
    ready = options['ready_file']
    if ready and (ready in ('.', '..') or '/' in ready or '\0' in ready):
        raise ConfigError(f"{_where(path, 'job', 'ready_file')}: expected a file name in "
                          f"the source directory, got '{ready}'")
    if options['single_instance'] and not app['global']['locks_dir']:
        raise ConfigError(f'{_where(app.path, "global", "locks_dir")}: required because '
                          f'{_where(path, "job", "single_instance")} is set')
    from filetransfer.run.resume import wanted as resume_wanted
    if resume_wanted(job['target']) and not app['global']['locks_dir']:
        raise ConfigError(f'{_where(app.path, "global", "locks_dir")}: required because '
                          f'{_where(path, "target", "resume")} is set (the record kept '
                          "there tells the job's own partial files from others')")
    _check_mail_template(app, path, job['notify']['mail_cfg'])
    hosts = {}
    job['source'] = _endpoint(path, 'source', job['source'], app, hosts)
    job['target'] = _endpoint(path, 'target', job['target'], app, hosts)
    for role in ('source', 'target'):
        if job[role]['host_id']:
            _note_exposed(job, {role: job[role]}, app['global']['hosts_cfg'])
    refuse_same_directory(path, job['source'], job['target'])
    check_endpoint_types(path, job['source'], job['target'])
    return job


def endpoint_from_mapping(where: str, section: str, items, options) -> dict:
    """Parses a transfer() section: the source/target options plus, for a remote
    endpoint, the host options (no host_id)."""
    if isinstance(items, configparser.SectionProxy) or isinstance(items, Mapping):
        items = {str(k).lower(): v for k, v in items.items()}
    else:
        raise ConfigError(f'{where}: [{section}]: expected a dict or a config section')
    own = {name: option for name, option in options.items() if name != 'host_id'}
    if 'host_id' in items:
        raise ConfigError(f'{_where(where, section, "host_id")}: not allowed here; give '
                          'the host options directly')
    if str(items.get('type', '')).strip().upper() == 'FASP':
        own.pop('resume', None)    # the FASP host's option (a job's resume is not for FASP)
    endpoint_items = {k: v for k, v in items.items() if k in own}
    host_items = {k: v for k, v in items.items() if k not in own}
    endpoint = parse_section(where, section, endpoint_items, own)
    if not host_items:
        return {'type': 'LOCAL', 'host_id': None, **endpoint}
    if 'type' not in host_items:   # a local endpoint with a misspelt option
        name = next(iter(host_items))
        known = {**own, **s.HOST['FTPS'], **s.HOST['SFTP'], **s.HOST['FASP']}
        raise ConfigError(f'{_where(where, section, name)}: unknown option'
                          + ('' if name in known else _hint(name, known))
                          + ('; host options need a type' if name in known else ''))
    host = parse_host(where, section, host_items, None)
    return {**_merged(host, endpoint), 'host_id': None}
