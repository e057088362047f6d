"""The endpoints of a job: a local directory, or a directory on a server of one of
the protocols of the registry (a protocol's package is imported only when a job
uses it). The names of endpoints/base.py are loaded when first used: the loader
reads the registry without them."""

import importlib

_FROM_BASE = ('Endpoint', 'FileEntry', 'SourceReadError', 'SourceReader')


def create(spec) -> 'Endpoint':
    """An unopened endpoint for a config.EndpointSpec."""
    if spec.host is None:
        from filetransfer.endpoints.local import LocalEndpoint
        return LocalEndpoint(spec)
    from filetransfer.endpoints.registry import protocol
    chosen = protocol(spec.type)
    if chosen.start_early is None:
        return chosen.endpoint().create(spec)
    early = chosen.start_early(spec)
    return chosen.endpoint().create(spec, early)


def __getattr__(name: str):
    if name not in _FROM_BASE:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    value = getattr(importlib.import_module('filetransfer.endpoints.base'), name)
    globals()[name] = value
    return value


__all__ = [*_FROM_BASE, 'create']
