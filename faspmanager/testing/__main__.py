"""``python -m faspmanager.testing``: the ascp emulator."""

import sys

from .emulator import main

sys.exit(main())
