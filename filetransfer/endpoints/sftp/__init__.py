"""SFTP servers, over OpenSSH's ssh or paramiko's transport."""

from filetransfer.endpoints.registry import Protocol
from filetransfer.endpoints.sftp.options import SftpHost, check_host

PROTOCOLS = (
    Protocol('SFTP', SftpHost, 22, 'filetransfer.endpoints.sftp.endpoint', check_host),
)
