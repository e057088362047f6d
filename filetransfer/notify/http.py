"""The HTTP requests of the ping and the webhook: a POST with one retry, HTTPS
certificates verified, all within a total timeout.

A URL may hold a token in its path or query: `shown` gives what may be shown of it
(scheme, host and port), and no text of this module holds more. Each request runs in
a thread of its own (`Sending`), so that a server or a name lookup that hangs holds
the job no longer than the timeout.
"""

import threading
import time
from urllib.parse import urlsplit, urlunsplit

RETRY_PAUSE = 1.0          # seconds between the two tries
MAX_REPLY = 64 * 1024      # bytes of a reply read (and dropped)


def shown(url: str) -> str:
    """What may be shown of ``url``: its scheme, host and port."""
    parts = urlsplit(url)
    host = parts.hostname or '?'
    host = f'[{host}]' if ':' in host else host
    return f'{parts.scheme}://{host}' + (f':{parts.port}' if parts.port else '')


def with_path(url: str, suffix: str) -> str:
    """``url`` with ``/suffix`` added to its path (a query stays at the end)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path.rstrip('/') + '/' + suffix))


class Failure(Exception):
    """A request that did not succeed; the text never holds the URL's path or query.
    ``retryable`` tells whether another try may help."""

    def __init__(self, text: str, retryable: bool = True, timed_out: bool = False):
        super().__init__(text)
        self.retryable = retryable
        self.timed_out = timed_out


def post(url: str, body: bytes, content_type: str, deadline: float,
         ca_file: str | None = None) -> None:
    """POSTs ``body`` to ``url``, tried again once after a failure that another try may
    cure, as long as the ``deadline`` (time.monotonic()) allows. Raises Failure."""
    context = _tls_context(ca_file) if urlsplit(url).scheme.lower() == 'https' else None
    for attempt in (1, 2):
        try:
            return _post_once(url, body, content_type, deadline, context)
        except Failure as failure:
            if attempt == 2 or not failure.retryable or \
                    deadline - time.monotonic() <= RETRY_PAUSE:
                raise
        time.sleep(RETRY_PAUSE)


def _tls_context(ca_file: str | None):
    import ssl

    context = ssl.create_default_context()
    if ca_file:
        try:
            context.load_verify_locations(ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise Failure(f'[notify] ca_file {ca_file}: {exc.strerror or exc}',
                          retryable=False) from None
    return context


def _post_once(url, body, content_type, deadline, context) -> None:
    import urllib.request

    from filetransfer import __version__

    left = deadline - time.monotonic()
    if left <= 0:
        raise Failure('no time left (timeout)', retryable=False, timed_out=True)
    request = urllib.request.Request(url, data=body, method='POST', headers={
        'Content-Type': content_type, 'User-Agent': f'filetransfer/{__version__}'})
    try:
        with urllib.request.urlopen(request, timeout=left, context=context) as reply:
            reply.read(MAX_REPLY)
    except Exception as exc:   # urllib, http.client, ssl and socket errors
        raise _failure(exc, url) from None


def _failure(exc: Exception, url: str) -> Failure:
    import http.client
    import ssl
    import urllib.error

    if isinstance(exc, urllib.error.HTTPError):
        return Failure(f'HTTP {exc.code} {exc.reason}',
                       retryable=exc.code >= 500 or exc.code in (408, 429))
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        exc = exc.reason
    if isinstance(exc, ssl.SSLCertVerificationError):
        return Failure(f'certificate verify failed: {exc.verify_message}', retryable=False)
    if isinstance(exc, TimeoutError):
        return Failure('no answer in time (timeout)', timed_out=True)
    if isinstance(exc, http.client.RemoteDisconnected):
        return Failure('the server closed the connection without an answer')
    if isinstance(exc, OSError) and not isinstance(exc, ssl.SSLError) and exc.strerror:
        return Failure(exc.strerror)
    text = str(getattr(exc, 'reason', None) or exc) or type(exc).__name__
    return Failure(scrub(text, url))


def scrub(text: str, url: str) -> str:
    """``text`` without the secret parts of ``url`` (path, query, the URL itself)."""
    parts = urlsplit(url)
    for secret in (url, parts.path + ('?' + parts.query if parts.query else ''),
                   parts.query, parts.path):
        if len(secret) > 1:
            text = text.replace(secret, '...')
    return text


class Sending:
    """One POST sent by a thread of its own, which ends by ``timeout`` seconds from
    now. ``after``: a Sending that must be done (or past its time) first."""

    def __init__(self, url: str, body: bytes, content_type: str, timeout: float,
                 ca_file: str | None = None, after: 'Sending | None' = None):
        self.url = url
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.problem = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._send, daemon=True,
                                        args=(body, content_type, ca_file, after),
                                        name='filetransfer-http')
        self._thread.start()

    @property
    def where(self) -> str:
        return shown(self.url)

    def _send(self, body, content_type, ca_file, after):
        try:
            if after is not None:   # the receiver sees the requests in their order
                after.wait()
            post(self.url, body, content_type, self.deadline, ca_file)
        except Failure as failure:
            self.problem = self._no_answer() if failure.timed_out else str(failure)
        except Exception as exc:   # a bug here must not reach stderr with the URL in it
            self.problem = scrub(f'unexpected error: {type(exc).__name__}: {exc}', self.url)
        finally:
            self._done.set()

    def wait(self) -> str | None:
        """Waits until the request is done or its time is up; returns what went
        wrong, None when it was sent."""
        if not self._done.wait(max(0.0, self.deadline - time.monotonic())):
            return self._no_answer()
        return self.problem

    def _no_answer(self) -> str:
        return f'no answer within {self.timeout:g} s (timeout)'
