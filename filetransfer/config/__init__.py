"""Loading and checking of the application, job and hosts files."""

from .loader import (Config, endpoint_from_mapping, job_path, load_app, load_host,
                     load_job, parse_file, parse_host, parse_section, read_ini)

__all__ = ['Config', 'endpoint_from_mapping', 'job_path', 'load_app', 'load_host',
           'load_job', 'parse_file', 'parse_host', 'parse_section', 'read_ini']

from .loader import job_ids  # the job files of jobs_dir (check, daemon)

__all__ += ['job_ids']
