"""Reads the INI files and applies the schemas (config/schema.py); every problem is a
ConfigError naming the file, the section and the option.

The files are read as FileTransfer 0.11 reads them: ``%`` interpolation (``%%`` is a
percent sign, ``%(name)s`` the value of another option of the same section or of
[DEFAULT]), a [DEFAULT] section whose options apply to every section present that
knows them, and an empty value meaning the empty string. Values that 0.11 took
leniently are taken the same way, with a warning (``lenient`` of the loaded
configuration) that every run logs and `filetransfer check` reports.
"""

import configparser
import os
import re
from collections.abc import Mapping

from filetransfer import smallfile
from filetransfer.config import privacy
from filetransfer.config import schema as s
from filetransfer.config import types as t
from filetransfer.config.model import AppConfig, EndpointSpec, JobConfig
from filetransfer.config.place import Place
from filetransfer.errors import ConfigError

EXTRA_PREFIX = 'x:'
_REFERENCE_RE = re.compile(r'%\(([^)]+)\)s')
RAW_OPTIONS = ('msg_format',)    # read without interpolation: its %(...)s go to logging


def _hint(name, candidates):
    import difflib

    close = difflib.get_close_matches(name, list(candidates), n=1)
    return f' (did you mean {close[0]!r}?)' if close else ''


class IniFile(configparser.ConfigParser):
    """An INI file as read by `read_ini`: interpolation on, [DEFAULT] inherited."""

    def __init__(self, path):
        super().__init__(strict=True)
        self.path = str(path)

    def own_options(self, section: str) -> list[str]:
        """The options written in ``section`` itself (not inherited from [DEFAULT])."""
        return list(self._sections[section])

    def section_values(self, section: str) -> tuple[Mapping, set]:
        """The options of ``section`` with those of [DEFAULT] (a mapping that
        interpolates a value when it is looked up), and the names that come only
        from [DEFAULT]."""
        inherited = set(self.defaults()) - set(self.own_options(section))
        return _SectionValues(self, section), inherited

    def variables(self) -> set[str]:
        """The names that values of the file refer to (``%(name)s``): options that
        hold a part of other values, not options of the program."""
        texts = [*self.defaults().values()]
        for section in self.sections():
            texts += self._sections[section].values()
        return {name.lower() for text in texts if text
                for name in _REFERENCE_RE.findall(text)}


class _SectionValues(Mapping):
    """Values of a section, interpolated on access (configparser.InterpolationError)."""

    def __init__(self, parser: configparser.ConfigParser, section: str):
        self.parser, self.section = parser, section

    def __getitem__(self, name):
        return self.parser.get(self.section, name, raw=name in RAW_OPTIONS)

    def __iter__(self):
        return iter(self.parser.options(self.section))

    def __len__(self):
        return len(self.parser.options(self.section))


def read_ini(path) -> IniFile:
    """Reads an INI file strictly (no duplicates)."""
    parser = IniFile(path)
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


def _interpolation_problem(exc: configparser.InterpolationError, secret: bool) -> str:
    """What is wrong with a ``%`` in a value; nothing of a secret value is repeated."""
    if isinstance(exc, configparser.InterpolationMissingOptionError):
        name = '' if secret else f' %({exc.reference})s'
        return (f'the reference{name} names no option of this section or of [DEFAULT] '
                '(write %% for a percent sign)')
    if isinstance(exc, configparser.InterpolationDepthError):
        return ('a %(name)s reference leads back to itself (a reference names an option '
                'of this section or of [DEFAULT] only)')
    found = exc.message.partition('found: ')[2]
    shown = f', found {found}' if found and not secret else ''
    return f"'%' must be followed by '%' (a percent sign) or '(name)s' (a reference){shown}"


# Values given to transfer() other than strings: taken as str() takes them.
_AS_TEXT = (bool, int, float, os.PathLike)


def _raw_value(place: Place, items: Mapping, given: str, shown: str, option) -> str:
    try:
        raw = items[given]
    except configparser.InterpolationError as exc:
        raise place.error(shown, _interpolation_problem(exc, option.secret)) from None
    if isinstance(raw, os.PathLike):
        raw = os.fspath(raw)
    elif isinstance(raw, _AS_TEXT):
        raw = str(raw)
    if isinstance(raw, (list, tuple, set)):
        raise place.error(shown, f'expected a string value, got {type(raw).__name__} '
                                 '(several items are one string, separated by commas)')
    if not isinstance(raw, str):
        raise place.error(shown, f'expected a string value, got {type(raw).__name__}')
    return raw.strip()


