"""FASP hosts (IBM Aspera servers), through ascp and the faspmanager package."""

from filetransfer.endpoints.fasp.options import FaspHost, check_host, check_job
from filetransfer.endpoints.registry import Protocol

PROTOCOLS = (
    Protocol('FASP', FaspHost, 22, 'filetransfer.endpoints.fasp.endpoint', check_host,
             check_job),
)
