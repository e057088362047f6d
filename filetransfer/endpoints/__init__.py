"""The endpoints of a job: a local directory, or a directory on a server of one of
the protocols of the registry (a protocol's package is imported only when a job
uses it). The names of endpoints/base.py are loaded when first used: the loader
reads the registry without them."""

import importlib

_FROM_BASE = ('Endpoint', 'FileEntry', 'SourceReadError', 'SourceReader')


def create(spec, early: 'EarlyLogin | None' = None) -> 'Endpoint':
    """An unopened endpoint for a config.EndpointSpec; it takes over the login
    ``early`` started for the same spec, if it is still there."""
    if spec.host is None:
        from filetransfer.endpoints.local import LocalEndpoint
        return LocalEndpoint(spec)
    from filetransfer.endpoints.registry import protocol
    chosen = protocol(spec.type)
    if chosen.start_early is None:
        return chosen.endpoint().create(spec)
    started = early.take() if early is not None and early.spec is spec else None
    return chosen.endpoint().create(spec, started or chosen.start_early(spec))


class EarlyLogin:
    """The login of an endpoint, started while the run does its other work before
    opening it (the protocol's start_early): create() of the same spec takes it
    over; end() stops it when nothing did."""

    def __init__(self, spec, started):
        self.spec = spec
        self._started = started

    def take(self):
        started, self._started = self._started, None
        return started

    def end(self) -> None:
        started = self.take()
        if started is not None:
            started.kill()


def log_in_early(spec) -> EarlyLogin | None:
    """The login of ``spec``'s endpoint started now, or None when its protocol
    starts nothing ahead of the endpoint."""
    if spec is None or spec.host is None:
        return None
    from filetransfer.endpoints.registry import protocol
    chosen = protocol(spec.type)
    if chosen.start_early is None:
        return None
    return EarlyLogin(spec, chosen.start_early(spec))


def __getattr__(name: str):
    if name not in _FROM_BASE:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    value = getattr(importlib.import_module('filetransfer.endpoints.base'), name)
    globals()[name] = value
    return value


__all__ = [*_FROM_BASE, 'EarlyLogin', 'create', 'log_in_early']
