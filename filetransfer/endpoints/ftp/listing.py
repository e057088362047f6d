"""FTP directory listings: MLSD lines (RFC 3659) and LIST lines in the Unix
(``ls -l``) and DOS formats. Each parser returns a `Listed` entry with kind
'file', 'dir' or 'other', size and mtime None when the line has none, or None
for a line that is not an entry."""

import calendar
import re
import time

from filetransfer.endpoints.remote import Listed


def _mlsd_time(value: str) -> float | None:
    match = re.fullmatch(r'(\d{14})(?:\.\d+)?', value or '')
    if not match:
        return None
    try:
        return calendar.timegm(time.strptime(match[1], '%Y%m%d%H%M%S'))
    except ValueError:
        return None


def mlsd_facts(line: str) -> tuple[dict, str] | None:
    """One MLSD or MLST line (``fact=value;...; name``) -> ({fact, lower case: value},
    name), or None when it has no name."""
    facts_text, sep, name = line.partition(' ')
    if not sep:
        return None
    facts = {}
    for fact in facts_text.split(';'):
        key, has_value, value = fact.partition('=')
        if has_value:
            facts[key.strip().lower()] = value
    return facts, name


def parse_mlsd_line(line: str):
    """One MLSD line (``fact=value;...; name``) -> Listed or None; its stamp is the
    'unique' fact (the same for the same file or directory), None without it."""
    parsed = mlsd_facts(line)
    if parsed is None:
        return None
    facts, name = parsed
    kind = facts.get('type', '').lower()
    if kind in ('cdir', 'pdir'):
        kind, name = 'dir', '.' if kind == 'cdir' else '..'
    elif kind not in ('file', 'dir'):
        kind = 'other'
    try:
        size = int(facts['size']) if 'size' in facts else None
    except ValueError:
        size = None
    return Listed(name, kind, size, _mlsd_time(facts.get('modify')), facts.get('unique') or None)


_UNIX_LIST = re.compile(
    r'^(?P<type>[-dlpscbD])[-rwxsStTlL?]{9}\S*\s+\d+\s+(?:\S+\s+){1,2}?'
    r'(?P<size>\d+)\s+[A-Za-z]{3}\s+\d{1,2}\s+(?:\d{1,2}:\d{2}|\d{4})\s(?P<name>.*)$')
_DOS_LIST = re.compile(
    r'^\d{1,2}-\d{1,2}-\d{2,4}\s+\d{1,2}:\d{2}(?:[AaPp][Mm])?\s+'
    r'(?:(?P<dir><DIR>)|(?P<size>\d+))\s+(?P<name>.*)$')


def parse_list_line(line: str):
    """One LIST line (Unix ``ls -l`` or DOS format) -> Listed or None."""
    match = _UNIX_LIST.match(line)
    if match:
        kind = {'-': 'file', 'd': 'dir'}.get(match['type'], 'other')
        return Listed(match['name'], kind, int(match['size']))
    match = _DOS_LIST.match(line)
    if match:
        if match['dir']:
            return Listed(match['name'], 'dir')
        return Listed(match['name'], 'file', int(match['size']))
    return None
