"""Measures the delay proxy itself: the round-trip time it gives against the one
configured, and what it costs at 0 ms (round trip and throughput, through it and
direct).

An echo and sink server and the clients run as child processes of their own (this
script's ``serve``, ``ping`` and ``send`` modes), so that only the proxy runs in the
process that holds it, as in the bench.
"""

import os
import socket
import statistics
import subprocess
import sys
import threading
import time

from delayproxy import DelayProxy

PING_SIZE = 64
ECHO, SINK = b'e', b's'


# -- the child processes -----------------------------------------------------------

def _connect(port: int, mode: bytes) -> socket.socket:
    sock = socket.create_connection(('127.0.0.1', port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(mode)
    return sock


def _receive_exactly(sock: socket.socket, size: int) -> bytes:
    data = b''
    while len(data) < size:
        part = sock.recv(size - len(data))
        if not part:
            raise EOFError('the connection closed early')
        data += part
    return data


def _answer(sock: socket.socket) -> None:
    with sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        mode = sock.recv(1)
        if mode == ECHO:
            while data := sock.recv(PING_SIZE):
                sock.sendall(data)
        elif mode == SINK:
            received = 0
            while data := sock.recv(1 << 20):
                received += len(data)
            sock.sendall(received.to_bytes(8, 'big'))


def serve() -> None:
    """Echoes (mode e) or swallows and counts (mode s) what each connection sends."""
    listener = socket.create_server(('127.0.0.1', 0))
    print(listener.getsockname()[1], flush=True)
    while True:
        sock, _ = listener.accept()
        threading.Thread(target=_answer, args=(sock,), daemon=True).start()


def ping(port: int, count: int) -> None:
    """Prints the round-trip times (s) of ``count`` small messages, after one that
    waits for the connection to open."""
    with _connect(port, ECHO) as sock:
        message = b'x' * PING_SIZE
        sock.sendall(message)
        _receive_exactly(sock, PING_SIZE)
        for _ in range(count):
            started = time.perf_counter()
            sock.sendall(message)
            _receive_exactly(sock, PING_SIZE)
            print(time.perf_counter() - started)


def send(port: int, size: int) -> None:
    """Sends ``size`` bytes and prints the seconds until the server had them all."""
    block = os.urandom(1 << 20)
    started = time.perf_counter()
    with _connect(port, SINK) as sock:
        left = size
        while left:
            left -= sock.send(block[:left])
        sock.shutdown(socket.SHUT_WR)
        received = int.from_bytes(_receive_exactly(sock, 8), 'big')
    if received != size:
        raise SystemExit(f'the server received {received} bytes of {size}')
    print(time.perf_counter() - started)


# -- the measurement -----------------------------------------------------------------

def _child(*args) -> list[float]:
    done = subprocess.run([sys.executable, __file__, *map(str, args)], capture_output=True,
                          text=True, timeout=600, check=True)
    return [float(line) for line in done.stdout.split()]


def _round_trip(port: int, count: int) -> str:
    times = [value * 1000 for value in _child('ping', port, count)]
    return (f'{statistics.median(times):.2f} ms ({min(times):.2f}–{max(times):.2f})')


def _throughput(port: int, size: int) -> str:
    seconds = min(_child('send', port, size)[0] for _ in range(2))
    return f'{size / seconds / 1e6:.0f} MB/s'


def validate(rtts_ms: list, pings: int = 100, size: int = 256 << 20,
             rate: float = 20e6) -> str:
    """A Markdown table of the proxy's figures: round trip of ``pings`` small echoes
    (median, min–max) and one-way throughput of ``size`` bytes (best of 2), direct and
    through the proxy at each round-trip time, then the throughput under a rate cap."""
    server = subprocess.Popen([sys.executable, __file__, 'serve'], stdout=subprocess.PIPE,
                              text=True)
    try:
        port = int(server.stdout.readline())
        columns = [('direct', port)]
        proxies = [DelayProxy('127.0.0.1', port, rtt / 1000).start() for rtt in rtts_ms]
        proxies.append(DelayProxy('127.0.0.1', port, 0, rate=rate).start())
        try:
            columns += [(f'proxy, {rtt:g} ms', proxy.port)
                        for rtt, proxy in zip(rtts_ms, proxies)]
            lines = ['| through | round trip, median (min–max) of '
                     f'{pings} | throughput, {size >> 20} MiB one way |', '|---|---|---|']
            for name, through in columns:
                lines.append(f'| {name} | {_round_trip(through, pings)} | '
                             f'{_throughput(through, size)} |')
            capped = proxies[-1].port
            lines.append(f'| proxy, 0 ms, rate cap {rate / 1e6:g} MB/s | '
                         f'{_round_trip(capped, pings)} | '
                         f'{_throughput(capped, int(rate * 3))} |')
        finally:
            for proxy in proxies:
                proxy.stop()
    finally:
        server.kill()
        server.wait()
    return '\n'.join(lines)


if __name__ == '__main__':
    mode, *rest = sys.argv[1:] or ['check']
    if mode == 'serve':
        serve()
    elif mode == 'ping':
        ping(int(rest[0]), int(rest[1]))
    elif mode == 'send':
        send(int(rest[0]), int(rest[1]))
    else:
        print(validate([0, 10, 50]))
