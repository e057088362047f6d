import logging

import pytest

from helpers import Workspace


@pytest.fixture
def ws(tmp_path):
    """A workspace with an application config, src/ and dst/."""
    return Workspace(tmp_path)


@pytest.fixture(autouse=True)
def _reset_filetransfer_logging():
    """configure() installs handlers on the 'filetransfer' logger; each test starts clean."""
    yield
    from filetransfer import logs
    logs.shutdown()
    for name in logs.LOGGER_NAMES:
        logging.getLogger(name).setLevel(logging.NOTSET)
        logging.getLogger(name).propagate = True
