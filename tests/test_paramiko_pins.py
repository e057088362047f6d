"""What filetransfer/endpoints/sftp/requests.py relies on in paramiko's private API:
each failure names what the installed paramiko changed."""

import contextlib
import inspect
import os
import struct
import threading

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
    (paramiko.SFTPClient, '_read_packet', ()),
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


@pytest.mark.parametrize('method, calls', [
    ('_request', ('self._async_request(', 'self._read_response(')),
    ('_async_request', ('self._expecting[', 'self._lock', 'self.request_number')),
    ('__init__', ('self._lock', 'self._expecting', 'self._send_version(')),
])
def test_what_the_shared_client_takes_over(method, calls):
    """SharedClient replaces _read_response and the lock, and registers the
    requests paramiko numbers in _expecting: every request must go through them."""
    source = inspect.getsource(getattr(paramiko.SFTPClient, method))
    missing = [call for call in calls if call not in source]
    assert not missing, f'{VERSION}: SFTPClient.{method} no longer uses {missing}; ' \
                        f'{USER} (SharedClient) relies on it'


def test_a_session_opened_from_a_transport_is_of_the_class_asked_for():
    source = inspect.getsource(paramiko.SFTPClient.from_transport)
    assert 'cls(' in source, f'{VERSION}: SFTPClient.from_transport no longer builds ' \
                             f'the class it is called on; {USER} needs a SharedClient'


@pytest.mark.parametrize('name, number', {**MESSAGE_NUMBERS, **STATUS_CODES}.items())
def test_protocol_numbers(name, number):
    value = getattr(paramiko.sftp, name, None)
    assert value == number, f'{VERSION}: paramiko.sftp.{name} is {value!r}, not {number} ' \
                            f'as the SFTP protocol says; {USER} uses it'


@pytest.fixture(params=[paramiko.SFTPClient, requests.SharedClient],
                ids=['SFTPClient', 'SharedClient'])
def sftp(live_sshd, request):
    key = paramiko.Ed25519Key.from_private_key_file(live_sshd.client_keys['ed25519'])
    transport = paramiko.Transport((live_sshd.host, live_sshd.port))
    try:
        transport.connect(username=live_sshd.user, pkey=key)
        client = request.param.from_transport(transport, window_size=requests.IN_FLIGHT)
        assert type(client) is request.param
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


THREADS = 12


def test_many_threads_share_one_session(live_sshd, tmp_path):
    """Each thread writes, stats, reads back and renames its own files over one
    SharedClient; each gets its own answers (paramiko's client loses those of
    requests from another thread, and its waiting thread then hangs)."""
    key = paramiko.Ed25519Key.from_private_key_file(live_sshd.client_keys['ed25519'])
    transport = paramiko.Transport((live_sshd.host, live_sshd.port))
    transport.connect(username=live_sshd.user, pkey=key)
    sftp = requests.SharedClient.from_transport(transport, window_size=requests.IN_FLIGHT)
    sftp.get_channel().settimeout(60)
    failures = []

    def work(number):
        try:
            for round in range(10):
                data = os.urandom(5000 * number + 70000 * round + 1)
                path = str(tmp_path / f'{number}-{round}')
                writer = requests.PipelinedWriter(sftp, sftp.open(path, 'wb', bufsize=0),
                                                  requests.REQUEST_SIZE)
                for offset in range(0, len(data), requests.REQUEST_SIZE):
                    writer.send(offset, data[offset:offset + requests.REQUEST_SIZE])
                assert writer.finish() == len(data)
                assert sftp.stat(path).st_size == len(data)
                with requests.PipelinedReader(sftp, sftp.open(path, 'rb'),
                                              contextlib.nullcontext) as reader:
                    assert reader.read() == data
                sftp.posix_rename(path, path + '.done')
                with pytest.raises(FileNotFoundError):
                    sftp.stat(path)
        except BaseException as exc:
            failures.append(exc)

    try:
        threads = [threading.Thread(target=work, args=(number,), daemon=True)
                   for number in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in threads), 'a thread hangs'
        assert failures == []
        assert len(os.listdir(tmp_path)) == THREADS * 10
    finally:
        sftp.close()
        transport.close()


