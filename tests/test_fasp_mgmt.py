"""The FASPMGR frame parser and formatter, on messages captured from IBM's own tests."""

import pytest

from faspmanager import mgmt
from faspmanager.errors import ProtocolError

# Verbatim from IBM's ibm-cos-sdk-java test AsperaTransactionProgressTest; the
# captures carry no final empty line after the last message, so one is added.
CAPTURED = b"""FASPMGR 2
Type: INIT
Direction: Send
Operation: Transfer
SessionId: f8fdea60-e416-4a17-a488-9abe093290a9
UserStr: 6a31a3b4-3b89-4af4-99ab-1b7dd2d00000

FASPMGR 2
Type: NOTIFICATION
Adaptive: Adaptive
MinRate: 0
PreTransferBytes: 1048576
PreTransferFiles: 1
Rate: 700000
SessionId: f8fdea60-e416-4a17-a488-9abe093290a9
UserStr: 6a31a3b4-3b89-4af4-99ab-1b7dd2d00000

FASPMGR 2
Type: STATS
Adaptive: Adaptive
Cipher: aes-128
ClientUser: admin
ClusterNodeId: 0
ClusterNumNodes: 1
CreatePolicy: 0
DSPipelineDepth: 32
DatagramSize: 0
Direction: Send
Encryption: Yes
FileBytes: 262144
SessionId: f8fdea60-e416-4a17-a488-9abe093290a9
UserStr: 6a31a3b4-3b89-4af4-99ab-1b7dd2d00000

FASPMGR 2
Type: ERROR
Code: 5
Description: Server aborted session: Read access denied for user
Loss: 0
SessionId: f8fdea60-e416-4a17-a488-9abe093290a9
UserStr: 6a31a3b4-3b89-4af4-99ab-1b7dd2d00000

FASPMGR 2
Type: DONE
Direction: Send
FileBytes: 1048576
Operation: Transfer
SessionId: f8fdea60-e416-4a17-a488-9abe093290a9
UserStr: 6a31a3b4-3b89-4af4-99ab-1b7dd2d00000
TransferBytes: 4096
TransfersAttempted: 1

"""

# Commands to ascp, bytes as the tests of IBM's Go FASP manager SDK give them.
STREAM = (b'FASPMGR 4\nType: PUT\nDestination: out/a.bin\n\n'
          b'FASPMGR 4\nType: WRITE\nDestination: out/a.bin\nOffset: 0\nSize: 5\n\nab\n\nc\n\n'
          b'FASPMGR 4\nType: CLOSE\nDestination: out/a.bin\n\n')


def test_captured_messages_parse_with_typed_fields():
    messages = mgmt.parse(CAPTURED)
    assert [m.type for m in messages] == ['INIT', 'NOTIFICATION', 'STATS', 'ERROR', 'DONE']
    init, note, stats, error, done = messages
    assert init.get('Direction') == 'Send' and init.version == 2
    assert init.get('SessionId') == 'f8fdea60-e416-4a17-a488-9abe093290a9'
    assert note.get('Rate') == 700000 and note.get('PreTransferBytes') == 1048576
    assert stats.get('Encryption') is True and stats.get('Cipher') == 'aes-128'
    assert error.get('Code') == 5
    assert error.get('Description') == 'Server aborted session: Read access denied for user'
    assert done.get('TransfersAttempted') == 1 and done.get('FileBytes') == 1048576
    assert 'Type' not in done.fields


@pytest.mark.parametrize('data', [CAPTURED, STREAM], ids=['captured', 'stream'])
def test_split_at_every_byte_gives_the_same_messages(data):
    whole = mgmt.parse(data)
    for cut in range(len(data) + 1):
        parser = mgmt.Parser()
        got = parser.feed(data[:cut]) + parser.feed(data[cut:])
        assert got == whole, f'split at byte {cut}'
        assert not parser.pending
    parser = mgmt.Parser()
    assert [m for i in range(len(data)) for m in parser.feed(data[i:i + 1])] == whole


def test_write_payload_may_hold_blank_lines_and_headers():
    payload = b'\n\nFASPMGR 2\nType: DONE\n\n\x00\xff'
    data = mgmt.write_command('x', 7, payload) + mgmt.close_command('x')
    put, close = mgmt.parse(data)
    assert put.type == 'WRITE' and put.payload == payload and put.get('Offset') == 7
    assert put.version == 4 and close.type == 'CLOSE'


