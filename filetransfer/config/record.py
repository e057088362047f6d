"""Frozen dataclasses declared cheaply: the classes of the configuration, and the
few others every start of the command loads (the run's, the endpoints') that are
made a few times per run. (Those made once per file are named tuples instead.)

A `@record` class is a dataclass (``dataclasses.fields``, ``replace`` and ``asdict``
see its fields) that behaves as one declared ``frozen=True``, but its ``__init__``,
``__repr__``, ``__eq__``, ``__hash__`` and the refusal to change an attribute are
the shared methods of `Record` instead of code that `dataclass` writes and compiles
for each class. That compiling was most of the time the command took to load the
configuration, which it does at every start (a job polled every minute whose ready
file is missing does little else).

A `Record` is not a base of a frozen dataclass: `config.schema.Host`, which the
protocols extend with ``@dataclass(frozen=True)``, stays one.
"""

import dataclasses
from dataclasses import MISSING, FrozenInstanceError


def record(cls=None, *, kw_only: bool = False):
    """Declares a `Record` subclass's fields, as ``@dataclass(frozen=True)`` does."""
    def declare(cls):
        if not issubclass(cls, Record):
            raise TypeError(f'{cls.__name__} is not a Record')
        return dataclasses.dataclass(cls, init=False, repr=False, eq=False, kw_only=kw_only)
    return declare if cls is None else declare(cls)


class Record:
    """The methods of a `@record` class, as a frozen dataclass has them."""

    __slots__ = ()

    def __init__(self, *args, **kwargs):
        fields = dataclasses.fields(self)
        name = type(self).__qualname__
        positional = [field.name for field in fields if not field.kw_only]
        if len(args) > len(positional):
            raise TypeError(f'{name}() takes {len(positional)} positional arguments but '
                            f'{len(args)} were given')
        values = dict(zip(positional, args))
        known = {field.name for field in fields}
        for key, value in kwargs.items():
            if key not in known:
                raise TypeError(f'{name}() got an unexpected keyword argument {key!r}')
            if key in values:
                raise TypeError(f'{name}() got multiple values for argument {key!r}')
            values[key] = value
        for field in fields:
            if field.name in values:
                value = values[field.name]
            elif field.default is not MISSING:
                value = field.default
            elif field.default_factory is not MISSING:
                value = field.default_factory()
            else:
                raise TypeError(f'{name}() missing required argument: {field.name!r}')
            object.__setattr__(self, field.name, value)

    def _values(self, use) -> tuple:
        return tuple(getattr(self, field.name) for field in dataclasses.fields(self)
                     if use(field))

    def __repr__(self) -> str:
        text = ', '.join(f'{field.name}={getattr(self, field.name)!r}'
                         for field in dataclasses.fields(self) if field.repr)
        return f'{type(self).__qualname__}({text})'

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values(_compared) == other._values(_compared)

    def __hash__(self) -> int:
        return hash(self._values(_hashed))

    def __setattr__(self, name, value):
        raise FrozenInstanceError(f'cannot assign to field {name!r}')

    def __delattr__(self, name):
        raise FrozenInstanceError(f'cannot delete field {name!r}')


def _compared(field) -> bool:
    return field.compare


def _hashed(field) -> bool:
    return field.compare if field.hash is None else field.hash
