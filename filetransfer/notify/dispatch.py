"""What a run tells the world besides its log: the ping when it starts; at its end
the mail, the ping, the webhook and the metrics file.

The ping and the webhook go out in threads of their own while the mail is sent, so
neither delays the mail, and the end waits for them no longer than their
``http_timeout``. Whatever fails is a warning in the log: the exit code stays.
"""

import logging

from filetransfer.config import AppConfig, JobConfig
# http, ping, webhook and metrics load only when a run has them to send: every
# run of a cron job that has none starts quicker
from filetransfer.notify import mail
from filetransfer.outcome import JobReport
from filetransfer.secret import reveal

log = logging.getLogger('filetransfer.notify')

JSON = 'application/json'


def _chosen(app: AppConfig, job_cfg: JobConfig | None, name: str):
    """The job's [notify] value of ``name`` when it has one, else the application's."""
    value = getattr(job_cfg.notify, name) if job_cfg else None
    return getattr(app.notify, name) if value is None else value


class Notices:
    """The notices of one run of the job ``job_id`` (``job_cfg`` is None when the job
    file is broken: the application's settings apply)."""

    def __init__(self, app: AppConfig, job_cfg: JobConfig | None, job_id: str):
        self.app, self.job_cfg, self.job_id = app, job_cfg, job_id
        self.ping_url = reveal(_chosen(app, job_cfg, 'ping_url'))
        self.webhook_url = reveal(_chosen(app, job_cfg, 'webhook_url'))
        self.timeout = _chosen(app, job_cfg, 'http_timeout')
        self.ca_file = _chosen(app, job_cfg, 'ca_file')
        self._start = None     # the start ping (http.Sending)

    def _send(self, url: str, body: bytes, after=None):
        from filetransfer.notify import http

        return http.Sending(url, body, JSON, self.timeout, self.ca_file, after)

    def started(self) -> None:
        """The run has started: pings URL/start (in the background)."""
        if self.ping_url:
            from filetransfer.notify import ping

            self._start = self._send(ping.url_for(self.ping_url, self.job_id, 'start'), b'')

    def ended(self, report: JobReport) -> None:
        """The run has ended: the mail, the end ping, the webhook, the metrics file."""
        sendings = [('ping start', self._start)] if self._start is not None else []
        if self.ping_url:
            from filetransfer.notify import ping

            code = str(int(report.exit_code))
            self._post(sendings, 'ping', self.ping_url, lambda: (
                ping.url_for(self.ping_url, self.job_id, code), ping.body(report)))
        if self.webhook_url and _webhook().wanted(_chosen(self.app, self.job_cfg, 'webhook_on'),
                                               report.exit_code):
            self._post(sendings, 'webhook', self.webhook_url, lambda: (
                self.webhook_url, self._webhook_body(report)))
        mail.send_report(self.app, self.job_cfg, report)
        self._write_metrics(report)
        for what, sending in sendings:
            problem = sending.wait()
            fields = {'url': sending.where, 'exit_code': int(report.exit_code)}
            if problem:
                log.warning('%s to %s not sent: %s', what, sending.where, problem,
                            extra={**fields, 'error': problem})
            else:
                log.log(logging.DEBUG if what == 'ping start' else logging.INFO,
                        '%s sent to %s', what, sending.where, extra=fields)

    def _post(self, sendings: list, what: str, url: str, request) -> None:
        """Starts the POST of the (url, body) that ``request()`` makes: the end ping
        after the start ping. A bug making it costs only this request."""
        try:
            url, body = request()
        except Exception as exc:
            from filetransfer.notify import http

            log.warning('%s to %s not sent: unexpected error: %s', what, http.shown(url),
                        type(exc).__name__)
            return
        sendings.append((what, self._send(url, body, self._start if what == 'ping' else None)))

    def _webhook_body(self, report: JobReport) -> bytes:
        webhook_format = _chosen(self.app, self.job_cfg, 'webhook_format')
        subject = ''
        if webhook_format == 'text':
            from filetransfer.notify import template

            name = mail.template_name(self.app.notify, self.job_cfg.notify if self.job_cfg
                                      else None)
            subject, _ = template.render_named(name, self.app.global_.mail_cfgs_dir, report)
        return _webhook().body(report, webhook_format, subject)

    def _write_metrics(self, report: JobReport) -> None:
        metrics_dir = self.app.global_.metrics_dir
        if not metrics_dir:
            return
        from filetransfer.notify import metrics

        try:
            path = metrics.write(metrics_dir, report)
        except OSError as exc:
            problem = metrics.dir_problem(metrics_dir) or f'{metrics_dir}: {exc.strerror or exc}'
            log.warning('metrics not written: [global] metrics_dir %s', problem,
                        extra={'error': problem})
        except Exception as exc:   # a bug here must not cost the rest of the report
            log.warning('metrics not written: unexpected error: %s: %s', type(exc).__name__, exc)
        else:
            log.debug('metrics written to %s', path)


def _webhook():
    from filetransfer.notify import webhook

    return webhook
