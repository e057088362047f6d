"""The notification mail of a job run: who receives it, the MIME message, SMTP.

`send_report` is called once per run with the run's report. A mail that cannot
be sent is logged; it never raises and never changes the exit code.
smtplib and email are imported only when a mail is sent.
"""

import logging

from filetransfer.outcome import JobReport
from filetransfer.secret import reveal

log = logging.getLogger('filetransfer.notify')

DEFAULT_PORTS = {None: 25, 'STARTTLS': 25, 'TLS': 465}


def recipients(app_notify, job_notify, success: bool) -> list[str]:
    """The recipients to mail, as written (``addr`` or ``Name <addr>``): ``success``
    (or ``error``) and ``done`` of the application's and of the job's [notify]
    (schema.Notify, the job's may be None), in that order, each address once
    (compared without regard to case)."""
    wanted = ('success' if success else 'error', 'done')
    written = [recipient for notify in (app_notify, job_notify) for key in wanted
               for recipient in getattr(notify, key, None) or ()]
    if not written:
        return []           # the usual run, which mails nobody, loads no email package
    from email.utils import parseaddr

    found, seen = [], set()
    for recipient in written:
        address = parseaddr(recipient)[1].lower()
        if address not in seen:
            seen.add(address)
            found.append(recipient)
    return found


def envelope_address(written: str) -> str:
    """The address of ``addr`` or ``Name <addr>`` (a bare local name such as root
    stays as it is)."""
    from email.utils import parseaddr

    return parseaddr(written)[1]


def template_name(app_notify, job_notify) -> str:
    """The job's mail_cfg when set (not empty), else the application's."""
    return (job_notify.mail_cfg if job_notify else None) or app_notify.mail_cfg


def build_message(from_addr: str, to: list[str], subject: str, text: str):
    """A MIME text message (UTF-8) with Date and Message-ID; ``from_addr`` and the
    recipients ``to`` are used as written."""
    from email.message import EmailMessage
    from email.utils import formataddr, formatdate, make_msgid, parseaddr

    message = EmailMessage()
    message['From'] = from_addr
    message['To'] = ', '.join(formataddr(parseaddr(recipient)) for recipient in to)
    message['Subject'] = subject
    message['Date'] = formatdate(localtime=True)
    message['Message-ID'] = make_msgid(domain=envelope_address(from_addr).rpartition('@')[2]
                                       or None)
    message['Auto-Submitted'] = 'auto-generated'   # RFC 3834: no replies from robots
    plain = text.isascii() and max(map(len, text.splitlines() or [''])) <= 998
    message.set_content(text, charset='utf-8', cte='7bit' if plain else 'quoted-printable')
    return message


def _server(mail) -> tuple[str, int]:
    host, port = mail.host
    return host, port or DEFAULT_PORTS[mail.security]


def _where(mail) -> str:
    host, port = _server(mail)
    return f'[{host}]:{port}' if ':' in host else f'{host}:{port}'


def _describe_error(exc: BaseException, timeout: float) -> str:
    import smtplib
    import ssl

    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return 'all recipients refused: ' + '; '.join(
            f'{address}: {code} {_text(reply)}' for address, (code, reply)
            in exc.recipients.items())
    if isinstance(exc, smtplib.SMTPResponseException):
        return f'{exc.smtp_code} {_text(exc.smtp_error)}'
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f'certificate verify failed: {exc.verify_message}'
    # smtplib reports a timeout while reading as "connection unexpectedly closed"
    if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
        return f'no answer within {timeout:g} s (timeout)'
    if isinstance(exc, OSError) and not isinstance(exc, ssl.SSLError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _text(reply) -> str:
    return reply.decode('utf-8', 'replace') if isinstance(reply, bytes) else str(reply)


def _tls_context(mail):
    import ssl

    if not mail.verify_cert:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    ca_file = mail.ca_file or None
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:   # only a ca_file can make this fail
        raise OSError(f'[mail] ca_file {ca_file}: {exc.strerror or exc}') from None


def send(mail, message, to: list[str]) -> None:
    """Sends ``message`` through the SMTP server of the [mail] section.

    Raises OSError or smtplib.SMTPException.
    """
    import smtplib

    host, port = _server(mail)
    security, timeout = mail.security, mail.timeout
    if security == 'TLS':
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=_tls_context(mail))
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    with smtp:
        if security == 'STARTTLS':
            smtp.starttls(context=_tls_context(mail))
        if mail.user is not None:
            smtp.login(mail.user, reveal(mail.password))
        refused = smtp.send_message(message, envelope_address(mail.from_addr),
                                    [envelope_address(recipient) for recipient in to])
    for address, (code, reply) in refused.items():
        log.warning('notification mail: %s refused %s: %s %s', _where(mail), address, code,
                    _text(reply))


def send_report(app, job_cfg, report: JobReport) -> None:
    """Mails the outcome of one run to the recipients that apply; logs (never
    raises) when that fails."""
    try:
        _send_report(app, job_cfg, report)
    except Exception:   # a bug here must not change the job's outcome either
        log.exception('notification mail not sent: unexpected error')


def _send_report(app, job_cfg, report: JobReport) -> None:
    job_notify = job_cfg.notify if job_cfg else None
    to = recipients(app.notify, job_notify, report.exit_code == 0)
    if not to:
        return
    mail = app.mail
    if mail is None:
        log.warning('notification mail not sent to %s: no mail server configured ([mail] '
                    'in %s)', ', '.join(to), app.path)
        return
    from filetransfer.notify import template as mailtemplate

    name = template_name(app.notify, job_notify)
    subject, text = mailtemplate.render_named(name, app.global_.mail_cfgs_dir, report)
    message = build_message(mail.from_addr, to, subject, text)
    try:
        send(mail, message, to)
    except Exception as exc:   # smtplib, ssl and socket errors; a mail never fails the job
        log.error('notification mail to %s not sent: %s: %s', ', '.join(to), _where(mail),
                  _describe_error(exc, mail.timeout))
        return
    log.info('notification mail sent to %s through %s', ', '.join(to), _where(mail))

