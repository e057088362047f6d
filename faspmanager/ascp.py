"""Finding the ascp executable: the ``ascp_path`` argument, then the environment
variable ``FASPMANAGER_ASCP``, then ``PATH``, then the usual install locations of IBM
Aspera's products."""

from __future__ import annotations

import errno
import os
import shutil
import sys

ENV_VAR = 'FASPMANAGER_ASCP'


def install_locations(platform: str | None = None) -> list[str]:
    """Where IBM Aspera products install ascp, most capable product first: the
    Transfer SDK, HSTS/Enterprise Server, Connect, the deprecated Aspera CLI, then the
    desktop applications."""
    platform = platform or sys.platform
    home = os.path.expanduser('~')
    if platform.startswith('win'):
        local = os.environ.get('LOCALAPPDATA', os.path.join(home, 'AppData', 'Local'))
        return [os.path.join(home, '.aspera', 'sdk', 'ascp.exe'),
                r'C:\Program Files\Aspera\Enterprise Server\bin\ascp.exe',
                os.path.join(local, 'Programs', 'Aspera', 'Aspera Connect', 'bin', 'ascp.exe'),
                r'C:\Program Files\Aspera\cli\bin\ascp.exe',
                r'C:\Program Files (x86)\Aspera\Enterprise Server\bin\ascp.exe']
    paths = [f'{home}/.aspera/sdk/ascp', f'{home}/.aspera/ascli/sdk/ascp']
    if platform == 'darwin':
        apps = [f'{home}/Applications', '/Applications']
        paths += ['/Library/Aspera/bin/ascp']
        paths += [f'{folder}/{name}/Contents/Resources/ascp' for folder in apps
                  for name in ('IBM Aspera Connect.app', 'Aspera Connect.app')]
        paths += [f'{home}/Applications/Aspera CLI/bin/ascp',
                  '/Applications/IBM Aspera.app/Contents/Resources/transferd/bin/ascp',
                  '/Applications/Aspera Drive.app/Contents/Resources/ascp']
    else:
        paths += ['/opt/aspera/bin/ascp', f'{home}/.aspera/connect/bin/ascp',
                  f'{home}/.aspera/cli/bin/ascp']
    return paths


def _executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _missing(path: str, why: str) -> FileNotFoundError:
    return FileNotFoundError(errno.ENOENT, f'ascp not found: {why}', path)


def find_ascp(ascp_path: str | os.PathLike | None = None) -> str:
    """The path of the ascp to run. An explicit ``ascp_path`` or ``FASPMANAGER_ASCP``
    must name an executable file (a bare name is looked up in PATH); otherwise PATH
    and the install locations are searched. Raises FileNotFoundError saying what was
    tried."""
    for given, origin in ((ascp_path, 'ascp_path'), (os.environ.get(ENV_VAR), ENV_VAR)):
        if given is None or given == '':
            continue
        given = os.fspath(given)
        found = given if os.sep in given else shutil.which(given)
        if found and _executable(found):
            return found
        raise _missing(given, f'{origin} {given!r} is not an executable file')
    found = shutil.which('ascp')
    if found:
        return found
    for path in install_locations():
        if _executable(path):
            return path
    raise _missing('ascp', f'not in PATH, {ENV_VAR} is not set, and none of '
                           f'{", ".join(install_locations())} exists')
