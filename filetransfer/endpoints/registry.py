"""The protocols a host may have, each declared by its package: its host options
(a config.schema.Host subclass), default port, the checks of a host and of a job
with such a side, and the module of its endpoint (imported only when a job uses it).

Adding a protocol: a package under endpoints/ with its PROTOCOLS, named in _PACKAGES.
"""

import importlib
from dataclasses import dataclass
from typing import Callable


def _no_check(*args) -> None:
    pass


@dataclass(frozen=True)
class Protocol:
    name: str                    # the `type` of a host section
    host_class: type             # its options
    default_port: int
    endpoint_module: str         # has create(spec) -> Endpoint
    check_host: Callable = _no_check    # (Place, dict of values, AppConfig | None)
    check_job: Callable | None = None   # (where, source spec, target spec) with this side

    def endpoint(self):
        return importlib.import_module(self.endpoint_module)


# the package that declares each protocol, imported when a host of that type is read
_PACKAGES = {'FTP': 'ftp', 'FTPS': 'ftp', 'SFTP': 'sftp', 'FASP': 'fasp'}


def names() -> tuple[str, ...]:
    return tuple(_PACKAGES)


def protocol(name: str) -> Protocol:
    """The protocol ``name`` (one of names())."""
    package = importlib.import_module(f'filetransfer.endpoints.{_PACKAGES[name]}')
    return next(protocol for protocol in package.PROTOCOLS if protocol.name == name)


def protocols() -> list[Protocol]:
    return [protocol(name) for name in names()]


def app_sections() -> dict[str, type]:
    """The sections the protocols add to the application file, by name."""
    sections = {}
    for package in dict.fromkeys(_PACKAGES.values()):
        module = importlib.import_module(f'filetransfer.endpoints.{package}')
        sections.update(getattr(module, 'APP_SECTIONS', {}))
    return sections
