"""A job's choice of files as ascp's include/exclude rules, for downloads from a FASP
host, where ascp itself walks the remote directory.

ascp applies its ``-E`` (exclude) and ``-N`` (include) rules in order to every file and
directory below the source; the first rule that matches decides, an entry matching no
rule is included, and an excluded directory is not entered. A rule starting with ``/``
is anchored at the source directory, any other matches the end of the path after a
``/`` (a rule without ``/`` matches the name); a rule ending in ``/`` matches
directories only, one ending in ``*`` files and directories, any other files only.
``*``, ``?`` and ``[...]`` never match ``/`` nor the dot that starts a name, ``/**/``
matches any number of directories, ``\\`` quotes.

The job's patterns follow filetransfer/run/selection.py: ``*``, ``?`` and sets also
match ``/``, a pattern without a leading ``/`` may match from any component on, and
every pattern is also tried against the path with a ``/`` appended. Such a pattern is
the union of patterns whose wildcards stay within a name: each ``*`` either stays in
its name or spans several (``*/**/*``), each ``?`` or set that can match ``/`` either is
that ``/`` or a character of a name. The rules built here choose the same files:

1. ``-E`` the ready file and the files an earlier try transferred (exact names);
2. ``-E`` each form of each ``ignore`` pattern (an excluded directory is one whose
   every file the pattern ignores: a rule matches directories only when it ends in a
   ``*`` that could also span the rest of their paths);
3. ``-E /**/`` (every directory) when the job is not recursive;
4. ``-N`` each form of each ``files`` pattern;
5. ``-N /**/`` (every remaining directory) when recursive, then ``-E /**`` (the rest).

Where fnmatch lets a wildcard match a leading dot, a form gets a second one that
starts with the dot. What ascp would read differently is refused (`Unsupported`):
``[^...]`` (negation for ascp, not for fnmatch), backslashes, character classes and
other bracket forms that are not plain sets or ranges, and patterns with so many
wildcards that their forms exceed MAX_FORMS.
"""

import itertools
import math

MAX_FORMS = 256         # forms and rules one pattern may turn into
ALL_DIRS = '/**/'
EVERYTHING = '/**'
_QUOTED = '\\*?['


class Unsupported(ValueError):
    """A pattern that ascp's rules cannot express exactly."""


# A pattern is a list of tokens: ('lit', char), ('star',), ('any',), or
# ('set', text, matches_dot, matches_slash) with text the bracket expression; its
# variants also hold ('span',), a '*' spanning names (ascp's '/**/' between two '*').
STAR, ANY, SLASH, SPAN = ('star',), ('any',), ('lit', '/'), ('span',)
DOT, DOTDOT = [('lit', '.')], [('lit', '.'), ('lit', '.')]

def _bracket(pattern: str, start: int) -> tuple[tuple, int] | None:
    """The bracket expression at ``start`` as a token and the index after it, or None
    when the '[' has no closing ']' (fnmatch then takes it literally)."""
    j = start + 1
    if j < len(pattern) and pattern[j] == '!':
        j += 1
    if j < len(pattern) and pattern[j] == ']':
        j += 1
    while j < len(pattern) and pattern[j] != ']':
        j += 1
    if j >= len(pattern):
        return None
    text = pattern[start:j + 1]
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
    return ('set', text, _set_matches(items, negated, '.'),
            _set_matches(items, negated, '/')), j + 1


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


