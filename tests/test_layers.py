"""The packages of filetransfer form layers (docs/development.md, Layout): a module
imports from its own layer and the layers below it, never above; only the endpoint
packages speak a protocol (paramiko, ftplib, faspmanager), each only its own."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
# lowest first; a module's layer is the first that names a prefix of its name
LAYERS = [
    ('filetransfer.errors', 'filetransfer.secret', 'filetransfer.smallfile',
     'filetransfer.privatedirs', 'filetransfer.outcome', 'filetransfer.signals',
     'filetransfer.logs', 'filetransfer.jsonlog'),
    ('filetransfer.config',),
    ('filetransfer.endpoints',),
    ('filetransfer.notify', 'filetransfer.state'),
    ('filetransfer.run',),
    ('filetransfer.service',),
    ('filetransfer.cli', 'filetransfer.__init__', 'filetransfer.__main__'),
]
# the loader reads host options from the protocols' packages (they declare them)
ALLOWED_UPWARD = {('filetransfer.config.loader', 'filetransfer.endpoints.registry')}


def allowed(name: str, other: str) -> bool:
    return any(name == low and (other == high or other.startswith(high + '.'))
               for low, high in ALLOWED_UPWARD)
PROTOCOL_LIBRARIES = {'paramiko': 'filetransfer.endpoints.sftp',
                      'ftplib': 'filetransfer.endpoints.ftp',
                      'faspmanager': 'filetransfer.endpoints.fasp'}


def modules():
    for path in sorted((ROOT / 'filetransfer').rglob('*.py')):
        name = '.'.join(path.relative_to(ROOT).with_suffix('').parts)
        yield name.removesuffix('.__init__') if name.endswith('.__init__') and \
            name != 'filetransfer.__init__' else name, path
    for path in sorted((ROOT / 'cli').rglob('*.py')):
        yield 'filetransfer.cli.' + path.stem, path


def imported(path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f'{node.module}.{alias.name}' for alias in node.names)
    return names


def layer(name: str) -> int | None:
    for number, prefixes in enumerate(LAYERS):
        if any(name == prefix or name.startswith(prefix + '.') for prefix in prefixes):
            return number
    return None


@pytest.mark.parametrize('name, path', list(modules()), ids=lambda value: str(value))
def test_imports_stay_in_their_layer(name, path):
    own = layer(name)
    assert own is not None, f'{name} is in no layer'
    upward = sorted(other for other in imported(path)
                    if (layer(other) or 0) > own and not allowed(name, other)
                    and other != 'filetransfer')
    assert not upward, f'{name} imports from a higher layer: {upward}'


@pytest.mark.parametrize('name, path', list(modules()), ids=lambda value: str(value))
def test_only_a_protocols_package_speaks_it(name, path):
    for library, package in PROTOCOL_LIBRARIES.items():
        if any(other == library or other.startswith(library + '.')
               for other in imported(path)):
            assert name.startswith(package), f'{name} imports {library}'


# paramiko's private API (its names that start with '_', its SFTP modules and their
# message numbers) is used by one module, so that a paramiko release that changes
# it breaks that module only (tests/test_paramiko_pins.py checks what it relies on)
PARAMIKO_PRIVATE_USER = 'filetransfer.endpoints.sftp.requests'
PARAMIKO_MODULES = ('sftp', 'sftp_client', 'sftp_file', 'sftp_attr', 'file', 'message',
                    'transport', 'channel')


def paramiko_private_names() -> set[str]:
    import importlib
    import inspect
    names = set()
    for module in PARAMIKO_MODULES:
        source = inspect.getsource(importlib.import_module(f'paramiko.{module}'))
        for node in ast.walk(ast.parse(source)):
            name = node.attr if isinstance(node, ast.Attribute) else \
                node.name if isinstance(node, (ast.FunctionDef, ast.ClassDef)) else ''
            if name.startswith('_') and not name.startswith('__'):
                names.add(name)
    return names


def own_names(tree) -> set[str]:
    """The names a module defines itself: its functions, classes and the attributes
    it assigns (its objects' own '_' names are not paramiko's)."""
    return {node.name for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.ClassDef))} | \
        {node.attr for node in ast.walk(tree)
         if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)}


@pytest.mark.parametrize('name, path', [(name, path) for name, path in modules()
                                        if name != PARAMIKO_PRIVATE_USER],
                         ids=lambda value: str(value))
def test_only_one_module_uses_paramikos_private_api(name, path):
    private = paramiko_private_names()   # those of ``self`` are its class's own
    tree = ast.parse(path.read_text())
    used = sorted({f'{ast.unparse(node.value)}.{node.attr}' for node in ast.walk(tree)
                   if isinstance(node, ast.Attribute) and node.attr in private
                   and not (isinstance(node.value, ast.Name) and node.value.id == 'self')
                   and node.attr not in own_names(tree)}
                  | {other for other in imported(path) if other.startswith('paramiko.sftp')}
                  | {node.id for node in ast.walk(tree)
                     if isinstance(node, ast.Name) and node.id.startswith('CMD_')})
    assert not used, (f'{name} uses paramiko internals {used}: only '
                      f'{PARAMIKO_PRIVATE_USER} may')
