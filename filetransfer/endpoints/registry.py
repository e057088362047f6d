"""The protocols a host may have, each declared by its package: its host options
(a config.schema.Host subclass), default port, the checks of a host and of a job
with such a side, and the module of its endpoint (imported only when a job uses it).

Adding a protocol: a package under endpoints/ with its PROTOCOLS, named in _PACKAGES.
"""

import importlib
from typing import Callable

from filetransfer.config.record import Record, record


def _no_check(*args) -> None:
    pass


@record
class Protocol(Record):
    name: str                    # the `type` of a host section
    host_class: type             # its options
    default_port: int
    endpoint_module: str         # has create(spec) -> Endpoint
    check_host: Callable = _no_check    # (Place, dict of values, AppConfig | None)
    check_job: Callable | None = None   # (where, source spec, target spec) with this side
    # (spec) -> what the endpoint module's create(spec, early) takes over (with a
    # kill() that ends it when nothing does), or None: work started before that
    # module (and what it imports) loads
    start_early: Callable | None = None

    def endpoint(self):
        return importlib.import_module(self.endpoint_module)


# the package that declares each protocol, imported when a host of that type is read
_PACKAGES = {'FTP': 'ftp', 'FTPS': 'ftp', 'SFTP': 'sftp', 'FASP': 'fasp'}
# the sections protocols add to the application file (their package's APP_SECTIONS),
# and the package that declares each: imported when the file has the section
_APP_SECTION_PACKAGES = {'sftp': 'sftp'}


def names() -> tuple[str, ...]:
    return tuple(_PACKAGES)


def protocol(name: str) -> Protocol:
    """The protocol ``name`` (one of names())."""
    package = importlib.import_module(f'filetransfer.endpoints.{_PACKAGES[name]}')
    return next(protocol for protocol in package.PROTOCOLS if protocol.name == name)


def protocols() -> list[Protocol]:
    return [protocol(name) for name in names()]


def app_section_names() -> tuple[str, ...]:
    """The names of the sections the protocols add to the application file."""
    return tuple(_APP_SECTION_PACKAGES)


def app_sections(names=None) -> dict[str, type]:
    """The sections the protocols add to the application file, by name: all of
    them, or those of ``names`` (only their packages are imported)."""
    sections = {}
    for name in app_section_names() if names is None else names:
        module = importlib.import_module(f'filetransfer.endpoints.{_APP_SECTION_PACKAGES[name]}')
        sections[name] = module.APP_SECTIONS[name]
    return sections


class AppSections(dict):
    """The sections the protocols add to an application file, by name: those the
    file has, parsed; any other is made with its defaults when first asked for."""

    def __missing__(self, name: str):
        self[name] = app_sections([name])[name]()
        return self[name]
