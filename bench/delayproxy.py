"""A TCP proxy on 127.0.0.1 that gives a connection to a local server the round-trip
time (and optionally the bandwidth) of a longer link.

Each direction of a connection delivers what it receives half the round-trip time
later, in order. With a rate cap it also sends no faster than ``rate`` bytes/s, as a
link of that bandwidth would: a chunk waits until the ones before it are through. A
direction holds at most ``capacity`` bytes; while it is full the proxy reads nothing
more from the sender, whose TCP then waits (back-pressure, bounded memory). The
upstream connection opens one round trip after the client connected, the time a TCP
handshake over the link takes. An end-of-file is passed on (half-close) after the
data before it; a reset or error on either side closes both.

    .venv/bin/python bench/delayproxy.py --rtt-ms 50 [--rate BYTES_PER_S] HOST:PORT

prints the port it listens on and runs until interrupted. `DelayProxy` runs it in a
thread of the calling process.
"""

import argparse
import asyncio
import collections
import contextlib
import socket
import threading

from argtypes import host_port, number

READ_SIZE = 256 << 10
CAPACITY = 16 << 20       # per direction; above any SSH window the bench meets


class _Direction:
    """The bytes on their way in one direction: (due time, chunk) in arrival order."""

    def __init__(self, delay: float, rate: float | None, capacity: int):
        self.delay = delay
        self.rate = rate
        self.capacity = capacity
        self._chunks = collections.deque()
        self._held = 0
        self._free_at = 0.0        # when the rate-capped link has sent all it was given
        self._changed = asyncio.Condition()

    def _due(self, now: float, size: int) -> float:
        if not self.rate:
            return now + self.delay
        self._free_at = max(now, self._free_at) + size / self.rate
        return self._free_at + self.delay

    async def put(self, chunk: bytes) -> None:
        """Takes a chunk (b'' for end-of-file); waits while the direction is full."""
        async with self._changed:
            await self._changed.wait_for(lambda: self._held < self.capacity)
            due = self._due(asyncio.get_running_loop().time(), len(chunk))
            self._chunks.append((due, chunk))
            self._held += len(chunk)
            self._changed.notify_all()

    async def get(self) -> bytes:
        """The next chunk, once it is due."""
        async with self._changed:
            await self._changed.wait_for(lambda: self._chunks)
            due, chunk = self._chunks.popleft()
            self._held -= len(chunk)
            self._changed.notify_all()
        wait = due - asyncio.get_running_loop().time()
        if wait > 0:
            await asyncio.sleep(wait)
        return chunk


async def _receive(reader: asyncio.StreamReader, direction: _Direction) -> None:
    while True:
        chunk = await reader.read(READ_SIZE)
        await direction.put(chunk)
        if not chunk:
            return


async def _deliver(direction: _Direction, writer: asyncio.StreamWriter) -> None:
    while True:
        chunk = await direction.get()
        if not chunk:
            if writer.can_write_eof():
                writer.write_eof()
            return
        writer.write(chunk)
        await writer.drain()


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


class DelayProxy:
    """The proxy, serving in a thread of its own: ``port`` is where it listens
    (on 127.0.0.1) once `start` returned. ``rtt`` in seconds, ``rate`` in bytes/s
    per direction (None: no cap)."""

    def __init__(self, target_host: str, target_port: int, rtt: float = 0.0,
                 rate: float | None = None, capacity: int = CAPACITY):
        self.target = (target_host, target_port)
        self.rtt = rtt
        self.rate = rate
        self.capacity = capacity
        self.port = None
        self._loop = None
        self._thread = None
        self._listener = None
        self._clients = set()        # accepted sockets not closed yet
        self._tasks = set()          # the accepting task and one per connection

    def __enter__(self) -> 'DelayProxy':
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> 'DelayProxy':
        self._listener = socket.create_server(('127.0.0.1', 0))
        self._listener.setblocking(False)
        self.port = self._listener.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name='delayproxy',
                                        daemon=True)
        self._thread.start()
        self._call(self._start_accepting)
        return self

    def stop(self) -> None:
        """Closes the listening socket and every connection."""
        if not self._thread:
            return

        async def shut():
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            for client in self._clients:       # accepted, but its task never started
                client.close()
            self._listener.close()

        asyncio.run_coroutine_threadsafe(shut(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()
        self._thread = None

    def _call(self, function) -> None:
        """Runs ``function`` in the proxy's thread and waits for it."""
        async def call():
            function()
        asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout=30)

    def _start_accepting(self) -> None:
        self._spawn(self._accept())

    def _spawn(self, job) -> None:
        task = asyncio.ensure_future(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _accept(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            client, _ = await loop.sock_accept(self._listener)
            # asyncio sets TCP_NODELAY on the connections it opens, not on an accepted
            # socket (whose proto is 0): without it, Nagle's algorithm held a second
            # small write towards the client until the client's delayed ACK, ~40 ms
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._clients.add(client)
            self._spawn(self._connection(client))

    async def _connection(self, client: socket.socket) -> None:
        try:
            client_reader, client_writer = await asyncio.open_connection(
                sock=client, limit=READ_SIZE)
            try:
                await asyncio.sleep(self.rtt)          # the TCP handshake over the link
                server_reader, server_writer = await asyncio.open_connection(
                    *self.target, limit=READ_SIZE)
                try:
                    await self._carry(client_reader, client_writer, server_reader,
                                      server_writer)
                finally:
                    await _close(server_writer)
            finally:
                await _close(client_writer)
        except (OSError, asyncio.CancelledError):
            pass             # refused upstream, a reset on one side, or the proxy stopped
        finally:
            self._clients.discard(client)
            client.close()

    async def _carry(self, client_reader, client_writer, server_reader, server_writer):
        """Both directions, until both ended (or one failed: it raises)."""
        up = _Direction(self.rtt / 2, self.rate, self.capacity)
        down = _Direction(self.rtt / 2, self.rate, self.capacity)
        tasks = [asyncio.ensure_future(job) for job in (
            _receive(client_reader, up), _deliver(up, server_writer),
            _receive(server_reader, down), _deliver(down, client_writer))]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('target', type=host_port, help='HOST:PORT to forward to')
    parser.add_argument('--rtt-ms', type=number(float, 0), default=0.0,
                        help='round-trip time added (ms, default 0)')
    parser.add_argument('--rate', type=number(float, 0, above=True),
                        help='bytes/s per direction (default: no cap)')
    args = parser.parse_args()
    host, port = args.target
    proxy = DelayProxy(host, port, args.rtt_ms / 1000, args.rate).start()
    print(proxy.port, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        proxy.stop()


if __name__ == '__main__':
    main()
