"""What the command shows around one run of a job: the progress line on a
terminal and, with --json, the result as JSON on stdout. The run itself is the
library's."""

import sys

from . import progress


def _seconds(delta) -> float:
    return round(delta.total_seconds(), 6)


def _status(error: BaseException | None) -> str | None:
    """Statuses of the outcomes that end without a report (exit code 0)."""
    from filetransfer import NotReadyError, SingleInstanceError

    if isinstance(error, NotReadyError):
        return 'not_ready'
    if isinstance(error, SingleInstanceError):
        return 'already_running'
    return None


def report_data(report) -> dict:
    """The JSON form of a JobReport."""
    result = report.result
    files = []
    for path, info, tag in result.file_list or ():
        item = {'tag': str(tag), 'path': path}
        if hasattr(info, 'total_seconds'):
            item['duration'] = _seconds(info)
        else:
            item['error'] = str(info)
        files.append(item)
    return {
        'job_id': report.job_id,
        'name': report.name,
        'status': report.status,
        'exit_code': report.exit_code,
        'error': None if report.error is None else str(report.error),
        'source': report.source,
        'target': report.target,
        'started': report.started.isoformat(timespec='milliseconds'),
        'ended': report.ended.isoformat(timespec='milliseconds'),
        'duration': _seconds(report.duration),
        'files_cnt': result.files_cnt,
        'src_error_cnt': result.src_error_cnt,
        'tgt_error_cnt': result.tgt_error_cnt,
        'files': files,
        'log_file': report.log_file,
    }


class JobView:
    """Runs a job for the command, keeping what --json needs."""

    def __init__(self, job_id: str, as_json: bool = False):
        self.job_id = job_id
        self.as_json = as_json
        self.job = None
        self.error = None
        self.progress = None

    def run(self, config_file):
        """Loads and runs the job; returns (JobResult, 0 or 1), raises like Job.run."""
        from filetransfer.job import load

        try:
            self.job = load(config_file, self.job_id)
            if self.as_json:
                self.job.collect_data = True   # the file list is part of the JSON
            self.job.progress = self.progress = progress.for_terminal()
            return self.job.run()
        except BaseException as exc:
            self.error = exc
            raise
        finally:
            if self.progress:
                self.progress.close()

    def finish(self, code: int) -> int:
        """Prints the JSON result when asked; returns ``code``."""
        if self.as_json:
            import json

            from filetransfer.report import EXIT_CODES

            report = self.job.report if self.job else None
            if report is not None and _status(self.error) is None:
                data = report_data(report)
            else:
                data = {'job_id': self.job_id,
                        'status': _status(self.error) or EXIT_CODES.get(code, 'other'),
                        'exit_code': code,
                        'error': None if self.error is None else str(self.error)}
            json.dump(data, sys.stdout, indent=2)
            sys.stdout.write('\n')
            sys.stdout.flush()
        return code
