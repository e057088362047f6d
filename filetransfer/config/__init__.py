"""Loading and checking of the application, job and hosts files."""

from filetransfer.config.loader import (EXTRA_PREFIX, check_endpoint_types, endpoint_from_mapping,
                                        host_from_file, job_ids, job_path, load_app, load_host,
                                        load_job, parse_host, parse_section, read_ini,
                                        refuse_same_directory)
from filetransfer.config.model import AppConfig, EndpointSpec, JobConfig

__all__ = ['EXTRA_PREFIX', 'AppConfig', 'EndpointSpec', 'JobConfig', 'check_endpoint_types',
           'endpoint_from_mapping', 'host_from_file', 'job_ids', 'job_path', 'load_app', 'load_host', 'load_job',
           'parse_host', 'parse_section', 'read_ini', 'refuse_same_directory']
