"""FTP and FTPS (explicit TLS) servers, through ftplib."""

from filetransfer.endpoints.ftp.options import FtpHost, FtpsHost, check_host
from filetransfer.endpoints.registry import Protocol

PROTOCOLS = (
    Protocol('FTP', FtpHost, 21, 'filetransfer.endpoints.ftp.endpoint', check_host),
    Protocol('FTPS', FtpsHost, 21, 'filetransfer.endpoints.ftp.endpoint', check_host),
)
