"""`filetransfer --dry-run JOBID`: shows what a run would transfer and delete now,
without writing anything (the target is not contacted, no lock is taken).

With --json it prints one object whatever the outcome, like a run's --json."""

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


def _data(job_id: str, job, entries, code: int, error) -> dict:
    """The JSON of a dry run; what is not known (the job did not load, the source
    could not be listed) is null. Not ready: no file would be transferred."""
    from filetransfer.errors import status_of

    cfg = job.cfg if job else None
    return {'job_id': job_id, 'dry_run': True,
            'status': status_of(code, error), 'exit_code': int(code),
            'error': None if error is None else str(error) or type(error).__name__,
            'source': job.source if job else None,
            'target': job.target if job else None,
            'files': None if entries is None else [{'path': entry.path, 'size': entry.size}
                                                   for entry in entries],
            'delete_source': cfg.source.options.delete if cfg else None,
            'ready_file': cfg.job.ready_file if cfg else None}


def dry_run(config_file: str, job_id: str, as_json: bool = False) -> int:
    """Prints the plan of a job; returns the exit code (errors are printed too)."""
    from filetransfer import Error, NotReadyError, Terminated
    from filetransfer.errors import exit_code_of
    from filetransfer.run.job import load

    job = entries = None
    try:
        job = load(config_file, job_id)
        entries = job.plan()
    except NotReadyError as error:
        if as_json:
            click.echo(json.dumps(_data(job_id, job, [], error.code, error), indent=2))
        else:
            click.echo(f'dry run of job {job_id}: not ready ({error}), nothing would be '
                       'transferred')
        return error.code
    except Error as error:
        click.echo(f'filetransfer: {error}', err=True)
        if as_json:
            click.echo(json.dumps(_data(job_id, job, None, error.code, error), indent=2))
        return error.code
    except BaseException as error:    # terminated, or an internal error: the caller says so
        if as_json:
            shown = Terminated('interrupted') if isinstance(error, KeyboardInterrupt) else error
            click.echo(json.dumps(_data(job_id, job, None, exit_code_of(error), shown),
                                  indent=2))
        raise
    if as_json:
        click.echo(json.dumps(_data(job_id, job, entries, 0, None), indent=2))
    else:
        _show(job, entries)
    return 0
