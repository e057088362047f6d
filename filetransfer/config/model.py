"""A loaded configuration: the application file, a job file with its endpoints.

These are what the loader hands to the runner, the endpoints, the notification and
the service: frozen objects whose attributes are the sections and options declared
in config/schema.py.
"""

from dataclasses import field

from filetransfer.config.record import Record, record
from filetransfer.config.schema import (AppNotify, Daemon, Global, Host, JobOptions, Logging,
                                        Mail, Notify, Source, Target)


@record
class AppConfig(Record):
    """The application file. ``mail`` and ``daemon`` are None when the file has no
    such section; ``extra`` holds its ``x:`` sections (prefix stripped, raw strings);
    ``warnings`` what a run should log about the file; ``lenient`` those of them
    that are values taken leniently (reported by `filetransfer check` too).
    ``protocol_sections`` holds the sections a protocol adds (SFTP's [sftp]), by name,
    present or not."""

    path: str
    global_: Global
    logging: Logging
    notify: AppNotify
    protocol_sections: dict = field(default_factory=dict)
    mail: Mail | None = None
    daemon: Daemon | None = None
    extra: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    lenient: list = field(default_factory=list)


@record
class EndpointSpec(Record):
    """One side of a job: its [source] or [target] options, and its host (None for
    a local directory)."""

    role: str                     # 'source' or 'target'
    options: Source | Target
    host: Host | None = None

    @property
    def type(self) -> str:
        """LOCAL, or the host's type (FTP, FTPS, SFTP, FASP)."""
        return self.host.type if self.host else 'LOCAL'

    @property
    def path(self) -> str:
        return self.options.path

    def url(self) -> str:
        """The endpoint as a URL: ``file://`` and the absolute path of a local
        directory, ``ftp://HOST:PORT/PATH`` (ftps, sftp, fasp) for a server."""
        if self.host is None:
            import os
            return 'file://' + os.path.abspath(self.path)
        name = f'[{self.host.host}]' if ':' in self.host.host else self.host.host
        return f'{self.host.type.lower()}://{name}:{self.host.port}/{self.path.lstrip("/")}'

    def describe(self) -> str:
        """How logs and mails name the endpoint: the path of a local directory,
        ``TYPE user@host:port path`` for a server."""
        if self.host is None:
            return self.path
        name = f'[{self.host.host}]' if ':' in self.host.host else self.host.host
        return f'{self.host.type} {self.host.user}@{name}:{self.host.port} {self.path}'


@record
class JobConfig(Record):
    """A job file, its endpoints complete with their hosts. ``extra`` holds its
    ``x:`` sections; ``warnings`` what a run should log about it and its hosts file;
    ``lenient`` those of them that are values taken leniently (see AppConfig)."""

    path: str
    job: JobOptions
    source: EndpointSpec
    target: EndpointSpec
    notify: Notify
    extra: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    lenient: list = field(default_factory=list)
