"""Loading and checking of the application, job and hosts files."""

from filetransfer.config.loader import (Config, check_endpoint_types, endpoint_from_mapping,
                                        job_ids, job_path, load_app, load_host, load_job,
                                        parse_file, parse_host, parse_section, read_ini,
                                        refuse_same_directory)

__all__ = ['Config', 'check_endpoint_types', 'endpoint_from_mapping', 'job_ids', 'job_path',
           'load_app', 'load_host', 'load_job', 'parse_file', 'parse_host', 'parse_section',
           'read_ini', 'refuse_same_directory']
