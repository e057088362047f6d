"""What filetransfer/endpoints/sftp/requests.py relies on in paramiko's private API:
each failure names what the installed paramiko changed."""

import contextlib
import inspect
import os

import paramiko
import paramiko.sftp
import pytest

from filetransfer.endpoints.sftp import requests

VERSION = f'the installed paramiko {paramiko.__version__}'
USER = 'filetransfer/endpoints/sftp/requests.py'

# draft-ietf-secsh-filexfer-02, section 3 (packet types) and 7 (status codes)
MESSAGE_NUMBERS = {'CMD_OPEN': 3, 'CMD_CLOSE': 4, 'CMD_READ': 5, 'CMD_WRITE': 6,
                   'CMD_FSTAT': 8, 'CMD_OPENDIR': 11, 'CMD_READDIR': 12, 'CMD_STATUS': 101,
                   'CMD_HANDLE': 102, 'CMD_DATA': 103, 'CMD_NAME': 104, 'CMD_ATTRS': 105,
                   'CMD_EXTENDED': 200, 'CMD_EXTENDED_REPLY': 201}
STATUS_CODES = {'SFTP_OK': 0, 'SFTP_EOF': 1, 'SFTP_NO_SUCH_FILE': 2,
                'SFTP_PERMISSION_DENIED': 3, 'SFTP_FAILURE': 4}

# (class, method, the arguments requests.py passes, after self)
CALLS = [
    (paramiko.SFTPClient, '_request', (paramiko.sftp.CMD_EXTENDED, 'limits@openssh.com')),
    (paramiko.SFTPClient, '_async_request',
     (object(), paramiko.sftp.CMD_WRITE, b'handle', paramiko.sftp.int64(0), b'data')),
    (paramiko.SFTPClient, '_async_request',
     (object(), paramiko.sftp.CMD_READ, b'handle', paramiko.sftp.int64(0), 32768)),
    (paramiko.SFTPClient, '_async_request', (object(), paramiko.sftp.CMD_FSTAT, b'handle')),
    (paramiko.SFTPClient, '_async_request', (object(), paramiko.sftp.CMD_CLOSE, b'handle')),
    (paramiko.SFTPClient, '_async_request', (object(), paramiko.sftp.CMD_OPENDIR, '/path')),
    (paramiko.SFTPClient, '_async_request', (object(), paramiko.sftp.CMD_READDIR, b'handle')),
    (paramiko.SFTPClient, '_read_response', ()),
    (paramiko.SFTPClient, '_convert_status', (paramiko.Message(),)),
]


def refusal(function, *args) -> str | None:
    """Why ``function`` cannot be called with ``args``; None when it can."""
    try:
        inspect.signature(function).bind(*args)
    except TypeError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize('cls, method, args', CALLS,
                         ids=lambda value: value if isinstance(value, str) else '')
def test_private_methods_take_the_arguments_given(cls, method, args):
    function = getattr(cls, method, None)
    assert callable(function), f'{VERSION} has no {cls.__name__}.{method}, which {USER} calls'
    problem = refusal(function, None, *args)
    assert problem is None, f'{VERSION}: {cls.__name__}.{method}{inspect.signature(function)} ' \
                            f'no longer takes the arguments {USER} gives it ({problem})'


@pytest.mark.parametrize('args', [(paramiko.Message(),),
                                  (paramiko.Message(), 'name', 'long name')],
                         ids=['a message alone', 'a message, name and long name'])
def test_attributes_are_read_from_a_message(args):
    from_msg = getattr(paramiko.SFTPAttributes, '_from_msg', None)
    assert callable(from_msg), f'{VERSION} has no SFTPAttributes._from_msg, which {USER} calls'
    problem = refusal(from_msg, *args)
    assert problem is None, f'{VERSION}: SFTPAttributes._from_msg' \
                            f'{inspect.signature(from_msg)} no longer takes {len(args)} ' \
                            f'arguments ({problem})'


def test_answers_are_handed_to_the_requesting_object():
    source = inspect.getsource(paramiko.SFTPClient._read_response)
    assert '._async_response(' in source, \
        f'{VERSION}: SFTPClient._read_response no longer calls _async_response on the ' \
        f'object given to _async_request; the pipelined requests of {USER} get no answers'


@pytest.mark.parametrize('name, number', {**MESSAGE_NUMBERS, **STATUS_CODES}.items())
def test_protocol_numbers(name, number):
    value = getattr(paramiko.sftp, name, None)
    assert value == number, f'{VERSION}: paramiko.sftp.{name} is {value!r}, not {number} ' \
                            f'as the SFTP protocol says; {USER} uses it'


@pytest.fixture
def sftp(live_sshd):
    key = paramiko.Ed25519Key.from_private_key_file(live_sshd.client_keys['ed25519'])
    transport = paramiko.Transport((live_sshd.host, live_sshd.port))
    try:
        transport.connect(username=live_sshd.user, pkey=key)
        client = paramiko.SFTPClient.from_transport(transport, window_size=requests.IN_FLIGHT)
        client.get_channel().settimeout(60)
        yield client
        client.close()
    finally:
        transport.close()


def test_a_round_trip_through_the_pipelined_writer_and_reader(sftp, tmp_path):
    limits = requests.server_limits(sftp)
    assert limits is not None and min(limits.read, limits.write) >= requests.REQUEST_SIZE, \
        f'{VERSION}: no limits@openssh.com answer from OpenSSH ({limits})'
    size = requests.REQUEST_SIZE
    # more than IN_FLIGHT: the writer waits for answers, the reader asks again
    chunks = [os.urandom(size) for _ in range(2 * requests.IN_FLIGHT // size + 3)]
    chunks.append(b'end')
    path = str(tmp_path / 'pinned.bin')

    handle = sftp.open(path, 'wb', bufsize=0)
    writer = requests.PipelinedWriter(sftp, handle, size)
    for number, chunk in enumerate(chunks):
        writer.send(number * size, chunk)
    assert writer.finish() == sum(map(len, chunks)), f'{VERSION}: FSTAT size wrong'
    sent = sftp.request_number
    handle.close()
    assert sftp.request_number == sent, \
        f'{VERSION}: SFTPFile.close() sent another CLOSE; it no longer honours _closed'
    with open(path, 'rb') as fh:
        assert fh.read() == b''.join(chunks)

    handle = sftp.open(path, 'rb')
    with requests.PipelinedReader(sftp, handle, contextlib.nullcontext, 0, size) as reader:
        read = reader.read()
    assert read == b''.join(chunks), f'{VERSION}: the pipelined reader read other bytes'
    assert reader.eof and not reader.pending


def test_a_listing_through_the_pipelined_readdirs(sftp, tmp_path):
    names = {f'name{number:04d}' for number in range(1234)}    # answers of 100 names
    for name in names:
        (tmp_path / name).write_bytes(b'')
    listing = requests.DirectoryListing(sftp, str(tmp_path))
    entries = listing.entries()
    assert sorted(attr.filename for attr in entries) == sorted(names), \
        f'{VERSION}: the pipelined READDIRs listed other names'
    assert all(attr.st_size == 0 for attr in entries), f'{VERSION}: attributes misread'
    with pytest.raises(FileNotFoundError):
        requests.DirectoryListing(sftp, str(tmp_path / 'missing')).entries()
