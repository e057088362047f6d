"""SharedClient reads the SFTP answers with requests.Answer instead of paramiko's
Message: paramiko's SFTP code then reads them through it, so every method it calls
must give what Message gives, for any bytes a server sends (a field cut short is
padded with zeros, as Message does)."""

import pytest
from hypothesis import given, settings, strategies as st
from paramiko.message import Message
from paramiko.sftp_attr import SFTPAttributes

from filetransfer.endpoints.sftp.requests import Answer, _size
from helpers import examples

READS = ['get_int', 'get_int64', 'get_string', 'get_binary', 'get_text', 'get_byte',
         'get_boolean', 'get_remainder', 'get_so_far', 'rewind']


def outcome(read):
    try:
        return read()
    except UnicodeDecodeError as exc:     # get_text of bytes that are not UTF-8
        return type(exc)


@settings(max_examples=examples(500))
@given(packet=st.binary(max_size=48), reads=st.lists(st.sampled_from(READS), max_size=12),
       viewed=st.booleans())
def test_an_answer_reads_as_paramikos_message(packet, reads, viewed):
    message = Message(packet)
    answer = Answer(memoryview(packet) if viewed else packet)
    for name in reads:
        assert outcome(getattr(answer, name)) == outcome(getattr(message, name)), name


@pytest.mark.parametrize('viewed', [False, True])
def test_data_comes_without_a_copy(viewed):
    packet = b'\0\0\0\7' + b'\0\0\0\5hello' + b'rest'
    answer = Answer(memoryview(packet) if viewed else packet)
    assert answer.get_int() == 7
    data = answer.get_data()
    assert isinstance(data, memoryview) and data.obj is packet and bytes(data) == b'hello'
    assert answer.get_remainder() == b'rest'


def test_data_cut_short_is_what_there_is():
    answer = Answer(b'\0\0\0\x09abc')
    assert bytes(answer.get_data()) == b'abc'
    assert answer.get_remainder() == b''


@settings(max_examples=examples(300))
@given(packet=st.binary(max_size=48), flags=st.integers(0, 2**32 - 1), size=st.integers(0, 2**64 - 1))
def test_the_size_of_attributes_is_what_paramiko_reads(packet, flags, size):
    """A file's size in an ATTRS answer (requests._size, after a write) is what
    paramiko's SFTPAttributes reads, with or without a size, whatever follows."""
    # (with extended attributes, paramiko reads as many as the bytes after say,
    # up to 2**32 of them)
    flags &= ~SFTPAttributes.FLAG_EXTENDED
    attrs = flags.to_bytes(4, 'big') + size.to_bytes(8, 'big') + packet
    assert _size(Answer(attrs)) == SFTPAttributes._from_msg(Message(attrs)).st_size
