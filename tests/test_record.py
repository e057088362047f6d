"""The configuration's classes (config/record.py) behave as the frozen dataclasses
they stand for: the same construction, errors, equality, hash, repr and
dataclasses functions."""

import copy
import dataclasses

import pytest

from filetransfer.config.record import Record, record


def _pair():
    """The same class as a frozen dataclass and as a record."""
    def body():
        return {'__annotations__': {'path': 'str', 'size': 'int', 'tags': 'tuple',
                                    'extra': 'dict'},
                'size': 0, 'tags': dataclasses.field(default=(), compare=False),
                'extra': dataclasses.field(default_factory=dict, repr=False, hash=False)}
    frozen = dataclasses.dataclass(frozen=True)(type('Item', (), body()))
    recorded = record(type('Item', (Record,), body()))
    return frozen, recorded


def _outcome(call):
    try:
        return 'ok', call()
    except Exception as error:     # the same kind of error, whatever its wording
        return 'error', type(error)


def test_a_record_is_built_compared_and_shown_as_a_frozen_dataclass():
    frozen, recorded = _pair()
    assert [field.name for field in dataclasses.fields(recorded)] == \
        [field.name for field in dataclasses.fields(frozen)]
    for args, kwargs in [(('a',), {}), (('a', 3), {}), ((), {'path': 'a', 'tags': ('x',)}),
                         (('a',), {'extra': {'k': 1}}), ((), {}), (('a', 1, (), {}, 5), {}),
                         (('a',), {'path': 'b'}), (('a',), {'nope': 1})]:
        expected = _outcome(lambda: frozen(*args, **kwargs))
        got = _outcome(lambda: recorded(*args, **kwargs))
        assert got[0] == expected[0], (args, kwargs)
        if got[0] == 'error':
            assert got[1] is expected[1] is TypeError
            continue
        one, other = expected[1], got[1]
        assert repr(other) == repr(one)
        assert dataclasses.asdict(other) == dataclasses.asdict(one)
        assert other == recorded(*args, **kwargs) and other != one
        assert (other == recorded(*args, **{**kwargs, 'tags': ('other',)})) == \
            (one == frozen(*args, **{**kwargs, 'tags': ('other',)}))
        assert hash(other) == hash(recorded(*args, **kwargs))
        assert dataclasses.replace(other, size=9).size == 9
        assert copy.deepcopy(other) == other and copy.copy(other) == other


def test_a_record_is_frozen():
    _, recorded = _pair()
    item = recorded('a')
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.size = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        del item.path
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.other = 1
    assert item.size == 0


def test_keyword_only_records_take_no_positional_argument():
    from filetransfer.config.schema import Source

    with pytest.raises(TypeError):
        Source('/data')
    assert Source(path='/data').path == '/data'


def test_only_a_record_class_is_declared_as_one():
    with pytest.raises(TypeError):
        record(type('Plain', (), {'__annotations__': {'path': 'str'}}))
