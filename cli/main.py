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


def _say(message: str) -> None:
    click.echo(f'filetransfer: {message}', err=True)


def _report_error(error: BaseException, verbose: int, always: bool = False) -> None:
    """With -v the error as FileTransfer 0.11 shows it (``ClassName: message``), with
    -vv its stack trace instead; without -v only when ``always``."""
    if verbose >= 2:
        _print_trace(error)
    elif verbose:
        text = str(error)
        click.echo(f'{type(error).__name__}: {text}' if text.strip()
                   else type(error).__name__, err=True)
    elif always:
        _say(str(error) or type(error).__name__)


def _job_finished(result, verbose: int, as_json: bool) -> None:
    """With -v, the counts of a run that has them, on stdout (as FileTransfer 0.11)."""
    if verbose and result is not None and not as_json:
        click.echo(f'Job finished: {result}')


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
    except (Error, Terminated, KeyboardInterrupt, Exception) as error:
        _job_finished(getattr(error, 'result', None), verbose, as_json)
        if isinstance(error, KeyboardInterrupt):
            error = Terminated('KeyboardInterrupt')
        if isinstance(error, (Error, Terminated)):
            _report_error(error, verbose, always=isinstance(error, ConfigError))
            return error.code
        if verbose:
            _report_error(error, verbose)
        else:
            _say(f'internal error: {type(error).__name__}: {error}')
        return ExitCode.INTERNAL
    _job_finished(result, verbose, as_json)
    return code


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
    if not config_file:     # a configuration error, as for FileTransfer 0.11
        from filetransfer import ConfigError
        _report_error(ConfigError('no application configuration: use -c CONFIG or set '
                                  'FILETRANSFER_CFG'), verbose, always=True)
        return ExitCode.CONFIG
    return run_job(config_file, args[0], verbose, dry_run, as_json)


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


def main(argv=None) -> None:
    """Entry point of the console script."""
    args = sys.argv[1:] if argv is None else list(argv)
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
    sys.exit(int(code) if isinstance(code, int) else 0)


if __name__ == '__main__':
    main()
