"""Helpers for jobs against the test servers: host sections, remote job files."""

import contextlib
import os
import pathlib
import subprocess
import sys

from helpers import command_argv, write_ini


def sftp_host(sshd, **options) -> dict:
    """A hosts-file section for the test sshd (ed25519 key login)."""
    section = {'type': 'SFTP', 'host': f'{sshd.host}:{sshd.port}', 'user': sshd.user,
               'key_file': sshd.client_keys['ed25519'], 'known_hosts': sshd.known_hosts,
               'timeout': '30'}
    section.update(options)
    return {name: value for name, value in section.items() if value is not None}


@contextlib.contextmanager
def far_sftp_host(sshd, folder, rtt: float, **options):
    """A hosts-file section for the test sshd reached through the bench's delay
    proxy (bench/delayproxy.py) with a round trip of ``rtt`` seconds, for the
    block; its known-hosts file (in ``folder``) names the proxy's port."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'bench'))
    try:
        from delayproxy import DelayProxy
    finally:
        sys.path.pop(0)
    with DelayProxy(sshd.host, sshd.port, rtt=rtt) as proxy:
        known = pathlib.Path(folder) / f'known_hosts_{proxy.port}'
        with open(sshd.known_hosts) as fh:
            known.write_text(fh.read().replace(f'[{sshd.host}]:{sshd.port} ',
                                               f'[{sshd.host}]:{proxy.port} '))
        yield sftp_host(sshd, host=f'{sshd.host}:{proxy.port}', known_hosts=str(known),
                        **options)


def known_hosts_with_another_key(folder, sshd):
    """A known-hosts file in ``folder`` that gives the test sshd a key it does not
    have (as after a change of the server's key); returns its path."""
    other = os.path.join(folder, 'other_host_key')
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', other], check=True)
    with open(other + '.pub') as fh:
        fields = fh.read().split()[:2]
    known = pathlib.Path(folder) / 'known_hosts'
    known.write_text(f'[{sshd.host}]:{sshd.port} {" ".join(fields)}\n')
    return known


def ftp_host(server, **options) -> dict:
    """A hosts-file section for a test FTP/FTPS server."""
    section = {'type': 'FTPS' if server.tls else 'FTP', 'host': f'127.0.0.1:{server.port}',
               'user': server.user, 'password': server.password, 'timeout': '30'}
    if server.tls:
        section['ca_file'] = server.ca_file
    section.update(options)
    return {name: value for name, value in section.items() if value is not None}


def write_hosts(ws, **hosts) -> str:
    """Writes the workspace's hosts file: host_id -> section."""
    return write_ini(ws.hosts_cfg, hosts)


def max_rss_kib(ws, *args, timeout=600) -> tuple[subprocess.CompletedProcess, int]:
    """Runs the command and returns it with its peak resident memory (KiB)."""
    probe = ('import resource, subprocess, sys\n'
             'code = subprocess.run(sys.argv[1:]).returncode\n'
             'print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n'
             'sys.exit(code)\n')
    done = subprocess.run([sys.executable, '-c', probe,
                           *command_argv('-c', ws.app_cfg, *args)],
                          capture_output=True, text=True, timeout=timeout, cwd=ws.root)
    lines = done.stderr.strip().splitlines()
    return done, int(lines[-1])

