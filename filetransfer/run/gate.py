"""Which of the files the patterns select a pass takes now, by what the source's
listing tells of them: `[source] min_age` (a file modified less than that long ago
may still be being written: it is left for a later run), `max_age` (older files
are left out) and `remember` (a file recorded as sent, unchanged, is not sent
again: run/sentfiles.py).

Ages are counted from the listing's modification time to this machine's clock:
a server whose clock is ahead makes its files look younger.
"""

import time
from typing import NamedTuple

from filetransfer.config.types import duration_text
from filetransfer.endpoints.base import FileEntry


class Held(NamedTuple):
    """Why a selected file is not taken now: ``kind`` is 'too_young', 'too_old' or
    'remembered'; ``text`` says it for a log line."""

    kind: str
    text: str


REMEMBERED = Held('remembered', 'sent before, unchanged (remember)')


class Gate:
    """The rules of one job's [source] (a config.schema.Source); ``sent`` is the
    record of files sent (a sentfiles.SentFiles) when the job remembers them."""

    def __init__(self, options, sent=None, clock=time.time):
        self.min_age = options.min_age
        self.max_age = options.max_age
        self.sent = sent
        self.clock = clock

    @property
    def needs_mtimes(self) -> bool:
        return bool(self.min_age or self.max_age)

    def held(self, entry: FileEntry) -> Held | None:
        """Why ``entry`` is not taken now, or None when it is. A source that gives
        no modification time for it cannot be judged by age: the caller refuses it
        (see `no_mtime`)."""
        return self.held_all([entry])[0]

    def held_all(self, entries: list[FileEntry]) -> list[Held | None]:
        """`held` of each of ``entries``, their records of files sent looked up at once."""
        unchanged = self.sent.unchanged(entries) if self.sent is not None and entries \
            else ()
        if not self.needs_mtimes:
            return [REMEMBERED if entry.path in unchanged else None for entry in entries]
        return [self._held(entry, entry.path in unchanged) for entry in entries]

    def _held(self, entry: FileEntry, remembered: bool) -> Held | None:
        """`held`, given whether ``entry`` is recorded as sent, unchanged."""
        if self.needs_mtimes and entry.mtime is not None:
            age = self.clock() - entry.mtime
            if self.max_age and age > self.max_age:
                return Held('too_old', f'modified {_ago(age)} ago, longer than max_age '
                                       f'({duration_text(self.max_age)})')
            if self.min_age and age < self.min_age:
                return Held('too_young', f'not yet stable: modified {_ago(age)} ago, less '
                                         f'than min_age ({duration_text(self.min_age)})')
        return REMEMBERED if remembered else None

    def no_mtime(self, entry: FileEntry) -> str | None:
        """Why ``entry`` must be refused: the job judges files by age and the source
        gave no modification time for it."""
        if self.needs_mtimes and entry.mtime is None:
            name = 'min_age' if self.min_age else 'max_age'
            return f'the source gives no modification time for it: {name} cannot be applied'
        return None


def _ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f'{seconds:.0f} s'
    if seconds < 7200:
        return f'{seconds / 60:.0f} min'
    if seconds < 172800:
        return f'{seconds / 3600:.1f} h'
    return f'{seconds / 86400:.1f} d'
