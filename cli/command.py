"""The click command of the job form and the dispatch to the subcommands: every
command line that the plain one of cli/main.py does not take, with click's help,
usage errors, option abbreviations and shell completion."""

import click

from filetransfer import __version__
from filetransfer.cli import subcommands
from filetransfer.cli.main import job_form
from filetransfer.errors import ExitCode

EPILOG = """\b
Forms:
  filetransfer [-v | -vv] [-c CONFIG] JOBID   run the job JOBID
  filetransfer [-c CONFIG] --dry-run JOBID    show what the job would transfer
  filetransfer daemon [-c CONFIG] [--foreground | --status | --stop]
  filetransfer check [-c CONFIG] [--connect] [JOBID...]
  filetransfer runs [-c CONFIG] [JOBID] [--last N] [--json] | --prune DAYS
  filetransfer state [-c CONFIG] JOBID [--forget PATH]... [--forget-all]
  filetransfer -k [-H] [-p PORT] HOST FILE    add HOST's SSH key to known-hosts FILE
  filetransfer -d [-p PORT] HOST FILE         delete HOST from known-hosts FILE
  (a job named like a command: filetransfer -c CONFIG daemon, or -- daemon)

\b
Exit codes: 0 success (also: not ready, already running), 1 finished with
file errors, 2 failure (connect/transfer), 3 configuration error,
4 command-line error, 5 terminated, 9 internal error.
"""


@click.command(context_settings={'help_option_names': ['-h', '--help']}, epilog=EPILOG,
               no_args_is_help=False)
@click.option('-v', '--verbose', count=True,
              help='Print the counts of the run to stdout and its error to stderr '
                   '(-vv: the stack trace instead).')
@click.option('-c', '--config', 'config_file', envvar='FILETRANSFER_CFG', metavar='CONFIG',
              help='Application configuration file (default: $FILETRANSFER_CFG).')
@click.version_option(__version__, '-V', '--version', prog_name='filetransfer',
                      message='%(prog)s %(version)s')
@click.option('--dry-run', is_flag=True,
              help='Show what the job would transfer and delete now, without writing.')
@click.option('--json', 'as_json', is_flag=True,
              help='Print the result (counts, files, exit code) as JSON on stdout.')
@click.option('-k', '--hostkey', 'fetch_key', is_flag=True,
              help="Fetch HOST's SSH host key into FILE.")
@click.option('-d', '--delete', 'delete_key', is_flag=True,
              help='Delete HOST from the known-hosts FILE.')
@click.option('-H', '--hash', 'hashed', is_flag=True,
              help='With -k: write the host name hashed.')
@click.option('-p', '--port', 'port', metavar='PORT',
              help='With -k/-d: the SSH port of HOST (default 22).')
@click.argument('args', nargs=-1, metavar='JOBID', shell_complete=subcommands.complete_job_id)
def command(verbose, config_file, dry_run, as_json, fetch_key, delete_key, hashed, port,
            args):
    """Run a file transfer job described by INI files."""
    if verbose > 2:
        raise click.UsageError('-v is given once or twice (-vv)')
    if fetch_key or delete_key or hashed or port is not None:
        from filetransfer.cli import hostkeys
        return hostkeys.run(fetch_key, delete_key, hashed, port, args)
    if len(args) != 1:
        raise click.UsageError('expected one JOBID' if args else 'missing JOBID')
    if not args[0]:
        raise click.UsageError('JOBID is empty')
    return job_form(config_file, args[0], verbose, dry_run, as_json)


def _options(command_: click.Command) -> tuple[list[str], set[str]]:
    """The long option names of ``command_`` and the names that take a value."""
    longs, valued = ['--help'], set()
    for param in command_.params:
        if isinstance(param, click.Option):
            names = param.opts + param.secondary_opts
            longs += [name for name in names if name.startswith('--')]
            if not param.is_flag and not param.count:
                valued.update(names)
    return sorted(set(longs)), valued


def _long_options(command_: click.Command, args: list[str]) -> list[str]:
    """``args`` with each long option given by an unambiguous start (--conf) in full,
    as FileTransfer 0.11 takes them. Raises click.UsageError for an ambiguous one and
    for a repeated -c."""
    longs, valued = _options(command_)
    out, rest, configs = [], iter(args), 0
    for arg in rest:
        if arg == '--':
            out += [arg, *rest]
            break
        name, equals, value = arg.partition('=') if arg.startswith('--') else (arg, '', '')
        if arg.startswith('--') and name not in longs:
            found = [option for option in longs if option.startswith(name)]
            if len(found) > 1:
                raise click.UsageError(f'option {name} is ambiguous: {", ".join(found)}')
            name = found[0] if found else name
        out.append(name + equals + value)
        if name == '--config' or arg.startswith('-c'):
            configs += 1
        if name in valued and not equals:      # its value is the next word, as it is
            following = next(rest, None)
            if following is not None:
                out.append(following)
    if configs > 1:
        raise click.UsageError('-c is given more than once')
    return out


def run(args: list[str]) -> int:
    """Runs the command line ``args`` (without the program name); returns the exit code."""
    # A subcommand name as the first word selects it; `-c CONFIG NAME` or `-- NAME`
    # still runs the job NAME.
    chosen, prog_name, args = subcommands.select(command, args)
    try:
        if chosen is command:
            args = _long_options(command, args)
        code = chosen.main(args, prog_name=prog_name, standalone_mode=False,
                           complete_var=subcommands.COMPLETE_VAR)
    except click.UsageError as error:
        if error.ctx is None:   # failed before click knew the command: say how to use it
            usage = f'{command.options_metavar} JOBID' if chosen is command else '[OPTIONS]'
            click.echo(f'Usage: {prog_name} {usage}\n'
                       f"Try '{prog_name} -h' for help.\n", err=True)
        error.show()
        code = ExitCode.USAGE
    except click.ClickException as error:
        error.show()
        code = ExitCode.USAGE
    except click.exceptions.Abort:
        code = ExitCode.TERMINATED
    return code
