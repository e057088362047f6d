"""`filetransfer runs [-c CONFIG] [JOBID] [--last N] [--json]` lists the run
history; `filetransfer runs [-c CONFIG] --prune DAYS` deletes its old runs (see
filetransfer/state/)."""

import click

from filetransfer.cli import subcommands

COLUMNS = ('ID', 'JOB', 'HOST', 'PID', 'STARTED', 'DURATION', 'STATUS', 'EXIT', 'FILES',
           'ERRORS', 'ERROR')


def _say(message: str) -> None:
    click.echo(f'filetransfer: {message}', err=True)


def _cells(run) -> list[str]:
    errors = None if run.src_error_cnt is None else run.src_error_cnt + run.tgt_error_cnt
    duration = '-' if run.ended is None else \
        f'{(run.ended - run.started).total_seconds():.1f} s'
    return [str(run.id), run.job_id, run.host, str(run.pid),
            run.started.strftime('%Y-%m-%d %H:%M:%S'), duration, run.status,
            *('-' if value is None else str(value)
              for value in (run.exit_code, run.files_cnt, errors)),
            run.error or '']


def _table(runs) -> str:
    rows = [list(COLUMNS)] + [_cells(run) for run in runs]
    widths = [max(len(row[index]) for row in rows) for index in range(len(COLUMNS) - 1)]
    return '\n'.join('  '.join([*(cell.ljust(width) for cell, width in zip(row, widths)),
                                row[-1]]).rstrip() for row in rows)


@click.command(context_settings={'help_option_names': ['-h', '--help']})
@click.option('-c', '--config', 'config_file', envvar='FILETRANSFER_CFG', metavar='CONFIG',
              help='Application configuration file (default: $FILETRANSFER_CFG).')
@click.option('--last', type=click.IntRange(min=1), default=20, show_default=True,
              metavar='N', help='Show the last N runs.')
@click.option('--json', 'as_json', is_flag=True, help='Print the runs as a JSON list.')
@click.option('--prune', type=click.FloatRange(min=0), metavar='DAYS',
              help='Delete the runs that started more than DAYS days ago.')
@click.argument('job_id', required=False, metavar='[JOBID]',
                shell_complete=subcommands.complete_job_ids)
def command(config_file, last, as_json, prune, job_id):
    """List the runs of every job (or of JOBID), oldest first: where each ran
    (host, pid), when, its status, exit code and counts, the error of a run that
    failed. A run whose end was never stored is 'unfinished': it is still running,
    or it was killed. Runs that found nothing to do are not stored.

    \b
    Exit codes: 0 success, 2 the state database cannot be reached or read,
    3 configuration error (also: no history is kept), 4 command-line error.
    """
    if not config_file:
        raise click.UsageError('no application configuration: use -c CONFIG or set '
                               'FILETRANSFER_CFG')
    if prune is not None and (job_id or as_json):
        raise click.UsageError('--prune takes no JOBID and no --json')
    from filetransfer import config
    from filetransfer.errors import Error
    from filetransfer.state.history import open_history

    try:
        store = open_history(config.load_app(config_file), 'filetransfer runs')
        try:
            if prune is not None:
                count = store.prune(prune)
                click.echo(f'deleted {count} run(s) that started more than {prune:g} '
                           'day(s) ago')
                return 0
            runs = store.runs(job_id, last)
        finally:
            store.close()
    except Error as exc:
        _say(str(exc))
        return exc.code
    if as_json:
        import json

        click.echo(json.dumps([run.as_dict() for run in runs], indent=2))
    elif runs:
        click.echo(_table(runs))
    else:
        click.echo('no runs stored' + (f' for job {job_id}' if job_id else ''))
    return 0
