"""A value that must never be printed: passwords, passphrases, tokens."""


class Secret:
    """Holds a secret string; str() and repr() never show it, ``reveal()`` does."""

    __slots__ = ('_value',)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self):
        return bool(self._value)

    def __eq__(self, other):
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self):
        return hash(self._value)

    def __repr__(self):
        return "Secret('***')"

    __str__ = __repr__


def reveal(value) -> str | None:
    """The plain text of a Secret (or of a plain string), None stays None."""
    return value.reveal() if isinstance(value, Secret) else value