def parse_values(place: Place, items: Mapping[str, str], options: Mapping[str, s.Option], *,
                 tolerated=(), notes: list | None = None) -> dict:
    """Applies ``options`` to the raw ``items`` of one section: {name: value}.

    An empty value is the empty string, handed to the option's type. ``tolerated``
    names items left out when the section does not know them (from [DEFAULT], or
    variables other values refer to).
    Unknown options, missing required ones and values of the wrong type raise
    ConfigError; a value taken leniently (types.Adjusted) is added to ``notes``.
    """
    names = {alias: name for name, option in options.items() for alias in option.aliases}
    values = {}
    for given in items:
        shown = given.lower()            # messages name the option as the file does
        name = names.get(shown, shown)
        option = options.get(name)
        if option is None:
            if shown in tolerated:
                continue                 # for other sections, or a variable
            raise place.error(shown, 'unknown option' + _hint(shown, options))
        raw = _raw_value(place, items, given, shown, option)
        got = '' if option.secret else f", got '{raw}'"
        try:
            value = option.type(raw)
        except ValueError as exc:
            raise place.error(shown, f'{exc}{got}') from None
        if isinstance(value, t.Adjusted):
            if notes is not None:
                notes.append(f'{place(shown)}: {value.note}'
                             + ('' if option.secret else f" (value '{raw}')"))
            value = value.value
        values[name] = value
    for name, option in options.items():
        if name in values:
            continue
        if option.required:
            raise place.error(name, 'required option is missing')
        values[name] = option.default
    return values


def parse_section(place: Place, items: Mapping[str, str], section_class, *, tolerated=(),
                  notes: list | None = None):
    """One section as an instance of its class (config/schema.py)."""
    return section_class(**parse_values(place, items, s.options_of(section_class),
                                        tolerated=tolerated, notes=notes))


def _check_defaults(parser: IniFile, known) -> None:
    """A [DEFAULT] option that no section of the file knows (and no value refers
    to) is a mistake."""
    known = set(known) | parser.variables()
    for name in parser.defaults():
        if name not in known:
            raise Place(parser.path, 'DEFAULT').error(name, 'unknown option'
                                                            + _hint(name, known))


def _known_names(section_classes) -> set:
    known = set()
    for cls in section_classes:
        for name, option in s.options_of(cls).items():
            known.update((name, *option.aliases))
    return known


def _parse_file(parser: IniFile, sections: Mapping[str, type], required: tuple,
                notes: list) -> tuple[dict, dict]:
    """A file's sections: ({name: section object, None when absent}, x: sections)."""
    path = parser.path
    extra = {}
    for section in parser.sections():
        if section.startswith(EXTRA_PREFIX):
            extra[section[len(EXTRA_PREFIX):]] = dict(parser.items(section, raw=True))
        elif section not in sections:
            raise Place(path, section).error(None, 'unknown section' + _hint(section, sections))
    for section in required:
        if not parser.has_section(section):
            raise Place(path, section).error(None, 'required section is missing')
    if not extra:      # the x: sections of the program using the library get them all
        _check_defaults(parser, _known_names(cls for cls in sections.values() if cls))
    variables = parser.variables()
    parsed = {}
    for name, cls in sections.items():
        if parser.has_section(name):
            items, inherited = parser.section_values(name)
            parsed[name] = parse_section(Place(path, name), items, cls,
                                         tolerated=inherited | variables, notes=notes)
        else:
            parsed[name] = None
    return parsed, extra


