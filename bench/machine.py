"""The machine and software details that go with every benchmark result."""

import os
import platform
import subprocess
import sys


def _first_line(argv) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return 'not installed'
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else 'not installed'


def _cpu() -> str:
    try:
        with open('/proc/cpuinfo') as fh:
            info = fh.read()
    except OSError:
        return platform.processor() or '?'
    model = next((line.split(':', 1)[1].strip() for line in info.splitlines()
                  if line.startswith('model name')), '?')
    aes = ' with AES-NI' if ' aes ' in info else ''
    return f'{os.cpu_count()} × {model}{aes}'


def _memory() -> str:
    try:
        with open('/proc/meminfo') as fh:
            kib = int(fh.readline().split()[1])
        return f'{kib / (1 << 20):.1f} GiB'
    except (OSError, ValueError, IndexError):
        return '?'


def _os() -> str:
    try:
        with open('/etc/os-release') as fh:
            for line in fh:
                if line.startswith('PRETTY_NAME='):
                    return line.split('=', 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


def _package(name: str) -> str:
    from importlib import metadata
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return 'not installed'


def details() -> list[tuple[str, str]]:
    return [
        ('CPU', _cpu()),
        ('memory', _memory()),
        ('system', f'{_os()}, Linux {platform.release()}'),
        ('Python', f'{platform.python_implementation()} {platform.python_version()} '
                   f'({os.path.realpath(sys.executable)})'),
        ('paramiko / cryptography / pyftpdlib',
         f'{_package("paramiko")} / {_package("cryptography")} / {_package("pyftpdlib")}'),
        ('OpenSSH', _first_line(['ssh', '-V'])),
        ('rsync', _first_line(['rsync', '--version'])),
        ('rclone', _first_line(['rclone', 'version'])),
        ('lftp', _first_line(['lftp', '--version'])),
        ('cp', _first_line(['cp', '--version'])),
    ]

