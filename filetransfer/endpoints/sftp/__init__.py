"""SFTP servers, over OpenSSH's ssh or paramiko's transport."""

from filetransfer.endpoints.registry import Protocol
from filetransfer.endpoints.sftp.options import SftpDefaults, SftpHost, check_host

APP_SECTIONS = {'sftp': SftpDefaults}
PROTOCOLS = (
    Protocol('SFTP', SftpHost, 22, 'filetransfer.endpoints.sftp.endpoint', check_host),
)