def load_app(path) -> AppConfig:
    """Loads and checks the application configuration."""
    from filetransfer.endpoints.registry import AppSections, app_section_names, app_sections

    path = str(path)
    parser = read_ini(path)
    # only the protocols whose sections the file has are imported (all of them when
    # it has a [DEFAULT], whose options may be any section's)
    protocol_classes = app_sections([name for name in app_section_names()
                                     if parser.has_section(name) or parser.defaults()])
    notes = []
    sections, extra = _parse_file(parser, {**s.APP_SECTIONS,
                                           **dict.fromkeys(app_section_names()),
                                           **protocol_classes}, s.APP_REQUIRED, notes)
    mail, daemon = sections['mail'], sections['daemon']
    if mail == s.Mail():
        mail = None              # an empty [mail]: no mail server, as without the section
    if mail is not None:
        for name in ('host', 'from_addr'):
            if getattr(mail, name) is None:
                raise Place(path, 'mail').error(name, 'required option is missing')
        if (mail.user is None) != (mail.password is None):
            missing = 'password' if mail.user is not None else 'user'
            raise Place(path, 'mail').error(missing, 'user and password must be given together')
    if daemon is not None:
        for name in ('jobs', 'pidfile'):
            if not getattr(daemon, name):
                raise Place(path, 'daemon').error(name, 'required option is missing')
    protocol_sections = AppSections({name: sections[name] for name in protocol_classes})
    app = AppConfig(path, sections['global'], sections['logging'] or s.Logging(),
                    sections['notify'] or s.AppNotify(), protocol_sections, mail, daemon, extra,
                    warnings=list(notes), lenient=notes)
    _check_mail_template(app, path, app.notify.mail_cfg)
    _note_exposed(app.warnings, path, sections['global'], mail, sections['notify'],
                  *protocol_sections.values())
    return app


def _check_mail_template(app: AppConfig, path: str, name: str | None) -> None:
    """A template file that is a FIFO, a device or too large is a mistake seen here;
    a missing or broken one falls back to the default template when a mail is sent."""
    folder = app.global_.mail_cfgs_dir
    if not name or name.lower() == 'default' or folder is None:
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


def _other_type_options(found) -> dict:
    """The host options of the other protocols that ``found`` does not have."""
    import filetransfer.endpoints.registry as registry

    own = s.options_of(found.host_class)
    others = {}
    for other in registry.protocols():
        for name, option in s.options_of(other.host_class).items():
            if name not in own:
                others.setdefault(name, option)
    return others


def parse_host(path, section: str, items: Mapping[str, str], app: AppConfig | None, *,
               inherited=(), variables=(), notes: list | None = None) -> s.Host:
    """Parses one host definition (from the hosts file or a transfer() dict). An
    option of another host type is checked, then ignored with a note (as
    FileTransfer 0.11 ignored it); one that comes from [DEFAULT] without a note."""
    import filetransfer.endpoints.registry as registry

    place = Place(str(path), section)
    type_key = next((k for k in items if k.lower() == 'type'), None)
    if type_key is None:
        raise place.error('type', 'required option is missing')
    raw_type = _raw_value(place, items, type_key, 'type', s.Option())
    try:
        found = registry.protocol(t.choice(*registry.names())(raw_type))
    except ValueError as exc:
        raise place.error('type', f"{exc}, got '{raw_type}'") from None
    own = s.options_of(found.host_class)
    # the other protocols (their packages imported) only for an option not its own
    others = {} if all(key.lower() in own for key in items) else _other_type_options(found)
    foreign = [key for key in items if key.lower() in others]
    own_items = _Items(items, [key for key in items if key.lower() not in others])
    if foreign:
        ignored = parse_values(place, _Items(items, foreign),
                               {key.lower(): others[key.lower()] for key in foreign})
        for name in ignored:
            if notes is not None and name not in inherited:
                notes.append(f'{place(name)}: does not apply to a host of type '
                             f'{found.name}; ignored')
    values = parse_values(place, own_items, own, tolerated=set(inherited) | set(variables),
                          notes=notes)
    values['type'] = found.name
    values['host'], values['port'] = values['host'][0], values['host'][1] or 0
    found.check_host(place, values, app)
    values['port'] = values['port'] or found.default_port
    return found.host_class(**values)


class _Items(Mapping):
    """Some keys of a mapping, their values looked up when read."""

    def __init__(self, items: Mapping, keys):
        self._items, self._keys = items, list(keys)

    def __getitem__(self, key):
        if key not in self._keys:
            raise KeyError(key)
        return self._items[key]

    def __iter__(self):
        return iter(self._keys)

    def __len__(self):
        return len(self._keys)