def test_files_abandoned_with_writes_in_flight_are_closed_and_removed(live_sshd, tmp_path):
    """Threads stop writing big files at once and close and remove them while the
    answers to their last writes are still to come."""
    key = paramiko.Ed25519Key.from_private_key_file(live_sshd.client_keys['ed25519'])
    transport = paramiko.Transport((live_sshd.host, live_sshd.port))
    transport.connect(username=live_sshd.user, pkey=key)
    sftp = requests.SharedClient.from_transport(transport, window_size=requests.IN_FLIGHT)
    sftp.get_channel().settimeout(60)
    stop = threading.Event()
    written = threading.Semaphore(0)
    failures = []

    def work(number):
        path = str(tmp_path / f'big{number}')
        try:
            handle = sftp.open(path, 'wb', bufsize=0)
            writer = requests.PipelinedWriter(sftp, handle, requests.REQUEST_SIZE,
                                              requests.IN_FLIGHT // 4)
            offset = 0
            while not stop.is_set():
                writer.send(offset, bytes(requests.REQUEST_SIZE))
                offset += requests.REQUEST_SIZE
                if offset == 64 * requests.REQUEST_SIZE:
                    written.release()
            handle.close()
            sftp.remove(path)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(number,), daemon=True)
               for number in range(4)]
    try:
        for thread in threads:
            thread.start()
        for _ in threads:
            assert written.acquire(timeout=60)
        stop.set()
        for thread in threads:
            thread.join(timeout=90)
        assert not any(thread.is_alive() for thread in threads), 'a thread hangs'
        assert failures == []
        assert os.listdir(tmp_path) == []
    finally:
        stop.set()
        sftp.close()
        transport.close()


def test_a_broken_session_fails_every_waiting_thread(live_sshd, tmp_path):
    key = paramiko.Ed25519Key.from_private_key_file(live_sshd.client_keys['ed25519'])
    transport = paramiko.Transport((live_sshd.host, live_sshd.port))
    transport.connect(username=live_sshd.user, pkey=key)
    sftp = requests.SharedClient.from_transport(transport)
    sftp.get_channel().settimeout(60)
    failures = []
    started = threading.Barrier(THREADS + 1)

    def work():
        started.wait()
        try:
            while True:
                sftp.stat(str(tmp_path))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, daemon=True) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    started.wait()
    live_sshd.stop()
    try:
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads), 'a thread hangs'
        assert len(failures) == THREADS
        assert all(isinstance(exc, (paramiko.SSHException, OSError, EOFError))
                   for exc in failures), failures
    finally:
        live_sshd.start()
        transport.close()


def test_a_listing_through_the_pipelined_readdirs(sftp, tmp_path):
    names = {f'name{number:04d}' for number in range(1234)}    # answers of 100 names
    for name in names:
        (tmp_path / name).write_bytes(b'')
    listing = requests.DirectoryListing(sftp, str(tmp_path))
    entries = listing.entries()
    assert sorted(entry.name for entry in entries) == sorted(names), \
        f'{VERSION}: the pipelined READDIRs listed other names'
    assert all((entry.kind, entry.size) == ('file', 0) for entry in entries), \
        f'{VERSION}: attributes misread'
    with pytest.raises(FileNotFoundError):
        requests.DirectoryListing(sftp, str(tmp_path / 'missing')).entries()


@pytest.mark.parametrize('kind, args', [
    (3, ('/tmp/ü/f.bin', 0x1a, 0)),
    (6, (b'\0\1\2\3', paramiko.sftp.int64(1 << 40), b'data')),
    (14, ('/d', 'attributes')),
    (200, ('limits@openssh.com',)),
    (4, ()),
], ids=['open', 'write', 'mkdir', 'extended', 'no arguments'])
def test_requests_are_packed_as_paramikos_message_packs_them(kind, args):
    """SharedClient packs its requests itself (requests.request_packet), as
    SFTPClient._async_request does with a Message."""
    if 'attributes' in args:
        attributes = paramiko.SFTPAttributes()
        attributes.st_mode, attributes.st_atime, attributes.st_mtime = 0o777, 5, 6
        args = tuple(attributes if arg == 'attributes' else arg for arg in args)
    message = paramiko.Message()
    message.add_int(77)
    for item in args:
        if isinstance(item, paramiko.sftp.int64):
            message.add_int64(item)
        elif isinstance(item, int):
            message.add_int(item)
        elif isinstance(item, paramiko.SFTPAttributes):
            item._pack(message)
        else:
            message.add_string(item)
    body = message.asbytes()
    expected = struct.pack('>IB', len(body) + 1, kind) + body
    assert requests.request_packet(kind, 77, args) == expected
