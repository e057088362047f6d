"""ascp's include/exclude rules (``-N``/``-E``) as the emulator applies them, following
IBM's documentation of ascp's filtering:

- the rules are tried in order and the first match decides; an entry matching no rule
  is included; an excluded directory is not entered;
- a rule starting with ``/`` is anchored at the source argument (a path below it must
  match whole); any other rule matches the end of the path after a ``/`` (so a rule
  without ``/`` matches the name);
- a rule ending in ``/`` matches directories only, one ending in ``*`` files and
  directories, any other rule files only;
- ``*``, ``?`` and ``[...]`` (``!`` or ``^`` negates) match neither ``/`` nor the dot
  that starts a name; ``/**`` matches any number of directories (hidden ones too);
  ``\\`` quotes the next character.

Where the documentation leaves the root of anchored rules open (the source argument or
its parent), the emulator takes the source argument.
"""

from __future__ import annotations

import functools
import re

# One character that a wildcard may match: not '/', and not a dot starting a name.
_CHAR = r'(?:(?<=/)[^/.]|(?<!/)[^/])'
_NOT_LEADING_DOT = r'(?:(?<=/)(?!\.)|(?<!/))(?!/)'


def _bracket(body: str, start: int) -> tuple[str, int] | None:
    j = start + 1
    negate = j < len(body) and body[j] in '!^'
    if negate:
        j += 1
    first = j
    if j < len(body) and body[j] == ']':
        j += 1
    while j < len(body) and body[j] != ']':
        j += 1
    if j >= len(body):
        return None
    items = body[first:j].replace('\\', '\\\\').replace('^', r'\^').replace('[', r'\[')
    return f'{_NOT_LEADING_DOT}[{"^" if negate else ""}{items}]', j + 1


@functools.lru_cache(maxsize=1024)
def _compile(rule: str) -> tuple[re.Pattern, str]:
    """The regex of a rule (matched against '/' + relative path) and the kind of
    entries it matches: 'file', 'dir' or 'both'."""
    body = rule
    if body.endswith('/') and not body.endswith('\\/') and len(body) > 1:
        kind, body = 'dir', body[:-1]
    elif body.endswith('*') and not body.endswith('\\*'):
        kind = 'both'
    else:
        kind = 'file'
    out, i = [], 0
    while i < len(body):
        if body.startswith('/**', i):
            after = i + 3
            if after == len(body):
                out.append(r'/.*')
            elif body[after] == '/':
                out.append(r'(?:/.*)?')
            else:
                out.append(r'/.*')
            i = after
            continue
        char = body[i]
        if char == '\\' and i + 1 < len(body):
            out.append(re.escape(body[i + 1]))
            i += 2
        elif char == '*':
            while i < len(body) and body[i] == '*':
                i += 1
            out.append(f'{_CHAR}*')
        elif char == '?':
            out.append(_CHAR)
            i += 1
        elif char == '[' and (found := _bracket(body, i)) is not None:
            text, i = found
            out.append(text)
        else:
            out.append(re.escape(char))
            i += 1
    source = ''.join(out)
    if not body.startswith('/'):
        source = '.*/' + source
    return re.compile(source, re.DOTALL), kind


def matches(rule: str, relpath: str, is_dir: bool) -> bool:
    """Whether ``rule`` matches the entry at ``relpath`` (below the source argument,
    '/'-separated)."""
    regex, kind = _compile(rule)
    if kind == ('file' if is_dir else 'dir'):
        return False
    return regex.fullmatch('/' + relpath) is not None


def decide(rules, relpath: str, is_dir: bool) -> bool | None:
    """True (excluded), False (included by a rule) or None (no rule matches), for
    ``rules`` as (flag, pattern) pairs in command-line order."""
    for flag, pattern in rules:
        if matches(pattern, relpath, is_dir):
            return flag == '-E'
    return None
