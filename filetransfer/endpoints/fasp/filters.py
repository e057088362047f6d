"""A job's choice of files as ascp's include/exclude rules, for downloads from a FASP
host, where ascp itself walks the remote directory.

ascp applies its ``-E`` (exclude) and ``-N`` (include) rules in order to every file and
directory below the source; the first rule that matches decides, an entry matching no
rule is included, and an excluded directory is not entered. A rule starting with ``/``
is anchored at the source directory, one without is matched against the name; a rule
ending in ``/`` matches directories only, one ending in ``*`` files and directories,
any other files only. ``*``, ``?`` and ``[...]`` never match ``/`` nor the dot that
starts a name, ``/**`` matches any number of directories, ``\\`` quotes.

The job's patterns are fnmatch patterns (see filetransfer/run/selection.py). The rules built
here choose the same files:

1. ``-E`` the ready file and the files an earlier try transferred (exact names);
2. ``-E`` each ``ignore`` pattern, as a file rule and as a directory rule;
3. ``-E /**/`` (every directory) when the job is not recursive;
4. ``-N`` each ``files`` pattern;
5. ``-N /**/`` (every remaining directory) when recursive, then ``-E /**`` (the rest).

Where fnmatch lets a wildcard match a leading dot, the rule gets a second form that
starts with the dot. What ascp would read differently is refused (`Unsupported`):
``[^...]`` (negation for ascp, not for fnmatch), backslashes, character classes and
other bracket forms that are not plain sets or ranges. ``**`` inside a name is one
``*`` for fnmatch and is passed so.
"""

import itertools

MAX_FORMS = 64          # rules one pattern may turn into (leading-dot forms multiply)
ALL_DIRS = '/**/'
EVERYTHING = '/**'
_QUOTED = '\\*?['


class Unsupported(ValueError):
    """A pattern that ascp's rules cannot express exactly."""


# A component is a list of tokens: ('lit', char), ('star',), ('any',),
# ('set', text, matches_dot) with text the bracket expression, or ('globstar',).

def _bracket(component: str, start: int) -> tuple[tuple, int] | None:
    """The bracket expression at ``start`` as a token and the index after it, or None
    when the '[' has no closing ']' (fnmatch then takes it literally)."""
    j = start + 1
    if j < len(component) and component[j] == '!':
        j += 1
    if j < len(component) and component[j] == ']':
        j += 1
    while j < len(component) and component[j] != ']':
        j += 1
    if j >= len(component):
        return None
    text = component[start:j + 1]
    body = text[1:-1]
    negated = body.startswith('!')
    items = body[1:] if negated else body
    if body.startswith('^'):
        raise Unsupported(f'{text}: ascp reads [^...] as "not", fnmatch does not; '
                          'use [!...]')
    if not items or '\\' in items or '[' in items:
        raise Unsupported(f'{text}: only plain sets and ranges such as [abc], [0-9] or '
                          '[!a-z] can be given to ascp')
    for k in range(1, len(items) - 1):
        if items[k] == '-' and items[k - 1] > items[k + 1]:
            raise Unsupported(f'{text}: the range {items[k - 1]}-{items[k + 1]} is reversed')
    matches_dot = _set_matches(items, negated, '.')
    return ('set', text, matches_dot), j + 1


def _set_matches(items: str, negated: bool, char: str) -> bool:
    found, k = False, 0
    while k < len(items):
        if k + 2 < len(items) and items[k + 1] == '-':
            found = found or items[k] <= char <= items[k + 2]
            k += 3
        else:
            found = found or items[k] == char
            k += 1
    return found != negated


def _tokens(component: str, anchored: bool) -> list[tuple]:
    if component == '**' and anchored:
        return [('globstar',)]
    tokens, i = [], 0
    while i < len(component):
        char = component[i]
        if char == '*':
            if tokens[-1:] != [('star',)]:     # fnmatch reads '**' in a name as '*'
                tokens.append(('star',))
            i += 1
        elif char == '?':
            tokens.append(('any',))
            i += 1
        elif char == '[' and (found := _bracket(component, i)) is not None:
            token, i = found
            tokens.append(token)
        else:
            if char == '\\':
                raise Unsupported(f'{component}: a backslash quotes for ascp; it cannot '
                                  'be used in a pattern of a FASP source')
            tokens.append(('lit', char))
            i += 1
    return tokens


