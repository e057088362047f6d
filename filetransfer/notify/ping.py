"""The ping of a monitoring service, in the convention of healthchecks.io: a request
to ``URL/start`` when a run starts, and one to ``URL/EXITCODE`` when it ends, whose
body is the run's JSON result."""

import json
from urllib.parse import quote

from filetransfer.notify.http import with_path
from filetransfer.outcome import JobReport

BODY_LIMIT = 100_000      # bytes of the end request's body (what healthchecks.io keeps)
JOB_ID = '{job_id}'       # replaced in a URL by the job id


def url_for(url: str, job_id: str, event: str) -> str:
    """The URL of ``event`` ('start' or an exit code) of ``url`` (in which ``{job_id}``
    stands for the job id, so one application-wide URL can name a check per job)."""
    return with_path(url.replace(JOB_ID, quote(job_id, safe='')), event)


def body(report: JobReport, limit: int = BODY_LIMIT) -> bytes:
    """The result as ``--json`` prints it (compact), at most ``limit`` bytes: when it is
    longer, the last files of its list are left out (``files_left_out`` counts them)
    so that it stays JSON."""
    data = report.as_dict()
    text = _encode(data)
    files = data['files']
    if len(text) <= limit:
        return text
    low, high = 0, len(files)     # the most files that fit: in [low, high]
    while low < high:
        middle = (low + high + 1) // 2
        if len(_encode(_cut(data, middle))) <= limit:
            low = middle
        else:
            high = middle - 1
    text = _encode(_cut(data, low))
    return text if len(text) <= limit else text[:limit]   # a huge error text


def _cut(data: dict, kept: int) -> dict:
    return {**data, 'files': data['files'][:kept], 'files_left_out': len(data['files']) - kept}


def _encode(data: dict) -> bytes:
    return json.dumps(data, separators=(',', ':')).encode('ascii')