def _tokens(text: str) -> list[tuple]:
    tokens, i = [], 0
    while i < len(text):
        char = text[i]
        if char == '*':
            if tokens[-1:] != [STAR]:     # fnmatch reads '**' as '*'
                tokens.append(STAR)
            i += 1
        elif char == '?':
            tokens.append(ANY)
            i += 1
        elif char == '[' and (found := _bracket(text, i)) is not None:
            token, i = found
            tokens.append(token)
        else:
            if char == '\\':
                raise Unsupported(f'{text}: a backslash quotes for ascp; it cannot '
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
        else:
            out.append(token[1])
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


def _name_forms(tokens: list[tuple]) -> list[str]:
    forms = []
    for form in [tokens, *_dot_forms(tokens)]:
        text = _render(form)
        if text not in forms:
            forms.append(text)
    return forms


def _variants(tokens: list[tuple]):
    """The patterns whose wildcards stay within a name and that together match what
    ``tokens`` match: each '*' stays in a name or spans names (``*/**/*``), each
    wildcard that can match '/' is a character of a name or that '/'."""
    choices = []
    for token in tokens:
        if token == STAR:
            choices.append(([STAR], [STAR, SPAN, STAR]))
        elif token == ANY or (token[0] == 'set' and token[3]):
            choices.append(([token], [SLASH]))
        else:
            choices.append(([token],))
    count = math.prod(len(choice) for choice in choices)
    if count > MAX_FORMS:
        raise Unsupported(f'too many wildcards ({count} forms of the pattern for ascp)')
    for combo in itertools.product(*choices):
        yield [token for part in combo for token in part]


def _names(tokens: list[tuple]) -> tuple[list, list]:
    """The name patterns of a variant and the separators between them (SLASH or SPAN)."""
    names, separators, current = [], [], []
    for token in tokens:
        if token in (SLASH, SPAN):
            names.append(current)
            separators.append(token)
            current = []
        else:
            current.append(token)
    names.append(current)
    return names, separators


def _rules(names, separators, anchored: bool) -> list[str]:
    rules = []
    for combo in itertools.product(*(_name_forms(name) for name in names)):
        text = combo[0]
        for separator, name in zip(separators, combo[1:]):
            text += ('/' if separator == SLASH else ALL_DIRS) + name
        rules.append(('/' if anchored else '') + text)
    return rules


def _matches_empty(name: list[tuple]) -> bool:
    return all(token == STAR for token in name)


def pattern_rules(pattern: str) -> list[str]:
    """The ascp rules (without -E/-N) matching the files the job pattern matches;
    [] for a pattern that can match nothing. Raises Unsupported."""
    anchored = pattern.startswith('/')
    tokens = _tokens(pattern[1:] if anchored else pattern)
    try:
        variants = list(_variants(tokens))
    except Unsupported as exc:
        raise Unsupported(f'{pattern}: {exc}') from None
    rules = []

    def add(new):
        rules.extend(rule for rule in new if rule not in rules)

    for variant in variants:
        if not anchored and variant[:2] == [STAR, SPAN]:
            continue    # '*/**/*X' after any '/' is in '*X' after any '/', also a variant
        names, separators = _names(variant)
        if not all(names[:-1]) or any(name in (DOT, DOTDOT) for name in names):
            continue                # no path has an empty name, nor '.' or '..'
        if names[-1]:
            add(_rules(names, separators, anchored))
        if _matches_empty(names[-1]):
            # tried with a '/' appended: the path matches the variant up to that '/'
            if len(names) == 1:
                if not anchored:    # the empty text after the appended '/'
                    return ['*', '.*']
                continue
            head, head_separators = names[:-1], separators[:-1]
            add(_rules(head, head_separators, anchored))
            if separators[-1] == SPAN:
                add([rule + EVERYTHING for rule in _rules(head, head_separators, anchored)])
        if len(rules) > MAX_FORMS:
            raise Unsupported(f'{pattern}: too many wildcards (more than {MAX_FORMS} ascp '
                              'rules)')
    return rules


def exact_rule(relpath: str) -> str:
    """The anchored rule matching exactly the file ``relpath``."""
    return '/' + '/'.join(_render([('lit', char) for char in part])
                          for part in relpath.split('/'))


def build(files, ignore=(), recursive: bool = False, skip=()) -> list[str]:
    """ascp's arguments (``-E RULE``/``-N RULE`` pairs) choosing the files a job takes:
    ``files``/``ignore`` are the job's patterns, ``skip`` the relative paths never to
    take (the ready file, files done by an earlier try). Raises Unsupported naming the
    option ('files' or 'ignore') in its ``option`` attribute."""
    args = []
    for path in skip:
        args += ['-E', exact_rule(path)]
    for option, patterns in (('ignore', ignore), ('files', files)):
        flag = '-E' if option == 'ignore' else '-N'
        for pattern in patterns:
            try:
                rules = pattern_rules(pattern)
            except Unsupported as exc:
                exc.option = option
                raise
            for rule in rules:
                args += [flag, rule]
        if option == 'ignore' and not recursive:
            args += ['-E', ALL_DIRS]
    if recursive:
        args += ['-N', ALL_DIRS]
    return args + ['-E', EVERYTHING]
