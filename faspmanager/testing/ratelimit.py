"""A token bucket holding a transfer to a target rate that can change at any time."""

from __future__ import annotations

import threading
import time

WINDOW = 0.05      # seconds of credit a bucket may save up while the transfer waits


class Cancelled(Exception):
    """The transfer was cancelled while it waited."""


class TokenBucket:
    """``take(n)`` returns once ``n`` more bytes fit the rate (bytes per second;
    None: unlimited). Bytes are taken first and paid back by waiting, so the long-run
    rate is exact whatever the chunk sizes."""

    def __init__(self, rate: float | None):
        self._lock = threading.Lock()
        self._rate = rate
        self._tokens = 0.0
        self._last = time.monotonic()

    @property
    def rate(self) -> float | None:
        return self._rate

    def set_rate(self, rate: float | None) -> None:
        with self._lock:
            self._refill()
            self._rate = rate
            self._tokens = min(self._tokens, self._cap())

    def chunk(self, largest: int = 262144, smallest: int = 4096) -> int:
        """A chunk size giving about 20 chunks a second at the current rate."""
        rate = self._rate
        if rate is None:
            return largest
        return int(max(smallest, min(largest, rate / 20)))

    def take(self, count: int, cancel: threading.Event) -> None:
        with self._lock:
            self._refill()
            self._tokens -= count
        while True:
            with self._lock:
                self._refill()
                if self._rate is None or self._tokens >= 0:
                    return
                wait = min(WINDOW, -self._tokens / self._rate)
            if cancel.wait(wait):
                raise Cancelled()

    def _cap(self) -> float:
        return 0.0 if self._rate is None else self._rate * WINDOW

    def _refill(self) -> None:
        now = time.monotonic()
        if self._rate is not None:
            self._tokens = min(self._cap(), self._tokens + (now - self._last) * self._rate)
        self._last = now