def _host_values(parser: IniFile, host_id: str):
    """A host section's values and inherited names; the file's [DEFAULT] checked."""
    import filetransfer.endpoints.registry as registry

    if parser.defaults():       # else nothing to check: no protocol package imported
        _check_defaults(parser, _known_names(p.host_class for p in registry.protocols()))
    return parser.section_values(host_id)


def host_from_file(parser: IniFile, host_id: str, app: AppConfig | None,
                   notes: list | None = None) -> s.Host:
    """The host ``host_id`` of a hosts file that is read (see read_ini)."""
    items, inherited = _host_values(parser, host_id)
    return parse_host(parser.path, host_id, items, app, inherited=inherited,
                      variables=parser.variables(), notes=notes)


def load_host(path, host_id: str, app: AppConfig) -> s.Host:
    """Loads one host of the hosts file."""
    parser = read_ini(path)
    if not parser.has_section(host_id):
        raise ConfigError(f'{path}: no host [{host_id}]' + _hint(host_id, parser.sections()))
    return host_from_file(parser, host_id, app)


def _endpoint(job_path, role: str, options, app: AppConfig, hosts_cache,
              notes: list) -> EndpointSpec:
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
    host_notes = []
    host = host_from_file(parser, options.host_id, app, host_notes)
    notes.extend(note for note in host_notes if note not in notes)
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

    _check_file_options(where, source)
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


def _check_file_options(where, source: EndpointSpec) -> None:
    """The [source] options that exclude each other: archive_dir and delete, a
    max_age not longer than min_age, an archive that is the source directory itself."""
    options = source.options
    place = Place(str(where), 'source')
    if options.archive_dir is not None:
        if options.delete:
            raise place.error('archive_dir', 'cannot be used with delete = yes (a transferred '
                                             'file is either archived or deleted)')
        if _same_place(source, options.archive_dir):
            raise place.error('archive_dir', f"is the source directory itself, got "
                                             f"'{options.archive_dir}'")
    if options.min_age and options.max_age and options.max_age <= options.min_age:
        raise place.error('max_age', f'must be longer than min_age '
                                     f'({t.duration_text(options.min_age)}), or no file is '
                                     f'ever taken, got {t.duration_text(options.max_age)}')


def _same_place(spec: EndpointSpec, folder: str) -> bool:
    """Whether the directory ``folder`` (relative to the endpoint's path, or absolute)
    is the endpoint's directory itself."""
    import posixpath

    if spec.type == 'LOCAL':
        return os.path.realpath(os.path.join(spec.path, folder)) == os.path.realpath(spec.path)
    return posixpath.normpath(posixpath.join(spec.path, folder)) == posixpath.normpath(spec.path)


def job_path(app: AppConfig, job_id: str) -> str:
    """The job file of ``job_id``: JOBS_DIR/JOBID + job_cfg_ext, or JOBS_DIR/JOBID when
    the id ends with the extension already. An id may name a file in a sub-directory
    of jobs_dir (``sub/job``), never one outside it."""
    problem = t.job_id_problem(job_id)
    if problem:
        raise ConfigError(f'invalid job id {job_id!r}: {problem}')
    ext = app.global_.job_cfg_ext
    name = job_id if ext and job_id.endswith(ext) else job_id + ext
    return os.path.join(app.global_.jobs_dir, name)


def job_ids(app: AppConfig) -> list[str]:
    """The ids of the job files in ``jobs_dir`` (hidden files left out), sorted."""
    folder, ext = app.global_.jobs_dir, app.global_.job_cfg_ext
    try:
        names = os.listdir(folder)
    except OSError as exc:
        raise Place(app.path, 'global').error('jobs_dir', f'cannot list {folder}: '
                                                          f'{exc.strerror}') from None
    return sorted(name[:len(name) - len(ext)] for name in names
                  if name.endswith(ext) and len(name) > len(ext) and not name.startswith('.')
                  and os.path.isfile(os.path.join(folder, name)))


def empty_item_warning(option: str, patterns) -> str | None:
    """The warning for an empty item among the `files` or `ignore` ``patterns``
    (``*.txt,``): it matches every file, which a stray comma seldom means."""
    if '' not in patterns:
        return None
    effect = 'ignored' if option == 'ignore' else 'selected'
    return ('an empty item (a comma at the start or the end, or two commas in a row) '
            f'matches every file: every file is {effect}')


