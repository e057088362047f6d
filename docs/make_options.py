"""Writes docs/options.md, the reference of every configuration option, from the
configuration schema: the sections of the application and job files
(filetransfer/config/schema.py) and the host options of each protocol of the
registry (filetransfer/endpoints/*/options.py), each with its type, default and
`doc`.

    python docs/make_options.py           writes docs/options.md
    python docs/make_options.py --check   exit 1 when docs/options.md is out of date

A script beside its output rather than a module of the package: it is a tool for
the repository, not part of the installed library, and it needs both the config
layer and the protocol registry above it.
"""

import logging
import sys
from pathlib import Path

from filetransfer.config import schema
from filetransfer.config import types as t
from filetransfer.endpoints import registry

OUTPUT = Path(__file__).resolve().parent / 'options.md'

TYPE_NAMES = {
    t.text: 'text', t.path: 'path', t.boolean: 'yes/no', t.extension: 'file name extension',
    t.source_path: 'path', t.target_path: 'path',
    t.non_negative_int: 'whole number >= 0', t.positive_int: 'whole number > 0',
    t.connections: 'whole number 1-16', t.non_negative_float: 'number >= 0',
    t.positive_float: 'number > 0', t.port: 'port 1-65535',
    t.host_port: 'name[:port] or [ipv6]:port', t.comma_list: 'comma-separated list',
    t.patterns: 'comma-separated patterns', t.lenient_count: 'whole number >= 0',
    t.lenient_seconds: 'number >= 0',
    t.job_ids: "comma-separated job ids, or '*'", t.log_level: 'log level',
    t.log_format: 'logging format', t.single_instance: 'yes/no or a lock name',
    t.addresses: 'comma-separated email addresses',
    t.temp: 'dot, ext:EXT or dir:DIR', schema.secret_text: 'text (secret)',
}

HEAD = """\
# Configuration options

<!-- Written by docs/make_options.py from the configuration schema; do not edit.
     After adding or changing an option: python docs/make_options.py -->

Every option of the three configuration files: the type of its value, its default
and what it does. Option names are case-insensitive; an option or a section that is
not listed here is an error, except sections named `x:NAME`, which belong to the
program using the library. Secret values are never repeated in messages.
"""


def type_name(option: schema.Option) -> str:
    """The kind of value an option takes, in words."""
    name = TYPE_NAMES.get(option.type)
    if name:
        return name
    try:          # a type's refusal says what it expects, e.g. "expected one of A, B"
        option.type('\0')
    except ValueError as exc:
        return str(exc).removeprefix('expected ')
    return option.type.__name__.replace('_', ' ')


def default_text(option: schema.Option) -> str:
    value = option.default
    if option.required:
        return 'required'
    if value is None or value == ():
        return ''
    if isinstance(value, bool):
        return 'yes' if value else 'no'
    if option.type is t.log_level:
        return logging.getLevelName(value)
    if isinstance(value, (int, float)):
        return f'{value:g}'
    if isinstance(value, tuple):
        value = ', '.join(value)
    return f'`{value}`'


def _cell(text: str) -> str:
    return text.replace('|', '\\|')


def option_table(options: dict[str, schema.Option], types=None) -> list[str]:
    """A table of ``options``; ``types`` names the values of some of them."""
    lines = ['| option | value | default | meaning |', '|---|---|---|---|']
    for name, option in options.items():
        names = ', '.join(f'`{alias}`' for alias in (name, *option.aliases))
        value = (types or {}).get(name) or type_name(option)
        lines.append(f'| {names} | {_cell(value)} | '
                     f'{_cell(default_text(option))} | {_cell(option.doc)} |')
    return lines


def file_sections(title: str, sections: dict, required: tuple) -> list[str]:
    lines = ['', f'## {title}']
    for name, section_class in sections.items():
        mark = ' (required)' if name in required else ''
        lines += ['', f'### `[{name}]`{mark}', ''] + option_table(
            schema.options_of(section_class))
    return lines


def host_sections() -> list[str]:
    common = schema.options_of(schema.Host)
    lines = ['', '## Hosts file', '',
             'One section per host, named by its host id (`host_id` in a job). Its `type`',
             'selects the protocol, and with it the options the section may have.',
             '', '### Every host', '']
    lines += option_table(common, {'type': 'one of ' + ', '.join(registry.names())})
    for protocol in registry.protocols():
        own = {name: option for name, option in schema.options_of(protocol.host_class).items()
               if name not in common or option != common[name]}
        lines += ['', f'### `type = {protocol.name}` (default port {protocol.default_port})', '']
        lines += option_table(own) if own else ['No options of its own.']
    return lines


def reference() -> str:
    """The text of docs/options.md."""
    lines = [HEAD.rstrip('\n')]
    lines += file_sections('Application file', {**schema.APP_SECTIONS, **registry.app_sections()},
                           schema.APP_REQUIRED)
    lines += file_sections('Job file (`JOBS_DIR/JOBID.cfg`)', schema.JOB_SECTIONS,
                           schema.JOB_REQUIRED)
    lines += host_sections()
    return '\n'.join(lines) + '\n'


def main(argv: list[str]) -> int:
    text = reference()
    if argv == ['--check']:
        current = OUTPUT.read_text(encoding='utf-8') if OUTPUT.exists() else ''
        if current != text:
            print(f'{OUTPUT} is out of date: run python docs/make_options.py', file=sys.stderr)
            return 1
        return 0
    if argv:
        print(__doc__.split('\n\n')[1], file=sys.stderr)
        return 4
    OUTPUT.write_text(text, encoding='utf-8')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
