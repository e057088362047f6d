"""The commands beside the job form (`filetransfer daemon`, `check`, `runs`,
`state`) and shell completion for all of them.

A subcommand is chosen only by the first word of the command line, so the
original form keeps working: `filetransfer -c CONFIG check` and
`filetransfer -- check` run the job named `check`.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import click

SUBCOMMANDS = {'daemon': 'filetransfer.cli.daemon', 'check': 'filetransfer.cli.check',
               'runs': 'filetransfer.cli.runs', 'state': 'filetransfer.cli.state'}
COMPLETE_VAR = '_FILETRANSFER_COMPLETE'


def select(job_command: click.Command, args: list[str]):
    """The click command for ``args``: (command, prog_name, remaining args)."""
    name = args[0] if args else None
    if name is None and os.environ.get(COMPLETE_VAR):
        name = _completed_subcommand()
        if name:
            return _load(name), f'filetransfer {name}', []
    if name in SUBCOMMANDS:
        return _load(name), f'filetransfer {name}', args[1:]
    return job_command, 'filetransfer', args


def _load(name: str) -> click.Command:
    return importlib.import_module(SUBCOMMANDS[name]).command


def _completed_subcommand() -> str | None:
    """During shell completion (click's protocol: COMP_WORDS, COMP_CWORD): the
    subcommand the line starts with, once the cursor is past it. The subcommand
    word is then removed from COMP_WORDS so its own options are completed."""
    import shlex

    try:
        words = shlex.split(os.environ.get('COMP_WORDS', ''))
    except ValueError:
        return None
    if len(words) < 2 or words[1] not in SUBCOMMANDS:
        return None
    cword = os.environ.get('COMP_CWORD', '')
    if os.environ[COMPLETE_VAR].startswith('fish'):   # COMP_CWORD: the word being typed
        if len(words) == 2 and cword:
            return None
    else:                                             # COMP_CWORD: its index
        if not cword.isdigit() or int(cword) < 2:
            return None
        os.environ['COMP_CWORD'] = str(int(cword) - 1)
    os.environ['COMP_WORDS'] = shlex.join(words[:1] + words[2:])
    return words[1]


def complete_job_id(ctx: click.Context, param, incomplete: str):
    """Completes the JOBID of the job form: a job id of the configuration, and a
    subcommand name when it is the first word."""
    from click.core import ParameterSource

    first_word = not ctx.params.get(param.name) and not ctx.params.get('verbose') and \
        ctx.get_parameter_source('config_file') is not ParameterSource.COMMANDLINE
    names = list(SUBCOMMANDS) if first_word else []
    return _items(names + _job_ids(ctx), incomplete)


def complete_job_ids(ctx: click.Context, param, incomplete: str):
    """Completes job ids (of `check` and `runs`)."""
    return _items(_job_ids(ctx), incomplete)


def _items(names, incomplete):
    from click.shell_completion import CompletionItem

    return [CompletionItem(name) for name in names if name.startswith(incomplete)]


def _job_ids(ctx: click.Context) -> list[str]:
    """The job ids of the configuration given so far (-c or FILETRANSFER_CFG)."""
    config_file = ctx.params.get('config_file') or os.environ.get('FILETRANSFER_CFG')
    if not config_file:
        return []
    try:
        from filetransfer import config
        return config.job_ids(config.load_app(config_file))
    except Exception:   # completion must never print an error into the shell
        return []
