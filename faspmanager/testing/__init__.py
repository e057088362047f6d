"""Testing aids for faspmanager users: the ascp emulator.

``ascp-emulator`` (module ``faspmanager.testing.emulator``) is an emulator of IBM
Aspera's ``ascp`` for tests. It is not FASP: it takes ascp's command line, speaks the
management-port protocol like ascp and moves the files over SSH/SFTP (or locally).
See the emulator module's documentation for what it emulates and what it does not.
"""

import os
import shutil
import sys


def emulator_path() -> str | None:
    """The installed ``ascp-emulator`` command next to this Python, or in PATH."""
    return shutil.which('ascp-emulator', path=os.path.dirname(sys.executable)) or \
        shutil.which('ascp-emulator')
