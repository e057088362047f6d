"""The bench's delay proxy (bench/delayproxy.py): bytes pass intact both ways, an
end-of-file is passed on, and connections close cleanly. No timing is asserted."""

import os
import socket
import sys
import threading

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'bench'))

from delayproxy import DelayProxy  # noqa: E402

TIMEOUT = 30


def receive_all(sock: socket.socket) -> bytes:
    parts = []
    while part := sock.recv(1 << 16):
        parts.append(part)
    return b''.join(parts)


class Server:
    """Takes one connection: reads until end-of-file, then sends ``reply`` and
    closes. ``received`` is what it read."""

    def __init__(self, reply: bytes):
        self.reply = reply
        self.received = None
        self.listener = socket.create_server(('127.0.0.1', 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            sock, _ = self.listener.accept()
        except OSError:          # closed by a test that never connected
            return
        with sock:
            sock.settimeout(TIMEOUT)
            self.received = receive_all(sock)
            sock.sendall(self.reply)

    def close(self):
        self.thread.join(TIMEOUT)
        self.listener.close()


@pytest.mark.parametrize('options', [
    {},
    {'rtt': 0.02},
    {'rtt': 0.01, 'rate': 20e6, 'capacity': 64 << 10},    # back-pressure at every turn
], ids=['plain', 'delayed', 'rate-capped, small buffer'])
def test_bytes_pass_intact_both_ways_and_end_of_file_too(options):
    sent, reply = os.urandom(3 << 20), os.urandom(1 << 20)
    server = Server(reply)
    with DelayProxy('127.0.0.1', server.port, **options) as proxy:
        with socket.create_connection(('127.0.0.1', proxy.port), timeout=TIMEOUT) as sock:
            sock.sendall(sent)
            sock.shutdown(socket.SHUT_WR)        # the server answers after end-of-file
            answer = receive_all(sock)           # ends: the server's close came through
    server.close()
    assert server.received == sent
    assert answer == reply


def test_a_refused_upstream_connection_closes_the_client():
    unused = socket.create_server(('127.0.0.1', 0))
    port = unused.getsockname()[1]
    unused.close()
    with DelayProxy('127.0.0.1', port) as proxy:
        with socket.create_connection(('127.0.0.1', proxy.port), timeout=TIMEOUT) as sock:
            assert receive_all(sock) == b''


def test_stop_closes_open_connections():
    server = Server(b'')
    proxy = DelayProxy('127.0.0.1', server.port, rtt=0.01).start()
    with socket.create_connection(('127.0.0.1', proxy.port), timeout=TIMEOUT) as sock:
        sock.sendall(b'half a request')
        proxy.stop()
        try:
            assert receive_all(sock) == b''
        except ConnectionResetError:
            pass                                 # closed either way
    server.listener.close()


def test_both_sockets_of_a_connection_send_small_writes_at_once():
    """TCP_NODELAY on the accepted socket too (asyncio sets it only on the
    connections it opens): else a second small write waits for the peer's delayed
    ACK, which stalled request-answer traffic (SFTP over an ssh child: ~40 ms per
    file, at 0 ms round trip)."""
    from procs import wait_for

    server = Server(b'')
    with DelayProxy('127.0.0.1', server.port) as proxy:
        with socket.create_connection(('127.0.0.1', proxy.port), timeout=TIMEOUT) as sock:
            sock.sendall(b'x')
            wait_for(lambda: proxy._clients, timeout=TIMEOUT)
            [accepted] = list(proxy._clients)
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            sock.shutdown(socket.SHUT_WR)
            receive_all(sock)
    server.close()
