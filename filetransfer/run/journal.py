"""The files a run is writing on its target, recorded in ``locks_dir`` so that a
later run can remove what a killed run (SIGKILL, a crash, a power cut) or a lost
connection left behind.

Each run keeps a record of its own, ``JOBID.writing.PID``, locked (flock) while the
run lives. A line is added before a file is written (its name on the target: the
temp name, or the final name without ``temp``) and another once that file is in
place under its final name or removed. When a run starts, records whose lock is
free belong to runs that ended; their open entries are taken over, and the copier
removes those files from the target (unless the run writes them again anyway).
A record without open entries is deleted at the end of its run.

Without ``locks_dir`` the record lives in memory only, for the tries of one run:
what it does not know is never removed or overwritten (see the copier), so a file
a killed run left behind then stays until someone removes it.

The record file is an aid: when it cannot be written, the job goes on without it
(a warning says so).

With ``[global] state_db`` (PostgreSQL) the record is kept in that database instead
(state/postgres.py WritingTable), so that a run on any host takes over what a run
on a host that died left: its entries belong to the run's row of the run history,
and a run has ended when its database session has. There a failed write stops the
run (StateLost): a file must not be taken for finished when it is not.
"""

import errno
import fcntl
import logging
import os

from filetransfer.privatedirs import make_private_dirs

log = logging.getLogger(__name__)

INFIX = '.writing.'


class Journal:
    """The record of one run of the job ``job_id``: in ``folder`` (a RecordFile),
    in ``store`` (another place that keeps the entries, such as the state database:
    state/postgres.py WritingTable; it may be set until `open`), or, with neither,
    in memory only."""

    def __init__(self, folder: str | None, job_id: str, store=None):
        self.job_id = job_id
        self.store = store if store is not None or folder is None else RecordFile(folder, job_id)
        self._open = {}     # (target, path) -> True, in the order they were begun
        self._opened = False

    @property
    def path(self) -> str | None:
        """The file of the record, when it is one."""
        return getattr(self.store, 'path', None)

    # -- life cycle -------------------------------------------------------------
    def open(self) -> None:
        """Opens this run's record and takes over the open entries of ended runs of
        the same job (once; later calls do nothing)."""
        if self._opened:
            return
        if self.store is not None:
            self._open = dict.fromkeys(self.store.open(), True)
        self._opened = True

    def close(self) -> None:
        """Ends this run's record: deleted when nothing is left open, else kept
        for the next run."""
        if self.store is not None and self._opened:
            self.store.close(not self._open)

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc_info):
        self.close()

    # -- entries ----------------------------------------------------------------
    def writing(self, target: str, path: str) -> None:
        """``path`` (relative to ``target``'s root) is about to be written."""
        self._open[(target, path)] = True
        if self.store is not None:
            self.store.add(target, path)

    def finished(self, target: str, path: str) -> None:
        """``path`` no longer holds an unfinished file: renamed into place or removed."""
        if self._open.pop((target, path), None) and self.store is not None:
            self.store.remove(target, path)

    def leftovers(self, target: str) -> list[str]:
        """The paths on ``target`` that hold, or may hold, an unfinished file."""
        return [path for where, path in self._open if where == target]

    def knows(self, target: str, path: str) -> bool:
        """Whether ``path`` on ``target`` may hold an unfinished file of this job."""
        return (target, path) in self._open

    def others(self, target: str) -> list[tuple[str, str]]:
        """Open entries of other targets (the job's target changed since)."""
        return [(where, path) for where, path in self._open if where != target]

    def clean_up(self, endpoint, target: str, keep) -> None:
        """Removes the open entries' files from the open target ``endpoint`` (named
        ``target``), except the paths in ``keep`` (written again now). Raises
        TransferError when the connection fails."""
        for where, path in self.others(target):
            log.warning('cannot remove %s from %s, left unfinished by an earlier run: the '
                        'job writes to %s now', path, where, target)
            self.finished(where, path)
        for path in self.leftovers(target):
            if path in keep:
                continue
            try:
                endpoint.remove(path)
            except OSError as exc:
                if not _gone(endpoint, path):
                    log.warning('could not remove %s, left unfinished by an earlier run: %s',
                                path, exc.strerror or exc)
                    continue
            else:
                log.info('removed %s, left unfinished on the target by an earlier run', path)
            self.finished(target, path)


