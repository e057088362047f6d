"""The `filetransfer` command: parses the command line, runs the library, turns
the outcome into an exit code. No transfer logic lives here.

Exit codes: 0 success (also: not ready, already running), 1 finished with file
errors, 2 failure, 3 configuration error, 4 command-line error, 5 terminated,
9 unexpected internal error.
"""

import sys

import click

from filetransfer import __version__   # the package's names load lazily: -V loads nothing
from filetransfer.cli import subcommands
from filetransfer.errors import ExitCode

EPILOG = """\b
Forms:
  filetransfer [-v | -vv] [-c CONFIG] JOBID   run the job JOBID
  filetransfer [-c CONFIG] --dry-run JOBID    show what the job would transfer
  filetransfer daemon [-c CONFIG] [--foreground | --status | --stop]
  filetransfer check [-c CONFIG] [--connect] [JOBID...]
  filetransfer state [-c CONFIG] JOBID [--forget PATH]... [--forget-all]
  filetransfer -k [-H] [-p PORT] HOST FILE    add HOST's SSH keys to known-hosts FILE
  filetransfer -d [-p PORT] HOST FILE         delete HOST from known-hosts FILE
  (a job named like a command: filetransfer -c CONFIG daemon, or -- daemon)

\b
Exit codes: 0 success (also: not ready, already running), 1 finished with
file errors, 2 failure (connect/transfer), 3 configuration error,
4 command-line error, 5 terminated, 9 internal error.
"""


def _say(message: str) -> None:
    click.echo(f'filetransfer: {message}', err=True)


def _report_error(error: BaseException, verbose: int, always: bool = False) -> None:
    if always or verbose:
        _say(str(error) or type(error).__name__)
    if verbose >= 2:
        _print_trace(error)


def _print_trace(error: BaseException) -> None:
    import traceback

    traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)


def run_job(config_file: str, job_id: str, verbose: int, dry_run: bool = False,
            as_json: bool = False) -> int:
    """Runs one job (or its dry run) and returns the exit code. Once the outcome is
    decided, a SIGTERM no longer changes it, up to the exit."""
    from filetransfer import Terminated
    from filetransfer import signals

    from filetransfer.cli.jobview import JobView

    view = JobView(job_id, as_json=as_json and not dry_run)
    code = ExitCode.TERMINATED
    try:
        code = _run_job(view, config_file, verbose, dry_run, as_json)
        signals.settle()
    except Terminated:   # the only one: it came while an error before the run was reported,
        signals.settle()    # or once the code was known (which then stands)
    try:
        return view.finish(code)
    finally:
        signals.before_exit()


def _run_job(view, config_file: str, verbose: int, dry_run: bool, as_json: bool) -> int:
    import filetransfer
    from filetransfer import ConfigError, Error, Terminated
    from filetransfer import signals

    try:
        filetransfer.set_sigterm_handler()
        signals.keep_outcome_until_exit()
        if dry_run:
            from filetransfer.cli.dryrun import dry_run as show_plan
            return show_plan(config_file, view.job_id, as_json)
        result, code = view.run(config_file)
    except ConfigError as error:
        _report_error(error, verbose, always=True)
        return error.code
    except Error as error:
        _report_error(error, verbose)
        return error.code
    except (Terminated, KeyboardInterrupt) as error:
        _report_error(error if isinstance(error, Terminated) else Terminated('interrupted'),
                      verbose)
        return ExitCode.TERMINATED
    except Exception as error:
        _say(f'internal error: {type(error).__name__}: {error}')
        if verbose >= 2:
            _print_trace(error)
        return ExitCode.INTERNAL
    if code and verbose:
        _say(f'finished with errors: {result}')
    return code


@click.command(context_settings={'help_option_names': ['-h', '--help']}, epilog=EPILOG,
               no_args_is_help=False)
@click.option('-v', '--verbose', count=True,
              help='Print the error message to stderr (-vv: also the stack trace).')
@click.option('-c', '--config', 'config_file', envvar='FILETRANSFER_CFG', metavar='CONFIG',
              help='Application configuration file (default: $FILETRANSFER_CFG).')
@click.version_option(__version__, '-V', '--version', prog_name='filetransfer',
                      message='%(prog)s %(version)s')
@click.option('--dry-run', is_flag=True,
              help='Show what the job would transfer and delete now, without writing.')
@click.option('--json', 'as_json', is_flag=True,
              help='Print the result (counts, files, exit code) as JSON on stdout.')
@click.option('-k', 'fetch_key', is_flag=True, help="Fetch HOST's SSH host key into FILE.")
@click.option('-d', 'delete_key', is_flag=True, help='Delete HOST from the known-hosts FILE.')
@click.option('-H', 'hashed', is_flag=True, help='With -k: write the host name hashed.')
@click.option('-p', 'port', type=click.IntRange(1, 65535), metavar='PORT',
              help='With -k/-d: the SSH port of HOST (default 22).')
@click.argument('args', nargs=-1, metavar='JOBID', shell_complete=subcommands.complete_job_id)
def command(verbose, config_file, dry_run, as_json, fetch_key, delete_key, hashed, port,
            args):
    """Run a file transfer job described by INI files."""
    if fetch_key or delete_key or hashed or port is not None:
        from filetransfer.cli import hostkeys
        return hostkeys.run(fetch_key, delete_key, hashed, port, args)
    if len(args) != 1:
        raise click.UsageError('expected one JOBID' if args else 'missing JOBID')
    if not config_file:
        raise click.UsageError('no application configuration: use -c CONFIG or set '
                               'FILETRANSFER_CFG')
    return run_job(config_file, args[0], verbose, dry_run, as_json)


def main(argv=None) -> None:
    """Entry point of the console script."""
    args = sys.argv[1:] if argv is None else list(argv)
    # A subcommand name as the first word selects it; `-c CONFIG NAME` or `-- NAME`
    # still runs the job NAME.
    chosen, prog_name, args = subcommands.select(command, args)
    try:
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
    sys.exit(int(code) if isinstance(code, int) else 0)


if __name__ == '__main__':
    main()