def test_commands_have_the_documented_bytes():
    assert mgmt.rate_command(300000, 1000, 'Adaptive') == \
        b'FASPMGR 2\nType: RATE\nRate: 300000\nMinRate: 1000\nAdaptive: Adaptive\n\n'
    assert mgmt.rate_command(300000) == b'FASPMGR 2\nType: RATE\nRate: 300000\n\n'
    assert mgmt.cancel_command() == b'FASPMGR 2\nType: CANCEL\n\n'
    assert mgmt.start_command('a/b.txt', 'c/b.txt') == \
        b'FASPMGR 2\nType: START\nSource: a/b.txt\nDestination: c/b.txt\n\n'
    assert mgmt.start_command('a', 'b', 10, None).endswith(b'FileBytes: 10:\n\n')
    assert mgmt.start_command('a', 'b', None, 20).endswith(b'FileBytes: :20\n\n')
    assert mgmt.start_command('a', 'b', 10, 20).endswith(b'FileBytes: 10:20\n\n')
    assert mgmt.done_command() == b'FASPMGR 2\nType: DONE\n\n'
    assert mgmt.done_command(linger=True) == b'FASPMGR 2\nType: DONE\nOperation: Linger\n\n'
    assert mgmt.put_command('d') == b'FASPMGR 4\nType: PUT\nDestination: d\n\n'
    assert mgmt.write_command('d', 0, b'abc') == \
        b'FASPMGR 4\nType: WRITE\nDestination: d\nOffset: 0\nSize: 3\n\nabc\n\n'
    assert mgmt.close_command('d') == b'FASPMGR 4\nType: CLOSE\nDestination: d\n\n'
    assert mgmt.parse_byte_range('10:') == (10, None)
    assert mgmt.parse_byte_range(':5') == (None, 5)


def test_values_keep_spaces_and_escape_line_breaks():
    data = mgmt.format_message('STOP', {'File': ' a\nb\x1bc\r ', 'Encryption': True})
    assert b'\nFile:  a\x1bnb\x1b\x1bc\x1br \n' in data
    assert b'Encryption: Yes' in data
    (message,) = mgmt.parse(data)
    assert message.get('File') == ' a\nb\x1bc\r ' and message.get('Encryption') is True
    (loose,) = mgmt.parse(b'FASPMGR 2\nType: STATS\nFile:x\nSize:\nBad: \x1bq\n\n')
    assert loose.fields == {'File': 'x', 'Size': '', 'Bad': '\x1bq'}


def test_odd_values_stay_text_and_crlf_is_tolerated():
    (message,) = mgmt.parse(b'FASPMGR 2\r\nType: NOTIFICATION\r\nRate: 50%\r\n\r\n')
    assert message.get('Rate') == '50%' and message.type == 'NOTIFICATION'


def test_a_new_header_drops_an_incomplete_message():
    messages = mgmt.parse(b'FASPMGR 2\nType: STATS\nFile: a\nFASPMGR 2\nType: DONE\n\n')
    assert [m.type for m in messages] == ['DONE']


@pytest.mark.parametrize('data', [
    b'hello\n',
    b'FASPMGR 2\nno colon here\n\n',
    b'FASPMGR 2\nFile: x\n\n',
    b'FASPMGR 4\nType: WRITE\nSize: 2\n\nabXX',
    b'FASPMGR 4\nType: WRITE\nSize: -1\n\n',
])
def test_garbage_is_a_protocol_error(data):
    with pytest.raises(ProtocolError):
        mgmt.Parser().feed(data)


def test_incomplete_end_is_reported_by_parse_only():
    parser = mgmt.Parser()
    assert parser.feed(b'FASPMGR 2\nType: DONE\n') == []
    assert parser.pending
    with pytest.raises(ProtocolError):
        mgmt.parse(b'FASPMGR 2\nType: DONE\n')


def test_surrogates_round_trip_undecodable_path_bytes():
    data = b'FASPMGR 2\nType: STOP\nFile: caf\xe9.txt\n\n'
    (message,) = mgmt.parse(data)
    assert mgmt.encode(message) == data
