"""Real servers started by the tests (OpenSSH sshd, pyftpdlib, aiosmtpd)."""
