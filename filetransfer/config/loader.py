"""Reads the INI files and applies the schemas (config/schema.py); every problem is a
ConfigError naming the file, the section and the option."""

import configparser
import os
from collections.abc import Mapping

from filetransfer import smallfile
from filetransfer.config import privacy
from filetransfer.config import schema as s
from filetransfer.config import types as t
from filetransfer.config.model import AppConfig, EndpointSpec, JobConfig
from filetransfer.config.place import Place
from filetransfer.errors import ConfigError

_NO_DEFAULT_SECTION = '\0'   # a [DEFAULT] section in a file is just an unknown section
EXTRA_PREFIX = 'x:'


def _hint(name, candidates):
    import difflib

    close = difflib.get_close_matches(name, list(candidates), n=1)
    return f' (did you mean {close[0]!r}?)' if close else ''


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


def parse_values(place: Place, items: Mapping[str, str], options: Mapping[str, s.Option]) -> dict:
    """Applies ``options`` to the raw ``items`` of one section: {name: value}.

    Empty values count as unset. Unknown options, missing required ones and values
    of the wrong type raise ConfigError.
    """
    names = {alias: name for name, option in options.items() for alias in option.aliases}
    values = {}
    for given, raw in items.items():
        given = given.lower()            # messages name the option as the file does
        name = names.get(given, given)
        option = options.get(name)
        if option is None:
            raise place.error(given, 'unknown option' + _hint(given, options))
        raw = raw.strip() if isinstance(raw, str) else raw
        if not isinstance(raw, str):
            raise place.error(given, f'expected a string value, got {type(raw).__name__}')
        if raw == '':
            continue
        try:
            values[name] = option.type(raw)
        except ValueError as exc:
            shown = '' if option.secret else f", got '{raw}'"
            raise place.error(given, f'{exc}{shown}') from None
    for name, option in options.items():
        if name in values:
            continue
        if option.required:
            raise place.error(name, 'required option is missing')
        values[name] = option.default
    return values


def parse_section(place: Place, items: Mapping[str, str], section_class):
    """One section as an instance of its class (config/schema.py)."""
    return section_class(**parse_values(place, items, s.options_of(section_class)))


def _parse_file(path, parser: configparser.ConfigParser, sections: Mapping[str, type],
                required: tuple) -> tuple[dict, dict]:
    """A file's sections: ({name: section object, None when absent}, x: sections)."""
    extra = {}
    for section in parser.sections():
        if section.startswith(EXTRA_PREFIX):
            extra[section[len(EXTRA_PREFIX):]] = dict(parser.items(section))
        elif section not in sections:
            raise Place(path, section).error(None, 'unknown section' + _hint(section, sections))
    for section in required:
        if not parser.has_section(section):
            raise Place(path, section).error(None, 'required section is missing')
    parsed = {name: parse_section(Place(path, name), dict(parser.items(name)), cls)
              if parser.has_section(name) else None for name, cls in sections.items()}
    return parsed, extra


def load_app(path) -> AppConfig:
    """Loads and checks the application configuration."""
    from filetransfer.endpoints.registry import AppSections, app_section_names, app_sections

    path = str(path)
    parser = read_ini(path)
    # only the protocols whose sections the file has are imported
    protocol_classes = app_sections([name for name in app_section_names()
                                     if parser.has_section(name)])
    sections, extra = _parse_file(path, parser, {**s.APP_SECTIONS,
                                                 **dict.fromkeys(app_section_names()),
                                                 **protocol_classes}, s.APP_REQUIRED)
    mail, daemon = sections['mail'], sections['daemon']
    if mail is not None:
        for name in ('host', 'from_addr'):
            if not getattr(mail, name):
                raise Place(path, 'mail').error(name, 'required option is missing')
        if bool(mail.user) != bool(mail.password):
            missing = 'password' if mail.user else 'user'
            raise Place(path, 'mail').error(missing, 'user and password must be given together')
    if daemon is not None:
        for name in ('jobs', 'pidfile'):
            if not getattr(daemon, name):
                raise Place(path, 'daemon').error(name, 'required option is missing')
    protocol_sections = AppSections({name: sections[name] for name in protocol_classes})
    app = AppConfig(path, sections['global'], sections['logging'] or s.Logging(),
                    sections['notify'] or s.AppNotify(), protocol_sections, mail, daemon, extra)
    _check_mail_template(app, path, app.notify.mail_cfg)
    _note_exposed(app.warnings, path, mail, sections['notify'], *protocol_sections.values())
    return app


