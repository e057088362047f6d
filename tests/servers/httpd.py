"""A real HTTP server (http.server, in a thread) on 127.0.0.1 that keeps the requests
it receives and answers them as a test tells it: with a status, or not at all.
With a certificate it speaks HTTPS (the handshake in the connection's own thread,
so a client that refuses the certificate harms nobody else)."""

import http.server
import ssl
import threading
from dataclasses import dataclass

HANG = 'hang'     # a reply: read the request, then never answer


@dataclass
class Request:
    """One request as the server got it."""

    method: str
    path: str            # path and query, as sent
    headers: dict
    body: bytes

    @property
    def json(self):
        import json
        return json.loads(self.body)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def _handle(self):
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else b''
        reply = self.server.owner._record(Request(self.command, self.path,
                                                  dict(self.headers), body))
        if reply == HANG:
            self.server.owner._released.wait(120)
            self.close_connection = True
            return
        payload = b'OK' if reply < 400 else b'no'
        self.send_response(reply)
        self.send_header('Content-Length', str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_HEAD = _handle

    def log_message(self, format, *args):   # quiet
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner, context):
        self.owner = owner
        self.context = context
        super().__init__(('127.0.0.1', 0), _Handler)

    def finish_request(self, request, client_address):
        if self.context is not None:
            try:
                request = self.context.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError):    # e.g. the client refused the certificate
                with self.owner._lock:
                    self.owner.handshake_failures += 1
                return
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):   # a client that went away
        pass


class HttpServer:
    """``replies`` are used one per request (a status or HANG), then ``default``.
    ``requests`` fills as requests arrive; ``cert_file`` (certificate and key, PEM)
    makes it HTTPS."""

    def __init__(self, cert_file: str | None = None):
        context = None
        if cert_file:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert_file)
        self.scheme = 'https' if cert_file else 'http'
        self._lock = threading.Lock()
        self._requests: list[Request] = []
        self._replies: list = []
        self._released = threading.Event()
        self.default = 200
        self.handshake_failures = 0
        self._server = _Server(self, context)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> 'HttpServer':
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str = '/') -> str:
        return f'{self.scheme}://127.0.0.1:{self.port}{path}'

    def reply(self, *replies, default=200) -> None:
        """The next requests get ``replies`` in order, later ones ``default``."""
        with self._lock:
            self._replies = list(replies)
            self.default = default

    def _record(self, request: Request):
        with self._lock:
            self._requests.append(request)
            return self._replies.pop(0) if self._replies else self.default

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    def paths(self) -> list[str]:
        return [request.path for request in self.requests]

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self._replies.clear()
            self.default = 200
            self.handshake_failures = 0
