"""The `filetransfer` command: parses the command line, runs the library, turns
the outcome into an exit code. No transfer logic lives here.

A job's command line in its plain spelling (`filetransfer [-v] -c CONFIG JOBID`, as
cron and timers run it) is read here without loading click, which costs a quarter of
the start-up of a job whose ready file is missing; any other goes to click
(cli/command.py), which reads the plain ones the same way.

Exit codes: 0 success (also: not ready, already running), 1 finished with file
errors, 2 failure, 3 configuration error, 4 command-line error, 5 terminated,
9 unexpected internal error.
"""

import errno
import gc
import io
import os
import sys

from filetransfer import __version__   # the package's names load lazily: -V loads nothing
from filetransfer.cli.subcommands import COMPLETE_VAR, SUBCOMMANDS
from filetransfer.errors import ExitCode


def echo(text: str, err: bool = False) -> None:
    """``click.echo(text, err=err)``; without loading click when the text is ASCII
    without terminal escapes and the stream a text file click takes as it is (not
    ASCII-encoded): click writes such a text, a newline and a flush, as here."""
    stream = sys.stderr if err else sys.stdout
    if text.isascii() and '\x1b' not in text and _taken_as_is(stream):
        stream.write(text + '\n')
        stream.flush()
    else:
        import click

        click.echo(text, err=err)


def _taken_as_is(stream) -> bool:
    import codecs

    if not isinstance(stream, io.TextIOWrapper) or stream.closed or not stream.errors:
        return False
    try:
        return codecs.lookup(stream.encoding).name != 'ascii'
    except LookupError:
        return False


def _say(message: str) -> None:
    echo(f'filetransfer: {message}', err=True)


def _report_error(error: BaseException, verbose: int, always: bool = False) -> None:
    """With -v the error as FileTransfer 0.11 shows it (``ClassName: message``), with
    -vv its stack trace instead; without -v only when ``always``."""
    if verbose >= 2:
        _print_trace(error)
    elif verbose:
        text = str(error)
        echo(f'{type(error).__name__}: {text}' if text.strip() else type(error).__name__,
             err=True)
    elif always:
        _say(str(error) or type(error).__name__)


def _job_finished(result, verbose: int, as_json: bool) -> None:
    """With -v, the counts of a run that has them, on stdout (as FileTransfer 0.11)."""
    if verbose and result is not None and not as_json:
        echo(f'Job finished: {result}')


def _print_trace(error: BaseException) -> None:
    import traceback

    traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)


def job_form(config_file: str | None, job_id: str, verbose: int, dry_run: bool = False,
             as_json: bool = False) -> int:
    """`filetransfer [-c CONFIG] JOBID` once its arguments are read: runs the job;
    returns the exit code."""
    if not config_file:     # a configuration error, as for FileTransfer 0.11
        from filetransfer import ConfigError
        _report_error(ConfigError('no application configuration: use -c CONFIG or set '
                                  'FILETRANSFER_CFG'), verbose, always=True)
        return ExitCode.CONFIG
    return run_job(config_file, job_id, verbose, dry_run, as_json)


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


def _plain_form(args: list[str]):
    """The arguments of job_form for a command line of the job form in its plain
    spelling: -v, -vv, --verbose, --json, -c/--config CONFIG (a separate word, once;
    else $FILETRANSFER_CFG), JOBID, in any order, as click reads them; None for any
    other line (help, abbreviations, --, a subcommand, shell completion, errors)."""
    if not args or args[0] in SUBCOMMANDS:
        return None
    verbose, config_file, as_json, job_ids = 0, None, False, []
    rest = iter(args)
    for arg in rest:
        if arg in ('-v', '--verbose'):
            verbose += 1
        elif arg == '-vv':
            verbose += 2
        elif arg == '--json':
            as_json = True
        elif arg in ('-c', '--config') and config_file is None:
            config_file = next(rest, '')
            if not config_file or config_file.startswith('-'):
                return None
        elif arg and not arg.startswith('-'):
            job_ids.append(arg)
        else:
            return None
    if verbose > 2 or len(job_ids) != 1:
        return None
    config_file = config_file or os.environ.get('FILETRANSFER_CFG') or None
    return config_file, job_ids[0], verbose, False, as_json


def _show_version() -> int:
    echo(f'filetransfer {__version__}')
    return 0


def _as_click_ends(run) -> int:
    """``run()``, ending as click's command would on an interrupt or a closed pipe."""
    try:
        return run()
    except (EOFError, KeyboardInterrupt):
        import click

        click.echo(file=sys.stderr)
        return ExitCode.TERMINATED
    except OSError as error:
        if error.errno != errno.EPIPE:
            raise
        sys.stdout, sys.stderr = _QuietFlush(sys.stdout), _QuietFlush(sys.stderr)
        sys.exit(1)


class _QuietFlush:
    """A stream whose flush ignores a closed pipe (the reader has gone), so that the
    interpreter ends without a message about it."""

    def __init__(self, stream):
        self._stream = stream

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as error:
            if error.errno != errno.EPIPE:
                raise

    def __getattr__(self, name):
        return getattr(self._stream, name)


def main(argv=None) -> None:
    """Entry point of the console script."""
    args = sys.argv[1:] if argv is None else list(argv)
    plain = not os.environ.get(COMPLETE_VAR)    # shell completion is click's
    if plain and args in (['-V'], ['--version']):
        code = _as_click_ends(_show_version)
    else:
        form = plain and _plain_form(args)
        if form:
            code = _as_click_ends(lambda: job_form(*form))
        else:
            from filetransfer.cli import command
            code = command.run(args)
    # The interpreter's last collections walk every object of the modules loaded
    # (with paramiko and cryptography, some 20 ms of each SFTP run); the run's own
    # cycles are young, and collected here.
    gc.collect(1)
    gc.freeze()
    sys.exit(int(code) if isinstance(code, int) else 0)


if __name__ == '__main__':
    main()
