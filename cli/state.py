"""`filetransfer state [-c CONFIG] JOBID [--forget PATH]... [--forget-all]`: shows
or edits the record of the files a job with `[source] remember = yes` has sent
(run/sentfiles.py). A file forgotten is sent again by the next run."""

import datetime
import json

import click

from filetransfer.cli import subcommands


def _when(seconds: float | None) -> str:
    if seconds is None:
        return '-'
    return datetime.datetime.fromtimestamp(seconds).isoformat(sep=' ', timespec='seconds')


def _show(job_id: str, path: str, records) -> None:
    click.echo(f'job {job_id}: {len(records)} file(s) sent ({path})')
    for record in records:
        line = (f'  {record.path}  {record.size} bytes, modified {_when(record.mtime)}, '
                f'sent {_when(record.sent)}')
        if record.checksum:
            line += f', sha256 {record.checksum}'
        if record.pending:
            line += f' (pending: its arrival as {record.pending} is not confirmed yet)'
        click.echo(line)


def _as_dict(record) -> dict:
    return {'path': record.path, 'size': record.size, 'mtime': record.mtime,
            'sha256': record.checksum, 'sent': record.sent, 'pending': record.pending}


@click.command(context_settings={'help_option_names': ['-h', '--help']})
@click.option('-c', '--config', 'config_file', envvar='FILETRANSFER_CFG', metavar='CONFIG',
              help='Application configuration file (default: $FILETRANSFER_CFG).')
@click.option('--forget', 'forget', multiple=True, metavar='PATH',
              help='Forget PATH (relative to the source directory): the next run sends it '
                   'again. May be given more than once.')
@click.option('--forget-all', is_flag=True, help='Forget every file.')
@click.option('--json', 'as_json', is_flag=True, help='Print the record as JSON.')
@click.argument('job_id', metavar='JOBID', shell_complete=subcommands.complete_job_ids)
def command(config_file, forget, forget_all, as_json, job_id):
    """Show the files the job JOBID has sent ([source] remember = yes), or forget
    some of them so that the next run sends them again.

    \b
    Exit codes: 0 done, 1 a PATH to forget is not in the record,
    3 configuration error, 4 command-line error.
    """
    if not config_file:
        raise click.UsageError('no application configuration: use -c CONFIG or set '
                               'FILETRANSFER_CFG')
    if forget and forget_all:
        raise click.UsageError('--forget and --forget-all exclude each other')
    from filetransfer import ConfigError, config
    from filetransfer.run.sentfiles import open_sent_files, path_of

    try:
        app = config.load_app(config_file)
        job = config.load_job(app, job_id)
        locks_dir = app.global_.locks_dir
        if not locks_dir:
            raise ConfigError(f'{app.path}: [global] locks_dir: not set, so job {job_id} '
                              'keeps no record of the files sent')
        try:
            sent = open_sent_files(locks_dir, job_id, create=False)
        except OSError as exc:
            raise ConfigError(f'{app.path}: [global] locks_dir: cannot read the record of '
                              f'the files sent: {exc}') from None
    except ConfigError as error:
        click.echo(f'filetransfer: {error}', err=True)
        return error.code
    path = path_of(locks_dir, job_id)
    try:
        with sent:
            if forget_all:
                click.echo(f'job {job_id}: forgot {sent.drop_all()} file(s)')
                return 0
            if forget:
                missing = [name for name in forget if not sent.drop(name)]
                for name in forget:
                    click.echo(f'job {job_id}: not in the record: {name}' if name in missing
                               else f'job {job_id}: forgot {name}')
                return 1 if missing else 0
            records = sent.records()
    except OSError as exc:
        click.echo(f'filetransfer: job {job_id}: the record of the files sent: {exc}',
                   err=True)
        return 2
    if not job.source.options.remember and not as_json:
        click.echo(f'job {job_id} does not remember the files it sends ([source] remember '
                   'is off)')
    if as_json:
        click.echo(json.dumps({'job_id': job_id, 'record': path,
                               'files': [_as_dict(record) for record in records]}, indent=2))
    else:
        _show(job_id, path, records)
    return 0
