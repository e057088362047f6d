"""The TCP connection under paramiko's transport, tuned for request and answer.

SFTP sends small requests together (a small file's write, stat and close) and gets
small answers back one by one. On a plain socket two delays meet there: Nagle's
algorithm holds a second small packet until the first is acknowledged, and the
receiver delays its acknowledgement (40 ms on Linux) when it has nothing to send.
Both ends do it, so a burst of requests, or of answers, stalls for the delay. Our
socket sends at once (TCP_NODELAY) and, where the system has TCP_QUICKACK,
acknowledges what it receives at once, so the server's own Nagle delay ends
as soon as the first answer arrives.
"""

import socket

QUICKACK = getattr(socket, 'TCP_QUICKACK', None)    # Linux only


class QuickAckSocket(socket.socket):
    """A connected TCP socket that re-arms TCP_QUICKACK after each receive (the
    kernel drops back to delayed acknowledgements after a while)."""

    def recv(self, size: int, flags: int = 0) -> bytes:
        data = super().recv(size, flags)
        self._quickack()
        return data

    def _quickack(self) -> None:
        if QUICKACK is not None:
            try:
                self.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)
            except OSError:       # closed meanwhile: the next call says so
                pass


def connect(host: str, port: int, timeout: float | None) -> socket.socket:
    """A TCP connection to ``host``:``port`` that sends at once and acknowledges at
    once; raises OSError."""
    plain = socket.create_connection((host, port), timeout=timeout)
    try:
        plain.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        tuned = QuickAckSocket(plain.family, plain.type, plain.proto, fileno=plain.detach())
    except BaseException:
        plain.close()
        raise
    tuned.settimeout(timeout)
    tuned._quickack()
    return tuned
