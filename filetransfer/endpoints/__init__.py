"""The endpoints of a job: a local directory, or a directory on a server of one of
the protocols of the registry (a protocol's package is imported only when a job
uses it)."""

from filetransfer.endpoints.base import Endpoint, FileEntry, SourceReadError, SourceReader


def create(spec) -> Endpoint:
    """An unopened endpoint for a config.EndpointSpec."""
    if spec.host is None:
        from filetransfer.endpoints.local import LocalEndpoint
        return LocalEndpoint(spec)
    from filetransfer.endpoints.registry import protocol
    return protocol(spec.type).endpoint().create(spec)


__all__ = ['Endpoint', 'FileEntry', 'SourceReadError', 'SourceReader', 'create']
