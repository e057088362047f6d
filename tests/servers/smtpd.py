"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps the messages it receives.

Kinds: plain; STARTTLS (required before MAIL, with login) and implicit TLS, both
with a certificate of a throw-away CA (see tlscerts.py).
"""

import email
import email.policy
import ssl
import threading
from dataclasses import dataclass

from .common import free_port
from .tlscerts import ServerCert

USER = 'mailer'
PASSWORD = 'smtp-Secret-4711'
REFUSED_PREFIX = 'nobody'     # the server refuses recipients whose address starts so


@dataclass
class Received:
    """One message as the server got it."""

    mail_from: str
    rcpt_tos: list
    data: bytes                 # the message exactly as transmitted
    tls: bool                   # the session was encrypted
    login: str | None           # the user name of a successful AUTH, else None

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)

    @property
    def subject(self) -> str:
        return str(self.message['Subject'])

    @property
    def text(self) -> str:
        """The decoded text, with the line ends of the wire (CRLF) as \\n."""
        return self.message.get_content().replace('\r\n', '\n')


class _Collector:
    def __init__(self):
        self.messages: list[Received] = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith(REFUSED_PREFIX):
            return '550 5.1.1 no such mailbox'
        envelope.rcpt_tos.append(address)
        return '250 OK'

    async def handle_DATA(self, server, session, envelope):
        login = session.auth_data.login.decode() if session.authenticated else None
        with self.lock:
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                          envelope.original_content,
                                          server.transport.get_extra_info('ssl_object')
                                          is not None, login))
        return '250 OK: queued'


def _authenticator(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult, LoginPassword

    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode()
          and auth_data.password == PASSWORD.encode())
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


class MailServer:
    """``kind`` is 'plain', 'starttls' or 'tls'. ``messages`` fills as mails arrive."""

    def __init__(self, kind: str = 'plain', cert: ServerCert | None = None):
        from aiosmtpd.controller import Controller

        self.kind = kind
        self.host = '127.0.0.1'
        self.port = free_port()
        self._collector = _Collector()
        options = {'enable_SMTPUTF8': False}   # what we send must be plain 7-bit MIME
        if kind != 'plain':
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert.cert_file)
            options['authenticator'] = _authenticator
            if kind == 'starttls':
                options.update(tls_context=context, require_starttls=True)
            else:   # aiosmtpd only knows STARTTLS as TLS: say AUTH is safe here
                options.update(ssl_context=context, auth_require_tls=False)
        self._controller = Controller(self._collector, hostname=self.host, port=self.port,
                                      **options)

    @property
    def messages(self) -> list[Received]:
        with self._collector.lock:
            return list(self._collector.messages)

    def clear(self) -> None:
        with self._collector.lock:
            self._collector.messages.clear()

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def mail_section(self, **options) -> dict:
        """A [mail] section of the application config for this server."""
        return {'host': f'{self.host}:{self.port}', 'from_addr': 'filetransfer@example.com',
                'timeout': '10', **options}


def available() -> bool:
    try:
        import aiosmtpd  # noqa: F401
    except ImportError:
        return False
    return True
