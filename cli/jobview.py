"""What the command shows around one run of a job: the progress line on a
terminal and, with --json, the result as JSON on stdout. The run itself is the
library's."""

import sys


class JobView:
    """Runs a job for the command, keeping what --json needs."""

    def __init__(self, job_id: str, as_json: bool = False):
        self.job_id = job_id
        self.as_json = as_json
        self.job = None
        self.error = None
        self.progress = None

    def run(self, config_file):
        """Loads and runs the job; returns (JobResult, 0 or 1), raises like Job.run.
        A job whose local ready file is missing ends before the modules of a run
        are loaded and before its log is set up."""
        from filetransfer import config
        from filetransfer.errors import ConfigError
        from filetransfer.run.ready import missing_locally

        try:
            app = config.load_app(config_file)
            try:
                job_cfg = config.load_job(app, self.job_id)
            except ConfigError:
                job_cfg = None       # loaded again below, to be logged and notified
            not_ready = job_cfg and missing_locally(job_cfg)
            if not_ready:
                raise not_ready

            from filetransfer.run.job import load

            self.job = load(app, self.job_id, job_cfg)
            self.progress = _terminal_progress()
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


def _terminal_progress():
    """The progress display when stderr is a terminal. Its module (and the run's
    modules it needs) loads only then: under cron, they load once the login has
    started."""
    try:
        on_terminal = sys.stderr.isatty()
    except (AttributeError, ValueError):
        return None
    if not on_terminal:
        return None
    from filetransfer.cli import progress

    return progress.for_terminal(sys.stderr)