def _check_mail_template(app: AppConfig, path: str, name: str | None) -> None:
    """A template file that is a FIFO, a device or too large is a mistake seen here;
    a missing or broken one falls back to the default template when a mail is sent."""
    folder = app.global_.mail_cfgs_dir
    if not name or name.lower() == 'default' or not folder:
        return
    template = os.path.join(folder, name)
    try:
        problem = smallfile.problem(os.stat(template))
    except OSError:
        return
    if problem:
        raise Place(path, 'notify').error('mail_cfg', f'{template}: {problem}')


def _note_exposed(warnings: list, path: str, *sections) -> None:
    """Adds a warning when ``sections`` hold a secret and the file ``path`` can be
    read by other users."""
    warning = privacy.holds_secret(*sections) and privacy.exposed(path)
    if warning and warning not in warnings:
        warnings.append(warning)


def parse_host(path, section: str, items: Mapping[str, str], app: AppConfig | None) -> s.Host:
    """Parses one host definition (from the hosts file or a transfer() dict)."""
    from filetransfer.endpoints.registry import names, protocol

    place = Place(str(path), section)
    raw_type = next((v for k, v in items.items() if k.lower() == 'type'), None)
    if raw_type is None or not str(raw_type).strip():
        raise place.error('type', 'required option is missing')
    try:
        found = protocol(t.choice(*names())(str(raw_type).strip()))
    except ValueError as exc:
        raise place.error('type', f"{exc}, got '{str(raw_type).strip()}'") from None
    values = parse_values(place, items, s.options_of(found.host_class))
    values['type'] = found.name
    values['host'], values['port'] = values['host'][0], values['host'][1] or 0
    found.check_host(place, values, app)
    values['port'] = values['port'] or found.default_port
    return found.host_class(**values)


def load_host(path, host_id: str, app: AppConfig) -> s.Host:
    """Loads one host of the hosts file."""
    parser = read_ini(path)
    if not parser.has_section(host_id):
        raise ConfigError(f'{path}: no host [{host_id}]' + _hint(host_id, parser.sections()))
    return parse_host(path, host_id, dict(parser.items(host_id)), app)


def _endpoint(job_path, role: str, options, app: AppConfig, hosts_cache) -> EndpointSpec:
    if not options.host_id:
        return EndpointSpec(role, options)
    hosts_cfg = app.global_.hosts_cfg
    if not hosts_cfg:
        raise Place(app.path, 'global').error(
            'hosts_cfg', f'required because {Place(job_path, role)("host_id")} is set')
    if hosts_cfg not in hosts_cache:
        hosts_cache[hosts_cfg] = read_ini(hosts_cfg)
    parser = hosts_cache[hosts_cfg]
    if not parser.has_section(options.host_id):
        raise Place(job_path, role).error(
            'host_id', f'no host [{options.host_id}] in {hosts_cfg}'
            + _hint(options.host_id, parser.sections()))
    host = parse_host(hosts_cfg, options.host_id, dict(parser.items(options.host_id)), app)
    return EndpointSpec(role, options, host)


def refuse_same_directory(where, source: EndpointSpec, target: EndpointSpec) -> None:
    """A local source and target in the same directory would overwrite (and, with
    delete, remove) the very files being read."""
    if source.type == target.type == 'LOCAL' and \
            os.path.realpath(source.path) == os.path.realpath(target.path):
        raise ConfigError(f'{where}: [source] path and [target] path are the same '
                          f'directory ({source.path})')


def check_endpoint_types(where, source: EndpointSpec, target: EndpointSpec) -> None:
    """What a job may do with its types of endpoints: ``resume`` (run/resume.py), and
    a protocol's own rules (its check_job)."""
    from filetransfer.endpoints.registry import protocol

    if target.options.resume:
        if target.options.temp is None:
            raise ConfigError(f'{where}: [target] resume: needs temp (a partial file under its '
                              'final name would look complete to the readers of the target)')
        if 'FASP' in (source.type, target.type):
            raise ConfigError(f"{where}: [target] resume: not for FASP transfers; set the "
                              "FASP host's resume_check option (ascp resumes by itself)")
    for spec in (source, target):
        if spec.host is not None and protocol(spec.type).check_job is not None:
            protocol(spec.type).check_job(where, source, target)
            return


