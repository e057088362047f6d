"""SFTP servers, over OpenSSH's ssh or paramiko's transport."""

import importlib
import importlib.util
import sys
import types

from filetransfer.endpoints.registry import Protocol
from filetransfer.endpoints.sftp.options import SftpDefaults, SftpHost, check_host

APP_SECTIONS = {'sftp': SftpDefaults}


def _start_early(spec):
    from filetransfer.endpoints.sftp import sshpipe

    return sshpipe.start_early(spec)


PROTOCOLS = (
    Protocol('SFTP', SftpHost, 22, 'filetransfer.endpoints.sftp.endpoint', check_host,
             start_early=_start_early),
)



class _Deferred(types.ModuleType):
    """Stands in for a module not imported yet: its first attribute looked up (other
    than those of a module spec) imports the real module, which then takes its
    place in sys.modules, and is answered from it."""

    def __getattr__(self, name):
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        real = importlib.import_module(self.__name__)
        return getattr(real, name)


def _defer_invoke() -> None:
    """paramiko imports invoke for its ssh_config's `Match exec`, which this package
    does not use, and that import costs some 70 ms of every SFTP run: a stand-in
    takes its place until someone uses it."""
    if 'invoke' in sys.modules:
        return
    spec = importlib.util.find_spec('invoke')
    if spec is None:
        return
    stand_in = _Deferred('invoke')
    stand_in.__spec__ = spec
    if spec.submodule_search_locations is not None:
        stand_in.__path__ = list(spec.submodule_search_locations)
    sys.modules['invoke'] = stand_in


_defer_invoke()
