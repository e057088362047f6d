"""The mails docs/mail.md shows are those a real run sends: the shipped example
(conf.example/ with its mail sections uncommented) and a failing job, through a
real STARTTLS server. Only the times, durations and the Message-ID may differ."""

import configparser
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import command_argv, write_ini

REPO = Path(__file__).resolve().parents[1]
MAIL_DOC = REPO / 'docs' / 'mail.md'
MAIL_BLOCK = ('; [mail]', '; host = smtp.example.com:587', '; security = STARTTLS')

FAILING_JOB = {
    'job': {'name': 'Upload the daily orders', 'info': 'orders for the partner portal'},
    'source': {'path': 'outbox', 'files': '*.csv'},
    'target': {'path': 'demo/upload'},
}

VOLATILE = [
    (re.compile(r'^Date: .*$', re.M), 'Date: <date>'),
    (re.compile(r'^Message-ID: .*$', re.M), 'Message-ID: <id>'),
    (re.compile(r'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d'), '<time>'),
    (re.compile(r'\d+:\d\d\.\d{3,4}|\d+:\d\d min'), '<duration>'),
    (re.compile(r'file://\S*?/(?=conf\.example/|demo/|outbox\b)'), 'file://<dir>/'),
    (re.compile(r'[ \t]+$', re.M), ''),     # editors may strip trailing blanks in docs/mail.md
]


def normalized(text: str) -> str:
    for pattern, replacement in VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def shown(received) -> str:
    """A received mail as a mail program shows it: the main headers, the text."""
    message = received.message
    head = ''.join(f'{name}: {message[name]}\n'
                   for name in ('From', 'To', 'Subject', 'Date', 'Message-ID'))
    return head + '\n' + received.text


def doc_block(name: str) -> str:
    """The block of docs/mail.md marked <!-- name -->."""
    text = MAIL_DOC.read_text(encoding='utf-8')
    match = re.search(rf'<!-- {name} -->\n```(?:text|ini)\n(.*?)```\n', text, re.S)
    assert match, f'docs/mail.md has no block <!-- {name} -->'
    return match.group(1)


def test_docs_show_the_built_in_template():
    text = (REPO / 'filetransfer' / 'notify' / 'default.mail').read_text(encoding='utf-8')
    assert doc_block('mail template: default') == text


def example_with_mail(root: Path, server, cert) -> None:
    """conf.example copied to ``root``, its [mail] and [notify] uncommented and
    pointing at the test server, its log_dir unset (the log goes to stderr)."""
    shutil.copytree(REPO / 'conf.example', root / 'conf.example')
    text = (REPO / 'conf.example' / 'filetransfer.cfg').read_text(encoding='utf-8')
    assert '\nlog_dir = demo/logs\n' in text
    text = text.replace('\nlog_dir = demo/logs\n', '\n')
    head, marker, block = text.partition(MAIL_BLOCK[0] + '\n')
    assert marker and all(line in text for line in MAIL_BLOCK)
    block = re.sub(r'^; ?', '', marker + block, flags=re.M)
    block = block.replace('host = smtp.example.com:587', f'host = {server.host}:{server.port}')
    block = block.replace('security = STARTTLS', f'security = STARTTLS\nca_file = {cert.ca_file}')
    (root / 'conf.example' / 'filetransfer.cfg').write_text(head + block, encoding='utf-8')


def run(root: Path, job_id: str) -> int:
    done = subprocess.run(command_argv('-c', 'conf.example/filetransfer.cfg', job_id),
                          cwd=root, capture_output=True, text=True, timeout=120)
    assert 'notification mail sent to' in done.stderr, done.stderr
    return done.returncode


@pytest.fixture
def example(tmp_path, smtpd_starttls, smtp_cert):
    example_with_mail(tmp_path, smtpd_starttls, smtp_cert)
    return tmp_path


def check(name: str, received, capsys) -> None:
    actual = shown(received)
    with capsys.disabled():   # `pytest -s -k docs_mail` prints what to paste into docs/mail.md
        if os.environ.get('SHOW_README_MAILS'):
            print(f'\n<!-- mail: {name} -->\n```text\n{actual}```')
    assert normalized(actual) == normalized(doc_block(f'mail: {name}'))


def test_docs_mail_of_the_example(example, smtpd_starttls, capsys):
    assert run(example, 'example') == 0
    [received] = smtpd_starttls.messages
    assert received.rcpt_tos == ['reports@example.com']
    check('example', received, capsys)


def test_docs_show_the_failing_job():
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(doc_block('job: orders'))
    assert {name: dict(parser[name]) for name in parser.sections()} == FAILING_JOB


def test_docs_mail_of_a_failing_job(example, smtpd_starttls, capsys):
    write_ini(example / 'conf.example' / 'jobs' / 'orders.cfg', FAILING_JOB)
    assert run(example, 'orders') == 2
    [received] = smtpd_starttls.messages
    assert received.rcpt_tos == ['ops@example.com', 'reports@example.com']
    check('failure', received, capsys)


def test_docs_mail_of_a_failing_job_with_the_brief_template(example, smtpd_starttls,
                                                              capsys):
    write_ini(example / 'conf.example' / 'jobs' / 'orders.cfg',
              {**FAILING_JOB, 'notify': {'mail_cfg': 'brief'}})
    assert run(example, 'orders') == 2
    [received] = smtpd_starttls.messages
    check('brief', received, capsys)
