"""The files of a FASP host through ascmd (faspmanager.Ascmd), for what ascp cannot do:
the ready file of a FASP source, the listing of a dry run, of a daemon scan, of a
later try of a download and of a download by age or with an archive, moving a
source's files into its archive, and removing what a failed upload left on the host.

ascmd runs on the same SSH login as ascp, also for the users of an Aspera server that
are restricted to ``aspshell`` (which offers no SFTP), and it sees ascp's paths: the
job's ``path`` is below the user's docroot when the server has one, as for ascp. The
session is opened when needed; the endpoint closes it while ascp works (an idle SSH
connection may be dropped during a long transfer).

ascmd's ``as_rm`` removes a directory with all it holds: ``remove`` refuses a
directory. ascmd tells nothing that identifies a directory, so a loop through
symbolic links is stopped by the walk's limits only (endpoints/remote.py).
"""

import contextlib
import errno
import logging
import posixpath

from filetransfer.endpoints.base import FileEntry, unsafe_path_reason
from filetransfer.endpoints.fasp.options import credentials, label
from filetransfer.endpoints.remote import Listed, moved_path, relative_dir, walk_tree
from filetransfer.errors import ConnectError, TransferError, error_text

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0      # seconds for the login and each answer, when timeout is 0
KINDS = {'file': 'file', 'directory': 'dir', 'link': 'link'}


class AscmdSide:
    """The host's directory ``spec.path`` (in ascp's path space) through ascmd."""

    def __init__(self, spec):
        self.server = spec.host          # an options.FaspHost
        self.root = spec.path
        self.role = spec.role
        self.where = self.label = label(self.server)
        self._cmd = None

    # -- the session ------------------------------------------------------------
    def connect(self) -> None:
        """Logs in and checks that the server runs ascmd for the user. Raises
        ConnectError (not retryable for a refused login or a server without ascmd)."""
        import faspmanager

        cmd = self._session()
        try:
            cmd.info()
        except OSError:
            pass                # an answer, if not to this request: ascmd is there
        except faspmanager.AscmdConnectionError as exc:
            self.close()
            raise ConnectError(f'{self.where}: ascmd does not answer ({exc}); a server that '
                               'offers SFTP instead can be reached with remote_commands = '
                               'sftp', retryable=False) from None

    def _session(self):
        if self._cmd is None:
            import faspmanager

            server = self.server
            secret, identity = credentials(server)
            try:
                self._cmd = faspmanager.Ascmd(
                    server.host, server.user, port=server.port, password=secret,
                    identity=identity, passphrase=secret if identity else None,
                    fingerprint=server.ssh_fingerprint,
                    timeout=server.timeout or DEFAULT_TIMEOUT)
            except faspmanager.AscmdConnectionError as exc:
                raise ConnectError(str(exc), retryable=not exc.login_refused) from None
        return self._cmd

    def close(self) -> None:
        cmd, self._cmd = self._cmd, None
        if cmd is not None:
            cmd.close()

    @contextlib.contextmanager
    def _guard(self):
        """The session; a broken one becomes TransferError (a file's problem stays an
        OSError), and it is dropped after any failure that may leave it out of step."""
        import faspmanager

        cmd = self._session()
        try:
            yield cmd
        except faspmanager.AscmdConnectionError as exc:
            self.close()
            raise TransferError(f'{self.where}: {exc}') from None
        except OSError:
            raise
        except BaseException:       # an interruption in the middle of a request
            self.close()
            raise

    def _path(self, relpath: str) -> str:
        if not relpath:
            return self.root
        problem = unsafe_path_reason(relpath)
        if problem:
            raise OSError(errno.EINVAL, f'{relpath}: {problem}')
        return posixpath.join(self.root, relpath)

    # -- files ------------------------------------------------------------------
    def walk(self, descend):
        with self._guard() as cmd:
            try:
                root = cmd.stat(self.root, follow_links=True)
            except OSError as exc:
                what = 'does not exist' if exc.errno == errno.ENOENT \
                    else f'cannot be opened: {error_text(exc)}'
                raise ConnectError(f'{self.where}: {self.role} directory {self.root} {what}',
                                   retryable=False) from None
            if not root.is_dir:
                raise ConnectError(f'{self.where}: {self.role} directory {self.root} is not '
                                   'a directory', retryable=False)
            yield from walk_tree(self.where, Listed('', 'dir'), descend,
                                 lambda reldir: self._list_dir(cmd, reldir),
                                 lambda one, other: False,
                                 lambda relpath, entry: self._settle(cmd, relpath, entry))

    def _list_dir(self, cmd, reldir: str) -> list[Listed] | None:
        path = self._path(reldir)
        try:
            entries = cmd.ls(path)
        except OSError as exc:
            if not reldir:
                raise ConnectError(f'{self.where}: cannot list {self.role} directory '
                                   f'{path}: {error_text(exc)}') from None
            log.warning('%s: cannot list directory %s: %s', self.where, path, error_text(exc))
            return None
        return [Listed(entry.name, KINDS.get(entry.kind, 'other'), entry.size, entry.mtime)
                for entry in entries]

    def _settle(self, cmd, relpath: str, entry: Listed) -> Listed | None:
        """A symbolic link becomes what it leads to, as ascp follows it."""
        if entry.kind != 'link':
            return entry
        try:
            stat = cmd.stat(self._path(relpath), follow_links=True)
        except OSError as exc:
            log.warning('%s: skipping symbolic link %s: %s', self.where, relpath,
                        error_text(exc))
            return None
        return entry._replace(kind='dir' if stat.is_dir else 'file', size=stat.size)

    def stat(self, relpath: str) -> FileEntry | None:
        with self._guard() as cmd:
            try:
                stat = cmd.stat(self._path(relpath), follow_links=True)
            except (FileNotFoundError, NotADirectoryError):
                return None
        return FileEntry(relpath, stat.size, stat.mtime) if stat.is_file else None

    def rename(self, relpath: str, new_relpath: str) -> None:
        source, target = self._path(relpath), self._path(new_relpath)
        with self._guard() as cmd:
            parent = posixpath.dirname(target)
            if parent and parent != '/':
                cmd.mkdir(parent, parents=True)
            cmd.mv(source, target)

    def relative_dir(self, folder: str) -> str | None:
        return relative_dir(self.root, folder)

    def move_into(self, relpath: str, folder: str, new_relpath: str) -> None:
        """Endpoint.move_into through ``as_mv``, which may replace what it finds: a
        name the target directory has is looked at first."""
        source, target = self._path(relpath), moved_path(self.root, folder, new_relpath,
                                                          OSError)
        with self._guard() as cmd:
            parent = posixpath.dirname(target)
            if parent and parent != '/':
                cmd.mkdir(parent, parents=True)
            if cmd.exists(target):
                raise FileExistsError(errno.EEXIST, 'a file exists under this name', target)
            cmd.mv(source, target)

    def remove(self, relpath: str) -> None:
        path = self._path(relpath)
        with self._guard() as cmd:
            if cmd.stat(path).is_dir:
                raise IsADirectoryError(errno.EISDIR, 'a directory, not a file', path)
            cmd.rm(path)