def _render(tokens: list[tuple]) -> str:
    out = []
    for token in tokens:
        kind = token[0]
        if kind == 'lit':
            out.append('\\' + token[1] if token[1] in _QUOTED else token[1])
        elif kind == 'star':
            out.append('*')
        elif kind == 'any':
            out.append('?')
        elif kind == 'set':
            out.append(token[1])
        else:
            out.append('**')
    return ''.join(out)


def _dot_forms(tokens: list[tuple]) -> list[list[tuple]]:
    """Forms starting with a literal dot that match, for ascp, exactly the names
    starting with a dot that ``tokens`` match for fnmatch."""
    if not tokens:
        return []
    first, rest = tokens[0], tokens[1:]
    dot = ('lit', '.')
    if first == dot:
        return [tokens]
    if first[0] == 'any' or (first[0] == 'set' and first[2]):
        return [[dot, *rest]]
    if first[0] == 'star':
        # '*' matching nothing leaves the dot to the rest; a rest starting with the
        # dot itself needs no other form (ascp lets a literal match it)
        others = _dot_forms(rest) if rest[:1] != [dot] else []
        return [[dot, first, *rest], *others]
    return []


def _component_forms(component: str, anchored: bool = True) -> list[str]:
    tokens = _tokens(component, anchored)
    if tokens == [('globstar',)]:
        return ['**']
    forms = []
    for form in [tokens, *_dot_forms(tokens)]:
        text = _render(form)
        if text not in forms:
            forms.append(text)
    return forms


def pattern_rules(pattern: str) -> list[str]:
    """The ascp rules (without -E/-N) matching what the job pattern matches, as
    files; [] for a pattern that can match nothing. Raises Unsupported."""
    if '/' not in pattern:
        return _component_forms(pattern, anchored=False)
    parts = pattern.strip('/').split('/')
    if any(part in ('', '.', '..') for part in parts):
        return []       # relative paths never have such components
    collapsed = [part for k, part in enumerate(parts)
                 if not (part == '**' and k and parts[k - 1] == '**')]
    variants = [collapsed]
    if collapsed[-1] == '**' and len(collapsed) > 1:
        variants.append(collapsed[:-1])     # a trailing ** may match no directory at all
    rules = []
    for parts in variants:
        for combo in itertools.product(*(_component_forms(part) for part in parts)):
            rule = '/' + '/'.join(combo)
            if rule not in rules:
                rules.append(rule)
    if len(rules) > MAX_FORMS:
        raise Unsupported(f'{pattern}: too many wildcards at the start of names '
                          f'({len(rules)} ascp rules)')
    return rules


def exact_rule(relpath: str) -> str:
    """The anchored rule matching exactly the file ``relpath``."""
    return '/' + '/'.join(_render([('lit', char) for char in part])
                          for part in relpath.split('/'))


def _as_directory_rule(rule: str) -> str | None:
    """The same rule for directories (None when it already matches them)."""
    return None if rule.endswith('*') else rule + '/'


def build(files, ignore=(), recursive: bool = False, skip=()) -> list[str]:
    """ascp's arguments (``-E RULE``/``-N RULE`` pairs) choosing the files a job takes:
    ``files``/``ignore`` are the job's patterns, ``skip`` the relative paths never to
    take (the ready file, files done by an earlier try). Raises Unsupported naming the
    option ('files' or 'ignore') in its ``option`` attribute."""
    args = []
    for path in skip:
        args += ['-E', exact_rule(path)]
    for option, patterns in (('ignore', ignore), ('files', files)):
        for pattern in patterns:
            try:
                rules = pattern_rules(pattern)
            except Unsupported as exc:
                exc.option = option
                raise
            for rule in rules:
                if option == 'files':
                    args += ['-N', rule]
                    continue
                args += ['-E', rule]
                directory_rule = _as_directory_rule(rule)
                if directory_rule:
                    args += ['-E', directory_rule]
        if option == 'ignore' and not recursive:
            args += ['-E', ALL_DIRS]
    if recursive:
        args += ['-N', ALL_DIRS]
    return args + ['-E', EVERYTHING]
