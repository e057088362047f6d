"""`filetransfer --dry-run JOBID`: shows what a run would transfer and delete now,
without writing anything (the target is not contacted, no lock is taken)."""

import json

import click

from filetransfer.cli.progress import human


def _show(job, entries) -> None:
    cfg = job.cfg
    total = sum(entry.size for entry in entries)
    click.echo(f'dry run of job {job.job_id}: {job.source} -> {job.target}')
    if not entries:
        click.echo('would transfer no file')
    else:
        click.echo(f'would transfer {len(entries)} file(s), {human(total)}:')
        for entry in entries:
            click.echo(f'  {entry.path}  ({entry.size} bytes)')
        if cfg.source.options.delete:
            click.echo('would delete each of them from the source once its copy is complete')
    ready_file = cfg.job.ready_file
    if ready_file:
        click.echo(f'would delete the ready file {ready_file} if all files succeed')


def _data(job, entries) -> dict:
    cfg = job.cfg
    return {'job_id': job.job_id, 'dry_run': True, 'source': job.source,
            'target': job.target,
            'files': [{'path': entry.path, 'size': entry.size} for entry in entries],
            'delete_source': cfg.source.options.delete,
            'ready_file': cfg.job.ready_file}


def dry_run(config_file: str, job_id: str, as_json: bool = False) -> int:
    """Prints the plan of a job; returns the exit code (errors are printed too)."""
    from filetransfer import ConfigError, Error, NotReadyError
    from filetransfer.run.job import load

    try:
        job = load(config_file, job_id)
        entries = job.plan()
    except NotReadyError as error:
        if as_json:
            click.echo(json.dumps({'job_id': job_id, 'dry_run': True, 'status': 'not_ready',
                                   'error': str(error)}, indent=2))
        else:
            click.echo(f'dry run of job {job_id}: not ready ({error}), nothing would be '
                       'transferred')
        return 0
    except (ConfigError, Error) as error:
        click.echo(f'filetransfer: {error}', err=True)
        return error.code
    if as_json:
        click.echo(json.dumps(_data(job, entries), indent=2))
    else:
        _show(job, entries)
    return 0
