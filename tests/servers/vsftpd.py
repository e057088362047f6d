"""vsftpd on 127.0.0.1, from the unpacked Debian package: FTP and explicit FTPS
(AUTH TLS optional) on one port, the login chrooted to its home."""

import os

from .login import LoginServer
from .unpacked import program

VSFTPD = 'usr/sbin/vsftpd'


def available() -> bool:
    return program(VSFTPD) is not None


class Vsftpd(LoginServer):
    name = 'vsftpd'

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        empty = os.path.join(self.root, 'empty')      # vsftpd chroots its helpers here
        os.makedirs(empty, mode=0o755, exist_ok=True)
        log = os.path.join(self.root, 'vsftpd.log')
        self.log_files.append(log)
        options = {
            'listen': 'YES', 'listen_ipv6': 'NO', 'listen_address': '127.0.0.1',
            'listen_port': self.port, 'background': 'NO',
            'anonymous_enable': 'NO', 'local_enable': 'YES', 'write_enable': 'YES',
            'local_umask': '022', 'chroot_local_user': 'YES',
            'allow_writeable_chroot': 'YES',      # the home is the user's own
            'secure_chroot_dir': empty, 'nopriv_user': 'nobody',
            # no PAM config of its own: PAM's "other" service checks the password
            'pam_service_name': 'filetransfer-test-vsftpd',
            'userlist_enable': 'NO', 'tcp_wrappers': 'NO',
            # its syscall filter and namespaces depend on the kernel, not on the test
            'seccomp_sandbox': 'NO', 'isolate': 'NO', 'isolate_network': 'NO',
            'pasv_enable': 'YES', 'pasv_address': '127.0.0.1', 'port_enable': 'YES',
            'max_per_ip': '0', 'max_clients': '0',
            'xferlog_enable': 'YES', 'xferlog_std_format': 'NO', 'log_ftp_protocol': 'YES',
            'vsftpd_log_file': log, 'dual_log_enable': 'NO', 'syslog_enable': 'NO',
        }
        if self.cert_file:
            options.update({
                'ssl_enable': 'YES', 'rsa_cert_file': self.cert_file,
                'rsa_private_key_file': self.cert_file, 'ssl_ciphers': 'HIGH',
                'allow_anon_ssl': 'NO', 'force_local_logins_ssl': 'NO',
                'force_local_data_ssl': 'NO', 'ssl_tlsv1': 'NO', 'ssl_sslv2': 'NO',
                'ssl_sslv3': 'NO', 'require_ssl_reuse': 'YES'})
        self.config = os.path.join(self.root, 'vsftpd.conf')
        with open(self.config, 'w') as fh:
            fh.writelines(f'{key}={value}\n' for key, value in options.items())

    def argv(self) -> list[str]:
        return [program(VSFTPD), self.config]
