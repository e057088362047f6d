"""Endpoints by type; a protocol module is imported only when a job uses it."""

import importlib

from filetransfer.endpoints.base import Endpoint, FileEntry, SourceReadError, SourceReader

_MODULES = {'LOCAL': 'local', 'FTP': 'ftp.endpoint', 'FTPS': 'ftp.endpoint', 'SFTP': 'sftp.endpoint',
            'FASP': 'fasp.endpoint'}


def _module(config: dict):
    return importlib.import_module(f'{__name__}.{_MODULES[config["type"]]}')


def create(config: dict, role: str) -> Endpoint:
    """An unopened endpoint for a merged [source]/[target] config."""
    return _module(config).create(config, role)


def describe(config: dict) -> str:
    """How logs and mails name an endpoint: the path of a local directory,
    ``TYPE user@host:port path`` for a server."""
    if config['type'] == 'LOCAL':
        return config['path']
    host = config['host']
    if ':' in host:
        host = f'[{host}]'
    return f"{config['type']} {config['user']}@{host}:{config['port']} {config['path']}"


__all__ = ['Endpoint', 'FileEntry', 'SourceReadError', 'SourceReader', 'create', 'describe']
