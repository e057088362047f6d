"""The outcome of a job's last run for Prometheus: ``METRICS_DIR/JOBID.prom`` in the
text format that node_exporter's textfile collector reads, replaced atomically
after each run (a temp file, then a rename)."""

import os

from filetransfer.outcome import JobReport
from filetransfer.smallfile import read_small_text, replace_text

PREFIX = 'filetransfer_'
LAST_SUCCESS = PREFIX + 'last_success_timestamp_seconds'


def path_of(metrics_dir: str, job_id: str) -> str:
    return os.path.join(metrics_dir, job_id + '.prom')


def write(metrics_dir: str, report: JobReport) -> str:
    """Writes the metrics of the run of ``report``; returns the file's path. The time
    of the last success is kept from the file when the run failed. Raises OSError."""
    path = path_of(metrics_dir, report.job_id)
    ended = report.ended.timestamp()
    last_success = ended if report.exit_code == 0 else previous_success(path)
    # 0644: node_exporter reads it as another user, whatever the umask; the temp file's
    # name does not end with .prom, so the collector never reads a half-written file
    replace_text(path, render(report, last_success), 0o644, prefix='.filetransfer-')
    return path


def previous_success(path: str) -> float:
    """The time of the last success in the file ``path``; 0 when there is none."""
    try:
        text = read_small_text(path)
    except (OSError, UnicodeDecodeError):
        return 0.0
    for line in text.splitlines():
        if line.startswith(LAST_SUCCESS + '{'):
            try:
                return float(line.rsplit(' ', 1)[1])
            except (IndexError, ValueError):
                return 0.0
    return 0.0


def render(report: JobReport, last_success: float) -> str:
    """The metrics of one run in the Prometheus text format."""
    result = report.result
    job = f'job="{_escape(report.job_id)}"'
    lines = []

    def gauge(name: str, text: str, *samples: tuple[str, float]) -> None:
        lines.extend([f'# HELP {PREFIX}{name} {text}', f'# TYPE {PREFIX}{name} gauge'])
        lines.extend(f'{PREFIX}{name}{{{job}{labels}}} {value!r}' for labels, value in samples)

    gauge('last_run_timestamp_seconds', 'When the last run of the job ended (Unix time).',
          ('', report.ended.timestamp()))
    gauge('last_success_timestamp_seconds', 'When the last run that ended with exit code 0 '
          'ended (Unix time; 0: none yet).', ('', last_success))
    gauge('last_exit_code', 'The exit code of the last run.', ('', int(report.exit_code)))
    gauge('files_transferred', 'Files transferred by the last run.', ('', result.files_cnt))
    gauge('bytes_transferred', 'Bytes of the files transferred by the last run.',
          ('', result.bytes_cnt))
    gauge('file_errors', 'Files that failed in the last run, by side.',
          (',side="source"', result.src_error_cnt), (',side="target"', result.tgt_error_cnt))
    gauge('duration_seconds', 'How long the last run took.',
          ('', round(report.duration.total_seconds(), 6)))
    return '\n'.join(lines) + '\n'


def _escape(value: str) -> str:
    return value.replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n')


def dir_problem(metrics_dir: str) -> str | None:
    """Why a run could not write its metrics into ``metrics_dir``, or None."""
    if not os.path.exists(metrics_dir):
        return f'{metrics_dir}: no such directory'
    if not os.path.isdir(metrics_dir):
        return f'{metrics_dir}: not a directory'
    if not os.access(metrics_dir, os.W_OK | os.X_OK):
        return f'{metrics_dir}: not writable'
    return None