class RecordFile:
    """A run's record as a file in ``folder``, ``JOBID.writing.PID``, locked (flock)
    while the run lives (see the module doc). When it cannot be written, the run
    goes on without it (a warning says so)."""

    def __init__(self, folder: str, job_id: str):
        self.folder = folder
        self.job_id = job_id
        self.path = os.path.join(folder, f'{job_id}{INFIX}{os.getpid()}')
        self._fd = None

    def open(self) -> list[tuple[str, str]]:
        """Creates (and locks) the record; takes over the open entries of ended
        runs of the same job; returns the open entries."""
        try:
            make_private_dirs(self.folder)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            log.warning('cannot keep the record of files being written in %s: %s; a killed '
                        'run may leave temp files behind', self.folder, exc.strerror or exc)
            return []
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            log.warning('cannot lock %s: %s', self.path, exc.strerror or exc)
            return []
        self._fd = fd
        found = dict.fromkeys(_read_open(fd))   # a record a dead run with our pid left
        for other in self._ended_records():
            self._take_over(other, found)
        return list(found)

    def close(self, empty: bool) -> None:
        if self._fd is None:
            return
        if empty:
            _unlink_quietly(self.path)
        os.close(self._fd)
        self._fd = None

    def add(self, target: str, path: str) -> None:
        self._append('writing', target, path)

    def remove(self, target: str, path: str) -> None:
        self._append('finished', target, path)

    def _append(self, kind: str, target: str, path: str) -> None:
        if self._fd is None:
            return
        # the line json.dumps({kind: path, 'target': target}) makes, in half its time
        # (two lines per file sent)
        from json.encoder import encode_basestring_ascii as quoted

        line = f'{{"{kind}": {quoted(path)}, "target": {quoted(target)}}}\n'
        try:
            os.write(self._fd, line.encode())
        except OSError as exc:
            log.warning('cannot write to %s: %s; going on without it', self.path,
                        exc.strerror or exc)
            os.close(self._fd)
            self._fd = None

    def _ended_records(self) -> list[str]:
        prefix = self.job_id + INFIX
        try:
            names = os.listdir(self.folder)
        except OSError:
            return []
        return sorted(os.path.join(self.folder, name) for name in names
                      if name.startswith(prefix) and name[len(prefix):].isdigit()
                      and os.path.join(self.folder, name) != self.path)

    def _take_over(self, path: str, found: dict) -> None:
        """Copies the open entries of the ended record ``path`` into this one (and
        ``found``), then deletes it; a record whose run lives is left alone."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return              # taken over by another run meanwhile
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    log.warning('cannot lock %s: %s', path, exc.strerror or exc)
                return          # its run is still alive
            for entry in _read_open(fd):
                if entry not in found:
                    found[entry] = True
                    self.add(*entry)
            _unlink_quietly(path)
        finally:
            os.close(fd)


def _read_open(fd: int) -> list[tuple[str, str]]:
    """The entries of a record that were begun and not finished."""
    chunks = []
    while chunk := os.pread(fd, 1 << 16, sum(map(len, chunks))):
        chunks.append(chunk)
    if not chunks:         # a new record: the usual case
        return []
    import json

    found = {}
    for line in b''.join(chunks).decode('utf-8', 'replace').splitlines():
        try:
            entry = json.loads(line)
            target = entry['target']
            if 'writing' in entry:
                found[(target, entry['writing'])] = True
            else:
                found.pop((target, entry['finished']), None)
        except (ValueError, KeyError, TypeError):
            continue            # a line cut off by a crash
    return [key for key in found if all(isinstance(part, str) for part in key)]


def _gone(endpoint, path: str) -> bool:
    """Whether a file whose removal failed is not there (FTP says 550 for both)."""
    try:
        return endpoint.stat(path) is None
    except OSError:
        return False


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning('cannot delete %s: %s', path, exc.strerror or exc)
