"""The ready file of a job, where it can be looked at before the run: in a local
source directory a stat tells, so a job polled by a timer every minute whose ready
file is missing ends before it loads the modules of a run, sets up its log, takes
its lock or opens its journal. A remote source is asked once it is connected
(run/copier.py), after the lock.

Looking before the lock changes no outcome: a job that finds its ready file missing
does nothing, whether another instance runs or not, and a job that finds it present
goes the usual way (lock, then the ready file again)."""

import os
import stat

from filetransfer.errors import NotReadyError


def missing_locally(job_cfg) -> NotReadyError | None:
    """The NotReadyError of a job (a config.JobConfig) whose local source directory
    lacks its ready file (or holds no regular file under that name, as the local
    endpoint sees it); None when the file is there, when the job has none, and when
    only the run can tell: a remote source, a source directory that is missing or
    cannot be read (the run reports that)."""
    ready_file, source = job_cfg.job.ready_file, job_cfg.source
    if not ready_file or source.host is not None:
        return None
    try:
        if stat.S_ISREG(os.stat(os.path.join(source.path, ready_file)).st_mode):
            return None
    except (FileNotFoundError, NotADirectoryError):
        pass
    except OSError:
        return None
    if not os.path.isdir(source.path):
        return None
    return NotReadyError(f'ready file {ready_file} not present')   # as the run says it


def outside_local_source(source, ready_file: str) -> str | None:
    """The path of a ready file that lies outside its local source directory as
    written (``/flags/READY``, ``../flags/READY``: the source endpoint names no
    file there), for this machine's calls; None when the source endpoint can name it
    (a path inside the directory, or a remote source)."""
    if source.host is not None:
        return None
    if not (os.path.isabs(ready_file) or '..' in ready_file.replace(os.sep, '/').split('/')):
        return None
    return os.path.join(source.path, ready_file)


def present(path: str) -> bool:
    """Whether ``path`` is a regular file (as the local endpoint's stat tells)."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False
