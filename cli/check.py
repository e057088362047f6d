"""`filetransfer check [-c CONFIG] [--connect] [JOBID...]`: checks the
configuration without transferring; one line per problem, exit 0 when all is
valid, 3 for a configuration problem, 2 when --connect found an unreachable
endpoint."""

import click

from filetransfer.cli import subcommands


def _summary(result, config_file: str, connect: bool) -> str:
    parts = [config_file]
    if result.hosts:
        parts.append(f'{result.hosts} host(s)')
    parts.append(f'{result.jobs} job(s)')
    if connect:
        parts.append(f'{result.endpoints} endpoint(s) opened')
    count = len(result.problems)
    found = f'{count} problem(s) found' if count else 'no problem found'
    return f"{found}; checked {', '.join(parts)}"


@click.command(context_settings={'help_option_names': ['-h', '--help']})
@click.option('-c', '--config', 'config_file', envvar='FILETRANSFER_CFG', metavar='CONFIG',
              help='Application configuration file (default: $FILETRANSFER_CFG).')
@click.option('--connect', is_flag=True,
              help='Also open every source and target the jobs use (log in to servers).')
@click.argument('job_ids', nargs=-1, metavar='[JOBID]...',
                shell_complete=subcommands.complete_job_ids)
def command(config_file, connect, job_ids):
    """Check the application configuration, the hosts file and the jobs (all, or
    the named ones) without transferring. Prints one line per problem.

    \b
    Exit codes: 0 all valid, 3 configuration problem, 2 an endpoint is
    unreachable (--connect), 4 command-line error.
    """
    if not config_file:
        raise click.UsageError('no application configuration: use -c CONFIG or set '
                               'FILETRANSFER_CFG')
    if '' in job_ids:
        raise click.UsageError('a JOBID is empty')
    from filetransfer.service.check import check

    result = check(config_file, job_ids, connect=connect)
    for finding in result.findings:
        click.echo(finding.text)
    click.echo(_summary(result, config_file, connect))
    return result.exit_code
