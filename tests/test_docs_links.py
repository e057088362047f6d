"""Every relative link of README.md and docs/*.md leads somewhere: the file exists, and
an anchor (`file.md#section`, `#section`) names a heading of that file, spelt as
GitHub makes anchors from headings."""

import pathlib
import re

REPO = pathlib.Path(__file__).resolve().parent.parent
LINK = re.compile(r'\[[^\]]*\]\(([^)\s]+)\)')
CODE_SPAN = re.compile(r'`[^`]*`')


def documents() -> list[pathlib.Path]:
    return [REPO / 'README.md', *sorted((REPO / 'docs').glob('*.md'))]


def prose_lines(text: str) -> list[str]:
    """The lines of a Markdown text outside fenced code blocks."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith('```'):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading (before numbering repeated ones)."""
    words = re.sub(r'[^\w\- ]', '', heading.strip().lower())
    return words.replace(' ', '-')


def anchors(path: pathlib.Path) -> set[str]:
    found: set[str] = set()
    for line in prose_lines(path.read_text(encoding='utf-8')):
        match = re.match(r'#{1,6} (.+)', line)
        if not match:
            continue
        base = anchor = slug(match.group(1))
        number = 0
        while anchor in found:
            number += 1
            anchor = f'{base}-{number}'
        found.add(anchor)
    return found


def broken_links(path: pathlib.Path) -> list[str]:
    """The links of a Markdown file that lead nowhere, each with the reason."""
    problems = []
    for line in prose_lines(path.read_text(encoding='utf-8')):
        for target in LINK.findall(CODE_SPAN.sub('', line)):
            if re.match(r'[a-z]+:', target):       # https:, mailto:, file:
                continue
            file_part, _, anchor = target.partition('#')
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.exists():
                problems.append(f'{path.name}: {target}: no such file')
            elif anchor and linked.suffix == '.md' and anchor not in anchors(linked):
                problems.append(f'{path.name}: {target}: no heading with that anchor')
    return problems


def test_every_relative_link_and_anchor_leads_somewhere():
    problems = [problem for path in documents() for problem in broken_links(path)]
    assert not problems, '\n'.join(problems)


def test_the_readme_links_to_every_document_of_docs():
    readme = (REPO / 'README.md').read_text(encoding='utf-8')
    linked = {pathlib.Path(target.partition('#')[0]).name
              for target in LINK.findall(readme) if target.startswith('docs/')}
    assert {path.name for path in (REPO / 'docs').glob('*.md')} <= linked


def test_a_broken_link_or_anchor_is_found(tmp_path):
    (tmp_path / 'other.md').write_text('# Other\n\n## A section\n')
    page = tmp_path / 'page.md'
    page.write_text('# Page\n\n[fine](other.md#a-section) [fine](#page) '
                    '[missing](gone.md) [wrong](other.md#no-section) [wrong](#nowhere)\n'
                    '`[in code](ignored.md)`\n```\n[in a block](ignored.md)\n```\n')
    assert broken_links(page) == ['page.md: gone.md: no such file',
                                  'page.md: other.md#no-section: no heading with that anchor',
                                  'page.md: #nowhere: no heading with that anchor']


def test_anchors_are_spelt_as_github_spells_them(tmp_path):
    page = tmp_path / 'page.md'
    page.write_text('# Migrating from FileTransfer 0.11\n## The ascp emulator (`ascp-emulator`)\n'
                    '## Remote endpoints: errors and names\n## Notes\n## Notes\n')
    assert anchors(page) == {'migrating-from-filetransfer-011', 'the-ascp-emulator-ascp-emulator',
                             'remote-endpoints-errors-and-names', 'notes', 'notes-1'}
