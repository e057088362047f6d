"""The webhook: a POST of the run's result to a URL, as the JSON result (``json``) or
as ``{"text": ...}`` (``text``, which the incoming webhooks of Slack, Mattermost and
Rocket.Chat take) made of the mail's subject and a short summary."""

import json

from filetransfer.outcome import JobReport


def wanted(webhook_on: str, exit_code: int) -> bool:
    """Whether a run that ended with ``exit_code`` calls a webhook set ``webhook_on``
    success, error or done."""
    return webhook_on == 'done' or (webhook_on == 'success') == (exit_code == 0)


def body(report: JobReport, webhook_format: str, subject: str) -> bytes:
    """The request's body; ``subject`` is the subject of the run's mail."""
    if webhook_format == 'json':
        data = report.as_dict()
    else:
        data = {'text': summary(report, subject)}
    return json.dumps(data).encode('ascii')


def summary(report: JobReport, subject: str) -> str:
    """A few lines: the subject, the counts and the duration, the error if any."""
    lines = [subject, f'{report.result} in {report.duration.total_seconds():.1f} s']
    if report.error is not None:
        lines.append(f'Error: {str(report.error) or type(report.error).__name__}')
    return '\n'.join(lines)
