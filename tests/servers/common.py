"""What every test server needs: a free port, waiting for it, skip-or-fail."""

import os
import socket
import time

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def wait_listening(port: int, timeout: float = 15.0, proc=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f'server exited with code {proc.returncode}')
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=1):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f'nothing listens on port {port} after {timeout} s')


def unavailable(reason: str):
    """Skips the test, or fails it under CI=true: CI must never skip for a missing server."""
    if os.environ.get('CI') == 'true':
        pytest.fail(f'{reason} (CI=true: a missing test server is an error)')
    pytest.skip(reason)