def _note_empty_patterns(place: Place, source, notes: list) -> None:
    for option in ('files', 'ignore'):
        warning = empty_item_warning(option, getattr(source, option))
        if warning:
            notes.append(f'{place(option)}: {warning}')


def load_job(app: AppConfig, job_id: str) -> JobConfig:
    """Loads a job file; its [source] and [target] come with their hosts."""
    path = job_path(app, job_id)
    if not os.path.exists(path):
        raise ConfigError(f'{path}: no such job file (job id {job_id!r})')
    notes = []
    sections, extra = _parse_file(read_ini(path), s.JOB_SECTIONS, s.JOB_REQUIRED, notes)
    options = sections['job'] or s.JobOptions()
    shared = app.global_.locks_dir or app.global_.state_db   # where locks and records live
    if options.single_instance and not shared:
        raise Place(app.path, 'global').error(
            'locks_dir', f'required because {Place(path, "job")("single_instance")} is set '
                         '(or state_db)')
    _note_empty_patterns(Place(path, 'source'), sections['source'], notes)
    notify = sections['notify'] or s.Notify()
    _check_mail_template(app, path, notify.mail_cfg)
    hosts = {}
    source = _endpoint(path, 'source', sections['source'], app, hosts, notes)
    target = _endpoint(path, 'target', sections['target'], app, hosts, notes)
    if source.options.remember and not app.global_.locks_dir:
        raise Place(app.path, 'global').error(
            'locks_dir', f'required because {Place(path, "source")("remember")} is set (the '
                         'record of the files sent is kept there)')
    if target.options.resume and not shared:
        raise Place(app.path, 'global').error(
            'locks_dir', f'required because {Place(path, "target")("resume")} is set (or '
                         "state_db: the record kept there tells the job's own partial files "
                         "from others')")
    ready = options.ready_file
    if ready and source.host is not None and (ready.startswith('/') or '..' in ready.split('/')):
        raise Place(path, 'job').error('ready_file', f"expected a path inside the source "
                                                     f"directory (on its server), got '{ready}'")
    job = JobConfig(path, options, source, target, notify, extra, warnings=list(notes),
                    lenient=notes)
    _note_exposed(job.warnings, path, sections['notify'])    # a ping or webhook URL
    for spec in (source, target):
        if spec.host is not None:
            _note_exposed(job.warnings, app.global_.hosts_cfg, spec.host)
    refuse_same_directory(path, source, target)
    check_endpoint_types(path, source, target)
    return job


def endpoint_from_mapping(where: str, role: str, items, section_class,
                          notes: list | None = None) -> EndpointSpec:
    """Parses a transfer() section: the source/target options plus, for a remote
    endpoint, the host options (no host_id). Values may be strings, or numbers,
    booleans and paths (taken as str() gives them)."""
    from filetransfer.endpoints.registry import protocols

    if isinstance(items, configparser.SectionProxy) or isinstance(items, Mapping):
        keys = {str(k).lower(): k for k in items}
    else:
        raise ConfigError(f'{where}: [{role}]: expected a dict or a config section')
    own = {name: option for name, option in s.options_of(section_class).items()
           if name != 'host_id'}
    if 'host_id' in keys:
        raise Place(where, role).error('host_id', 'not allowed here; give the host options '
                                                  'directly')
    lowered = {key: items[given] for key, given in keys.items()}
    if str(lowered.get('type', '')).strip().upper() == 'FASP':
        # the FASP host's options (a job's resume and overwrite are not for FASP)
        own.pop('resume', None)
        own.pop('overwrite', None)
    place = Place(where, role)
    options = section_class(host_id=None, **parse_values(
        place, {k: v for k, v in lowered.items() if k in own}, own, notes=notes))
    if notes is not None and role == 'source':
        _note_empty_patterns(place, options, notes)
    host_items = {k: v for k, v in lowered.items() if k not in own}
    if not host_items:
        return EndpointSpec(role, options)
    if 'type' not in host_items:   # a local endpoint with a misspelt option
        name = next(iter(host_items))
        known = dict(own)
        for protocol in protocols():
            known.update(s.options_of(protocol.host_class))
        raise place.error(name, 'unknown option' + ('' if name in known else _hint(name, known))
                          + ('; host options need a type' if name in known else ''))
    return EndpointSpec(role, options, parse_host(where, role, host_items, None, notes=notes))
