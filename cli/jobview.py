"""What the command shows around one run of a job: the progress line on a
terminal and, with --json, the result as JSON on stdout. The run itself is the
library's."""

import sys

from filetransfer.cli import progress


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
        from filetransfer.run.job import load

        try:
            self.job = load(config_file, self.job_id)
            self.progress = progress.for_terminal()
            # the file list is part of the JSON
            return self.job.run(progress=self.progress, collect_data=self.as_json or None)
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

            from filetransfer.errors import status_of

            report = self.job.report if self.job else None
            if report is not None:
                data = report.as_dict()
            else:     # not run: not ready, already running, a broken configuration
                data = {'job_id': self.job_id, 'status': status_of(code, self.error),
                        'exit_code': code,
                        'error': None if self.error is None else str(self.error)}
            json.dump(data, sys.stdout, indent=2)
            sys.stdout.write('\n')
            sys.stdout.flush()
        return code
