"""`filetransfer --dry-run JOBID`: shows what a run would transfer, skip, delete and
archive now, without writing anything (no lock is taken; the target is only looked
at when `overwrite` needs it, and never created).

With --json it prints one object whatever the outcome, like a run's --json."""

import json

import click

from filetransfer.cli.progress import human


def _source_action(job, item) -> str:
    """What a run would do with the source file of a planned file: keep, delete or
    archive (for a skipped file: only if the target's copy is identical)."""
    options = job.cfg.source.options
    action = 'delete' if options.delete else 'archive' if options.archive_dir else 'keep'
    if action == 'keep' or item.held is None:
        return action
    if item.held.kind not in ('on_target', 'remembered'):
        return 'keep'
    if job.cfg.target.options.verify == 'checksum' and \
            'FASP' in (job.cfg.source.type, job.cfg.target.type):
        return 'keep'       # the FASP side's copy cannot be hashed to show it identical
    return f'{action}_if_identical'


def _show(job, planned) -> None:
    cfg = job.cfg
    sent = [item.entry for item in planned if item.held is None]
    held = [item for item in planned if item.held is not None]
    total = sum(entry.size for entry in sent)
    click.echo(f'dry run of job {job.job_id}: {job.source} -> {job.target}')
    if not sent:
        click.echo('would transfer no file')
    else:
        click.echo(f'would transfer {len(sent)} file(s), {human(total)}:')
        for entry in sent:
            click.echo(f'  {entry.path}  ({entry.size} bytes)')
        if cfg.source.options.delete:
            click.echo('would delete each of them from the source once its copy is complete')
        elif cfg.source.options.archive_dir:
            click.echo(f'would move each of them into the archive '
                       f'{cfg.source.options.archive_dir} once its copy is complete')
    if held:
        click.echo(f'would skip {len(held)} file(s):')
        for item in held:
            action = _source_action(job, item)
            then = f"; its source would be {action.split('_')[0]}d if the target's copy " \
                   'is identical' if action.endswith('_if_identical') else ''
            click.echo(f'  {item.entry.path}  ({item.entry.size} bytes): '
                       f'{item.held.text}{then}')
    ready_file = cfg.job.ready_file
    if ready_file:
        click.echo(f'would delete the ready file {ready_file} if all files succeed')


def _data(job_id: str, job, planned, code: int, error) -> dict:
    """The JSON of a dry run; what is not known (the job did not load, the source
    could not be listed) is null. Not ready: no file would be transferred."""
    from filetransfer.errors import status_of

    cfg = job.cfg if job else None

    def item_data(item):
        data = {'path': item.entry.path, 'size': item.entry.size,
                'action': 'send' if item.held is None else 'skip'}
        if item.held is not None:
            data.update(reason=item.held.kind, why=item.held.text)
        data['source'] = _source_action(job, item)
        return data

    return {'job_id': job_id, 'dry_run': True,
            'status': status_of(code, error), 'exit_code': int(code),
            'error': None if error is None else str(error) or type(error).__name__,
            'source': job.source if job else None,
            'target': job.target if job else None,
            'files': None if planned is None else [item_data(item) for item in planned
                                                   if item.held is None],
            'skipped': None if planned is None else [item_data(item) for item in planned
                                                     if item.held is not None],
            'delete_source': cfg.source.options.delete if cfg else None,
            'archive_dir': cfg.source.options.archive_dir if cfg else None,
            'ready_file': cfg.job.ready_file if cfg else None}


def dry_run(config_file: str, job_id: str, as_json: bool = False) -> int:
    """Prints the plan of a job; returns the exit code (errors are printed too)."""
    from filetransfer import Error, NotReadyError, Terminated
    from filetransfer.errors import exit_code_of
    from filetransfer.run.job import load

    job = planned = None
    try:
        job = load(config_file, job_id)
        planned = job.plan()
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
        click.echo(json.dumps(_data(job_id, job, planned, 0, None), indent=2))
    else:
        _show(job, planned)
    return 0
