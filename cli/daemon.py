"""`filetransfer daemon [-c CONFIG] [--foreground | --status | --stop]`: the
hot-folder daemon of the [daemon] section (see filetransfer/service/daemon.py)."""

import sys

import click


def _say(message: str) -> None:
    click.echo(f'filetransfer: {message}', err=True)


@click.command(context_settings={'help_option_names': ['-h', '--help']})
@click.option('-c', '--config', 'config_file', envvar='FILETRANSFER_CFG', metavar='CONFIG',
              help='Application configuration file (default: $FILETRANSFER_CFG).')
@click.option('--foreground', is_flag=True,
              help='Stay attached (systemd Type=simple); log to stderr unless log_dir is set.')
@click.option('--status', is_flag=True, help='Exit 0 when the daemon runs, 1 when not.')
@click.option('--stop', is_flag=True,
              help='Stop the daemon (SIGTERM) and wait until it has exited (120 s at most).')
def command(config_file, foreground, status, stop):
    """Run the jobs of the [daemon] section whenever their source is ready.

    Without an option, start the daemon in the background: the command returns
    once the daemon runs and its pidfile is written. SIGHUP reloads the
    configuration; SIGTERM stops the daemon after the running jobs cleaned up.

    \b
    Exit codes: 0 success (also: already running, or --stop when not running),
    1 not running (--status), 2 failure, 3 configuration error,
    4 command-line error, 9 internal error.
    """
    if foreground + status + stop > 1:
        raise click.UsageError('--foreground, --status and --stop exclude each other')
    if not config_file:
        raise click.UsageError('no application configuration: use -c CONFIG or set '
                               'FILETRANSFER_CFG')
    from filetransfer.errors import Error, ExitCode
    from filetransfer.service import daemon

    try:
        if status:
            pid = daemon.status(config_file)
            click.echo(f'filetransfer daemon is running (pid {pid})' if pid is not None
                       else 'filetransfer daemon is not running')
            return 0 if pid is not None else 1
        if stop:
            pid = daemon.stop(config_file)
            click.echo(f'filetransfer daemon stopped (pid {pid})' if pid is not None
                       else 'filetransfer daemon is not running')
            return 0
        pid = daemon.start(config_file, foreground=foreground)
        if not foreground:
            click.echo(f'filetransfer daemon started (pid {pid})')
        return 0
    except daemon.AlreadyRunning as exc:
        _say(f'the daemon is already running (pid {exc.pid}); nothing changed')
        return 0
    except Error as exc:
        _say(str(exc))
        return exc.code
    except OSError as exc:
        _say(f'{exc.strerror or exc}: {exc.filename}' if exc.filename else str(exc))
        return ExitCode.FAILURE
    except Exception as exc:
        _say(f'internal error: {type(exc).__name__}: {exc}')
        return ExitCode.INTERNAL
    finally:
        sys.stdout.flush()
