"""aspshell for the emulated Aspera server: the forced command of a transfer account
(sshd's ``ForceCommand``). Like IBM's aspshell it runs ``ascp``, ``ascp4`` and
``ascmd`` (here: the emulator's server side and its ascmd) and refuses everything else,
an interactive login and the SFTP subsystem included, with ``Command not accepted``
on stderr and exit status 1.

    ForceCommand python3 -m faspmanager.testing.aspshell --config /etc/emulated-aspera.conf
"""

from __future__ import annotations

import argparse
import os
import pwd
import shlex
import sys

from .hsts import ServerConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='aspshell')
    parser.add_argument('--config', help='the emulated server\'s configuration (INI)')
    options = parser.parse_args(argv)
    command = os.environ.get('SSH_ORIGINAL_COMMAND', '')
    try:
        words = shlex.split(command)
    except ValueError:
        words = []
    program = os.path.basename(words[0]) if words else ''
    if program not in ('ascp', 'ascp4', 'ascmd'):
        print(f'aspshell: Command not accepted: {command or "(interactive login)"}',
              file=sys.stderr)
        return 1
    config = ServerConfig.load(options.config)
    user = pwd.getpwuid(os.getuid()).pw_name
    if program == 'ascmd':
        from .ascmdserver import serve
    else:
        from .fileservice import serve
    return serve(config, user)


if __name__ == '__main__':
    sys.exit(main())