def job_path(app: AppConfig, job_id: str) -> str:
    if (not job_id or job_id in ('.', '..') or '/' in job_id or '\0' in job_id
            or job_id.startswith('-')):
        raise ConfigError(f'invalid job id {job_id!r}: expected a file name without "/"')
    return os.path.join(app.global_.jobs_dir, job_id + app.global_.job_cfg_ext)


def job_ids(app: AppConfig) -> list[str]:
    """The ids of the job files in ``jobs_dir`` (hidden files left out), sorted."""
    folder, ext = app.global_.jobs_dir, app.global_.job_cfg_ext
    try:
        names = os.listdir(folder)
    except OSError as exc:
        raise Place(app.path, 'global').error('jobs_dir', f'cannot list {folder}: '
                                                          f'{exc.strerror}') from None
    return sorted(name[:-len(ext)] for name in names
                  if name.endswith(ext) and len(name) > len(ext) and not name.startswith('.')
                  and os.path.isfile(os.path.join(folder, name)))


def load_job(app: AppConfig, job_id: str) -> JobConfig:
    """Loads a job file; its [source] and [target] come with their hosts."""
    path = job_path(app, job_id)
    if not os.path.exists(path):
        raise ConfigError(f'{path}: no such job file (job id {job_id!r})')
    sections, extra = _parse_file(path, read_ini(path), s.JOB_SECTIONS, s.JOB_REQUIRED)
    options = sections['job'] or s.JobOptions()
    ready = options.ready_file
    if ready and (ready in ('.', '..') or '/' in ready or '\0' in ready):
        raise Place(path, 'job').error('ready_file', f"expected a file name in the source "
                                                     f"directory, got '{ready}'")
    if options.single_instance and not app.global_.locks_dir:
        raise Place(app.path, 'global').error(
            'locks_dir', f'required because {Place(path, "job")("single_instance")} is set')
    notify = sections['notify'] or s.Notify()
    _check_mail_template(app, path, notify.mail_cfg)
    hosts = {}
    source = _endpoint(path, 'source', sections['source'], app, hosts)
    target = _endpoint(path, 'target', sections['target'], app, hosts)
    if target.options.resume and not app.global_.locks_dir:
        raise Place(app.path, 'global').error(
            'locks_dir', f'required because {Place(path, "target")("resume")} is set (the '
                         "record kept there tells the job's own partial files from others')")
    job = JobConfig(path, options, source, target, notify, extra)
    _note_exposed(job.warnings, path, sections['notify'])    # a ping or webhook URL
    for spec in (source, target):
        if spec.host is not None:
            _note_exposed(job.warnings, app.global_.hosts_cfg, spec.host)
    refuse_same_directory(path, source, target)
    check_endpoint_types(path, source, target)
    return job


def endpoint_from_mapping(where: str, role: str, items, section_class) -> EndpointSpec:
    """Parses a transfer() section: the source/target options plus, for a remote
    endpoint, the host options (no host_id)."""
    from filetransfer.endpoints.registry import protocols

    if isinstance(items, configparser.SectionProxy) or isinstance(items, Mapping):
        items = {str(k).lower(): v for k, v in items.items()}
    else:
        raise ConfigError(f'{where}: [{role}]: expected a dict or a config section')
    own = {name: option for name, option in s.options_of(section_class).items()
           if name != 'host_id'}
    if 'host_id' in items:
        raise Place(where, role).error('host_id', 'not allowed here; give the host options '
                                                  'directly')
    if str(items.get('type', '')).strip().upper() == 'FASP':
        own.pop('resume', None)    # the FASP host's option (a job's resume is not for FASP)
    place = Place(where, role)
    options = section_class(host_id=None, **parse_values(
        place, {k: v for k, v in items.items() if k in own}, own))
    host_items = {k: v for k, v in items.items() if k not in own}
    if not host_items:
        return EndpointSpec(role, options)
    if 'type' not in host_items:   # a local endpoint with a misspelt option
        name = next(iter(host_items))
        known = dict(own)
        for protocol in protocols():
            known.update(s.options_of(protocol.host_class))
        raise place.error(name, 'unknown option' + ('' if name in known else _hint(name, known))
                          + ('; host options need a type' if name in known else ''))
    return EndpointSpec(role, options, parse_host(where, role, host_items, None))

