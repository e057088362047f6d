"""Sessions end to end: faspmanager drives the ascp emulator, which moves the files over
SSH to and from the real test sshd."""

import hashlib
import logging
import os
import signal
import time

import pytest

import faspmanager as fm
from fasp_helpers import Recorder, download_auth, emulator, gone, key_auth, options
from procs import make_sparse, wait_for


@pytest.fixture(autouse=True)
def _frequent_stats(monkeypatch):
    monkeypatch.setenv('ASCP_EMULATOR_STATS_INTERVAL', '0.2')


def run(order, listener=None, **attrs):
    with fm.session(order, ascp_path=emulator(), listener=listener) as session:
        for name, value in attrs.items():
            setattr(session, name, value)
        session.start()
        return session.finish()


def test_upload_moves_files_and_reports_each(live_sshd, tmp_path):
    src, dst = tmp_path / 'src', tmp_path / 'dst'
    src.mkdir()
    dst.mkdir()
    (src / 'a.txt').write_text('hello')
    (src / 'b.bin').write_bytes(os.urandom(200000))
    recorder = Recorder()
    order = fm.FileUpload([str(src / 'a.txt'), str(src / 'b.bin')], **key_auth(live_sshd),
                          options=options(live_sshd, destination_root=str(dst),
                                          file_checksum=fm.FileChecksumType.SHA_256))
    result = run(order, recorder)
    assert result.ok(), result.reason()
    assert (dst / 'b.bin').read_bytes() == (src / 'b.bin').read_bytes()
    assert (dst / 'a.txt').read_text() == 'hello'
    types = recorder.types()
    assert types[:2] == ['INIT', 'SESSION'] and types[-1] == 'DONE'
    assert types.count('STOP') == 2 and types.count('ARGSTOP') == 2
    assert types.index('STOP') < types.index('ARGSTOP')
    stop = recorder.of_type('STOP')[1].file_stats
    assert stop['name'] == str(src / 'b.bin') and stop['state'] is fm.FileState.FINISHED
    assert stop['checksum'] == hashlib.sha256((src / 'b.bin').read_bytes()).hexdigest()
    assert stop['checksum_type'] == 'sha-256' and stop['size'] == 200000
    stats = result.stats()
    assert stats['state'] is fm.SessionState.FINISHED and stats['files_complete'] == 2
    assert stats['transfers_passed'] == 2 and stats['file_bytes'] == 200005
    assert stats['direction'] == 'Send' and stats['session_id']
    assert result.failed_files() == [] and result.error_code() is None
    assert set(result.file_stats()) == {str(src / 'a.txt'), str(src / 'b.bin')}


def test_download_to_paired_destinations(live_sshd, tmp_path):
    remote, local = tmp_path / 'remote', tmp_path / 'local'
    (remote / 'sub').mkdir(parents=True)
    (remote / 'one.txt').write_text('one')
    (remote / 'sub' / 'two.txt').write_text('two')
    local.mkdir()
    order = fm.FileDownload([str(remote / 'one.txt'), str(remote / 'sub' / 'two.txt')],
                            **download_auth(live_sshd),
                            dest_paths=['x/1.txt', 'y/z/2.txt'],
                            options=options(live_sshd, destination_root=str(local)))
    with fm.session(order, ascp_path=emulator()) as session:
        session.start()
        result = session.finish()
        assert session.finish() is result
        files = session.file_stats()
    assert result.ok(), result.reason()
    assert (local / 'x' / '1.txt').read_text() == 'one'
    assert (local / 'y' / 'z' / '2.txt').read_text() == 'two'
    assert set(files) == {str(local / 'x' / '1.txt'), str(local / 'y' / 'z' / '2.txt')}
    assert result.stats()['direction'] == 'Receive'


def test_directory_upload_with_filters_and_removal(live_sshd, tmp_path):
    src, dst = tmp_path / 'tree', tmp_path / 'dst'
    for name in ('keep.csv', 'skip.tmp', 'deep/keep2.csv', 'deep/other.log'):
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(name)
    order = fm.FileUpload(str(src), **key_auth(live_sshd), options=options(
        live_sshd, destination_root=str(dst), create_dirs=True,
        exclude_patterns=['*.tmp', '*.log'], remove_files_after_transfer=True,
        remove_empty_directories=True))
    result = run(order)
    assert result.ok(), result.reason()
    assert sorted(p.relative_to(dst).as_posix() for p in dst.rglob('*') if p.is_file()) == \
        ['tree/deep/keep2.csv', 'tree/keep.csv']
    assert sorted(p.relative_to(src).as_posix() for p in src.rglob('*')) == \
        ['deep', 'deep/other.log', 'skip.tmp']


def test_overwrite_never_skips_and_mtime_is_preserved(live_sshd, tmp_path):
    src, dst = tmp_path / 'src', tmp_path / 'dst'
    src.mkdir()
    dst.mkdir()
    (src / 'old.txt').write_text('new content')
    (src / 'fresh.txt').write_text('fresh')
    os.utime(src / 'fresh.txt', (1500000000, 1500000000))
    (dst / 'old.txt').write_text('kept')
    recorder = Recorder()
    order = fm.FileUpload([str(src / 'old.txt'), str(src / 'fresh.txt')],
                          **key_auth(live_sshd),
                          options=options(live_sshd, destination_root=str(dst),
                                          overwrite_policy=fm.OverwritePolicy.NEVER,
                                          preserve_modification_time=True))
    result = run(order, recorder)
    assert result.ok(), result.reason()
    assert (dst / 'old.txt').read_text() == 'kept'
    assert os.stat(dst / 'fresh.txt').st_mtime == 1500000000
    (skip,) = recorder.of_type('SKIP')
    assert skip.file_stats['state'] is fm.FileState.SKIPPED
    assert result.stats()['files_skipped'] == 1


def _interrupted_upload(sshd, source, dst, **option_values):
    """An upload cancelled once part of the file has arrived."""
    recorder = Recorder()
    order = fm.FileUpload(str(source), **key_auth(sshd), options=options(
        sshd, destination_root=str(dst), partial_file_suffix='.part', target_rate_kbps=2000,
        **option_values))
    with fm.session(order, ascp_path=emulator(), listener=recorder) as session:
        session.start()
        recorder.wait_for(lambda e: e.event_type is fm.TransferEventType.STATS
                          and e.file_stats['written'] > 100000)
        session.cancel()
        return session.finish()


def _big_source(tmp_path):
    """src/big.bin (2 MB of random bytes) and an empty dst/."""
    src, dst = tmp_path / 'src', tmp_path / 'dst'
    src.mkdir()
    dst.mkdir()
    data = os.urandom(2_000_000)
    (src / 'big.bin').write_bytes(data)
    return src, dst, data


def test_resume_continues_where_a_run_with_k_stopped(live_sshd, tmp_path):
    src, dst, data = _big_source(tmp_path)
    first = _interrupted_upload(live_sshd, src / 'big.bin', dst,
                                resume_check=fm.ResumeCheck.FULL_CHECKSUM)
    assert first.error_code() == 28
    assert sorted(os.listdir(dst)) == ['big.bin.aspx', 'big.bin.part']   # NAME.aspx
    arrived = (dst / 'big.bin.part').stat().st_size
    assert 0 < arrived < len(data)
    order = fm.FileUpload(str(src / 'big.bin'), **key_auth(live_sshd), options=options(
        live_sshd, destination_root=str(dst), partial_file_suffix='.part',
        resume_check=fm.ResumeCheck.FULL_CHECKSUM, file_checksum=fm.FileChecksumType.MD5))
    result = run(order)
    assert result.ok(), result.reason()
    entry = result.file_stats(str(src / 'big.bin'))
    assert entry['start_byte'] == arrived and entry['written'] == len(data) - arrived
    assert entry['checksum'] == hashlib.md5(data).hexdigest()
    assert (dst / 'big.bin').read_bytes() == data
    assert sorted(os.listdir(dst)) == ['big.bin']


def test_no_resume_unless_the_first_run_had_k(live_sshd, tmp_path):
    src, dst, data = _big_source(tmp_path)
    assert _interrupted_upload(live_sshd, src / 'big.bin', dst).error_code() == 28
    assert sorted(os.listdir(dst)) == ['big.bin.part']       # no checkpoint without -k
    order = fm.FileUpload(str(src / 'big.bin'), **key_auth(live_sshd), options=options(
        live_sshd, destination_root=str(dst), partial_file_suffix='.part',
        resume_check=fm.ResumeCheck.FILE_ATTRIBUTES))
    result = run(order)
    assert result.ok(), result.reason()
    assert result.file_stats(str(src / 'big.bin'))['start_byte'] == 0
    assert (dst / 'big.bin').read_bytes() == data


def test_persistent_upload_with_several_sources(live_sshd, tmp_path):
    src, dst = tmp_path / 'src', tmp_path / 'dst'
    src.mkdir()
    data = bytes(range(256)) * 40
    for name in ('p1.bin', 'p2.bin', 'p3.bin'):
        (src / name).write_bytes(data)
    recorder = Recorder()
    order = fm.PersistentUpload(**key_auth(live_sshd), options=options(
        live_sshd, destination_root=str(dst), create_dirs=True))
    with fm.session(order, ascp_path=emulator(), listener=recorder) as session:
        assert isinstance(session, fm.PersistentSession)
        with pytest.raises(fm.SessionStateError):
            session.add_source(str(src / 'p1.bin'), 'p1.bin')
        session.start()
        session.add_source(str(src / 'p1.bin'), 'p1.bin')
        recorder.wait_for(lambda e: e.event_type is fm.TransferEventType.STOP)
        session.add_source(str(src / 'p2.bin'), 'sub/p2.bin')
        session.add_source(str(src / 'p3.bin'), 'p3-part.bin', start_offset=1000,
                           end_offset=3000)
        result = session.finish()
        with pytest.raises(fm.SessionStateError):
            session.add_source(str(src / 'p1.bin'), 'again.bin')
    assert result.ok(), result.reason()
    assert (dst / 'p1.bin').read_bytes() == data
    assert (dst / 'sub' / 'p2.bin').read_bytes() == data
    part = (dst / 'p3-part.bin').read_bytes()
    assert part[1000:3000] == data[1000:3000] and len(part) == 3000
    entry = result.file_stats(str(src / 'p3.bin'))
    assert (entry['start_byte'], entry['end_byte']) == (1000, 3000)
    assert recorder.types().count('STOP') == 3 and recorder.types()[-1] == 'DONE'


def test_persistent_download(live_sshd, tmp_path):
    (tmp_path / 'remote.txt').write_text('remote data')
    order = fm.PersistentDownload(**download_auth(live_sshd), options=options(
        live_sshd, destination_root=str(tmp_path / 'in'), create_dirs=True))
    with fm.session(order, ascp_path=emulator()) as session:
        session.start()
        session.add_source(str(tmp_path / 'remote.txt'), 'copy.txt')
        result = session.finish()
    assert result.ok(), result.reason()
    assert (tmp_path / 'in' / 'copy.txt').read_text() == 'remote data'


def test_stream_upload(live_sshd, tmp_path):
    dst = tmp_path / 'dst'
    order = fm.StreamUpload(**key_auth(live_sshd), options=options(
        live_sshd, destination_root=str(dst), chunk_size=4096))
    payload = os.urandom(50000)
    with fm.session(order, ascp_path=emulator()) as session:
        assert isinstance(session, fm.StreamSession)
        session.start()
        stream = session.open_stream('streams/first.bin')
        for start in range(0, len(payload), 7000):
            assert stream.send(payload[start:start + 7000]) == len(payload[start:start + 7000])
        stream.close()
        stream.close()
        with pytest.raises(fm.StreamStateError):
            stream.send(b'late')
        second = session.open_stream('second.txt')
        second.send('text\n')
        second.close()
        result = session.finish()
    assert result.ok(), result.reason()
    assert (dst / 'streams' / 'first.bin').read_bytes() == payload
    assert (dst / 'second.txt').read_text() == 'text\n'
    assert result.stats()['files_complete'] == 2


def test_stream_state_errors(live_sshd, tmp_path):
    order = fm.StreamUpload(**key_auth(live_sshd), options=options(
        live_sshd, destination_root=str(tmp_path)))
    with fm.session(order, ascp_path=emulator()) as session:
        with pytest.raises(fm.SessionStateError):
            session.open_stream('x')
        session.start()
        stream = fm.Stream('never-opened', None, 1024)
        with pytest.raises(fm.StreamStateError):
            stream.send(b'x')
        with pytest.raises(fm.StreamStateError):
            stream.close()
        result = session.finish()
        with pytest.raises(fm.SessionStateError):
            session.open_stream('after-finish')
    assert result.ok(), result.reason()


def _rate_kbps(samples):
    """Least-squares slope of (elapsed_usec, file_bytes) samples, in kbps."""
    xs = [s[0] / 1e6 for s in samples]
    ys = [s[1] for s in samples]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / \
        sum((x - mx) ** 2 for x in xs)
    return slope * 8 / 1000


def _samples(recorder, after, span):
    """STATS (elapsed, bytes) from event index ``after`` on, once they cover ``span`` s."""
    def covered(_):
        points = [e for e in recorder.of_type('STATS')[after:]]
        return len(points) > 3 and (points[-1].session_stats['elapsed_usec'] -
                                    points[0].session_stats['elapsed_usec']) >= span * 1e6
    recorder.wait_for(covered, timeout=60)
    return [(e.session_stats['elapsed_usec'], e.session_stats['file_bytes'])
            for e in recorder.of_type('STATS')[after:]]


def test_rate_is_held_and_changed_by_set_rate(live_sshd, tmp_path):
    make_sparse(str(tmp_path / 'src' / 'big.bin'), 256 * 1024 * 1024)
    recorder = Recorder()
    order = fm.FileUpload(str(tmp_path / 'src' / 'big.bin'), **key_auth(live_sshd),
                          options=options(live_sshd, destination_root=str(tmp_path),
                                          target_rate_kbps=4000))
    with fm.session(order, ascp_path=emulator(), listener=recorder) as session:
        with pytest.raises(fm.SessionStateError):
            session.set_rate(8000)
        session.start()
        recorder.wait_for(lambda e: e.event_type is fm.TransferEventType.STATS)
        first = len(recorder.of_type('STATS'))
        before = _rate_kbps(_samples(recorder, first, 2.0))
        assert session.set_rate(12000) is True
        note = recorder.wait_for(lambda e: e.event_type is fm.TransferEventType.NOTIFICATION)
        assert note.session_stats['target_rate_kbps'] == 12000
        assert session.stats()['target_rate_kbps'] == 12000
        after = _rate_kbps(_samples(recorder, len(recorder.of_type('STATS')) + 1, 2.5))
        session.cancel()
        result = session.finish()
    assert 4000 * 0.9 <= before <= 4000 * 1.1, before
    assert 12000 * 0.9 <= after <= 12000 * 1.1, after
    assert result.error_code() == 28


def test_cancel(live_sshd, tmp_path):
    make_sparse(str(tmp_path / 'src' / 'big.bin'), 64 * 1024 * 1024)
    recorder = Recorder()
    order = fm.FileUpload(str(tmp_path / 'src' / 'big.bin'), **key_auth(live_sshd),
                          options=options(live_sshd, destination_root=str(tmp_path / 'dst'),
                                          target_rate_kbps=2000, create_dirs=True))
    with fm.session(order, ascp_path=emulator(), listener=recorder) as session:
        with pytest.raises(fm.SessionStateError):
            session.cancel()
        session.start()
        recorder.wait_for(lambda e: e.event_type is fm.TransferEventType.STATS)
        assert session.cancel() is True
        result = session.finish()
        assert session.cancel() is False
        assert session.set_rate(1000) is False
        assert session.state() is fm.SessionState.FAILED
    assert result.failed() and result.error_code() == 28
    assert 'Cancelled by user' in result.reason() and not result.retryable()
    assert result.failed_files() == [str(tmp_path / 'src' / 'big.bin')]
    (error,) = recorder.of_type('FILEERROR')
    assert error.file_stats['error_code'] == 28
    assert recorder.types()[-1] == 'ERROR'


def test_cancel_of_a_persistent_session(live_sshd, tmp_path):
    make_sparse(str(tmp_path / 'src' / 'big.bin'), 64 * 1024 * 1024)
    recorder = Recorder()
    order = fm.PersistentUpload(**key_auth(live_sshd), options=options(
        live_sshd, destination_root=str(tmp_path / 'dst'), create_dirs=True,
        target_rate_kbps=2000))
    with fm.session(order, ascp_path=emulator(), listener=recorder) as session:
        session.start()
        session.add_source(str(tmp_path / 'src' / 'big.bin'), 'big.bin')
        session.add_source(str(tmp_path / 'src' / 'big.bin'), 'queued.bin')
        recorder.wait_for(lambda e: e.event_type is fm.TransferEventType.STATS)
        assert session.cancel() is True
        result = session.finish()
    assert result.error_code() == 28
    assert result.failed_files() == [str(tmp_path / 'src' / 'big.bin')]
    assert not (tmp_path / 'dst' / 'queued.bin').exists()


def test_auth_failure_is_code_19(live_sshd, tmp_path):
    (tmp_path / 'a.txt').write_text('a')
    recorder = Recorder()
    # the server's own host key is a valid key that is not authorized for logins
    order = fm.FileUpload(str(tmp_path / 'a.txt'), dest_user=live_sshd.user,
                          dest_host=live_sshd.host, dest_identity=live_sshd.host_keys['ed25519'],
                          options=options(live_sshd, destination_root=str(tmp_path)))
    result = run(order, recorder)
    assert result.failed() and result.error_code() == 19
    assert 'Authentication failed' in result.reason() and not result.retryable()
    assert recorder.types() == ['INIT', 'ERROR']


def test_password_login_keeps_the_password_out_of_argv(live_sshd, password_user, tmp_path):
    name, password, home = password_user
    (tmp_path / 'a.txt').write_text('by password')
    seen = []

    def listener(event):
        if event.event_type is fm.TransferEventType.SESSION:
            with open(f'/proc/{session.pid}/cmdline', 'rb') as fh:
                seen.append(fh.read())

    order = fm.FileUpload(str(tmp_path / 'a.txt'), dest_user=name, dest_host=live_sshd.host,
                          dest_pass=password, options=options(live_sshd, destination_root=home))
    with fm.session(order, ascp_path=emulator(), listener=listener) as session:
        session.start()
        result = session.finish()
    assert result.ok(), result.reason()
    assert open(os.path.join(home, 'a.txt')).read() == 'by password'
    assert seen and password.encode() not in seen[0] and b'-M' in seen[0]
    wrong = fm.FileUpload(str(tmp_path / 'a.txt'), dest_user=name, dest_host=live_sshd.host,
                          dest_pass=password + 'x', options=options(live_sshd,
                                                                    destination_root=home))
    result = run(wrong)
    assert result.error_code() == 19 and password not in result.reason()


def test_connection_refused_is_code_12(live_sshd, tmp_path):
    from servers.common import free_port
    (tmp_path / 'a.txt').write_text('a')
    order = fm.FileUpload(str(tmp_path / 'a.txt'), **key_auth(live_sshd),
                          options=options(live_sshd, tcp_port=free_port()))
    result = run(order)
    assert result.error_code() == 12 and result.retryable()


def test_missing_source_file(live_sshd, tmp_path):
    (tmp_path / 'here.txt').write_text('here')
    missing = str(tmp_path / 'missing.txt')
    recorder = Recorder()
    order = fm.FileUpload([str(tmp_path / 'here.txt'), missing], **key_auth(live_sshd),
                          options=options(live_sshd, destination_root=str(tmp_path / 'dst'),
                                          create_dirs=True))
    result = run(order, recorder)
    assert result.failed() and result.error_code() == 27
    assert result.failed_files() == [missing]
    assert result.file_stats(missing)['error_code'] == 4
    assert (tmp_path / 'dst' / 'here.txt').read_text() == 'here'
    assert recorder.types()[-1] == 'ERROR'
    alone = fm.FileUpload(missing, **key_auth(live_sshd),
                          options=options(live_sshd, destination_root=str(tmp_path / 'dst')))
    result = run(alone)
    assert result.error_code() == 4 and 'No such file' in result.reason()


def test_missing_ascp(tmp_path, monkeypatch):
    monkeypatch.setenv('PATH', str(tmp_path))
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.delenv('FASPMANAGER_ASCP', raising=False)
    order = fm.FileUpload('a.txt', 'u', '127.0.0.1', dest_pass='p')
    for ascp_path in (str(tmp_path / 'no-ascp'), None):
        if ascp_path is None and os.path.exists('/opt/aspera/bin/ascp'):
            continue
        with fm.session(order, ascp_path=ascp_path) as session:
            with pytest.raises(FileNotFoundError):
                session.start()
            assert session.state() is fm.SessionState.FAILED
            assert 'ascp not found' in session.finish().reason()
            with pytest.raises(fm.SessionStateError):
                session.start()


def _slow_upload(sshd, tmp_path, recorder, rate=2000):
    make_sparse(str(tmp_path / 'src' / 'big.bin'), 64 * 1024 * 1024)
    order = fm.FileUpload(str(tmp_path / 'src' / 'big.bin'), **key_auth(sshd),
                          options=options(sshd, destination_root=str(tmp_path),
                                          target_rate_kbps=rate))
    return fm.session(order, ascp_path=emulator(), listener=recorder)


def test_ascp_dying_mid_session(live_sshd, tmp_path):
    recorder = Recorder()
    with _slow_upload(live_sshd, tmp_path, recorder) as session:
        session.start()
        recorder.wait_for(lambda e: e.event_type is fm.TransferEventType.STATS)
        os.kill(session.pid, signal.SIGKILL)
        result = session.finish()
    assert result.failed() and result.retryable()
    assert 'no DONE or ERROR' in result.reason() and 'exit status -9' in result.reason()
    assert result.stats()['exit_status'] == -9


def test_ascp_that_stops_talking_is_stopped(live_sshd, tmp_path):
    recorder = Recorder()
    with _slow_upload(live_sshd, tmp_path, recorder) as session:
        session.start()
        recorder.wait_for(lambda e: e.event_type is fm.TransferEventType.STATS)
        session.idle_timeout = 1.0      # once working (logging in may take longer)
        os.kill(session.pid, signal.SIGSTOP)
        result = session.finish()
        assert gone(session.pid)
    assert result.failed() and 'no management message for 1 s' in result.reason()


def test_close_kills_a_running_ascp(live_sshd, tmp_path):
    recorder = Recorder()
    session = _slow_upload(live_sshd, tmp_path, recorder)
    session.start()
    recorder.wait_for(lambda e: e.event_type is fm.TransferEventType.STATS)
    session.close()
    assert gone(session.pid)
    session.close()
    result = session.finish()
    assert result.failed() and 'closed before ascp finished' in result.reason()


KILLED_MANAGER = """
import sys, time
import faspmanager as fm
order = fm.FileUpload(sys.argv[1], dest_user=sys.argv[2], dest_host='127.0.0.1',
                      dest_identity=sys.argv[3],
                      options=fm.TransferOptions(tcp_port=int(sys.argv[4]), target_rate_kbps=4000,
                                                 destination_root=sys.argv[5]))
session = fm.session(order, ascp_path=sys.argv[6])
session.start()
print(session.pid, flush=True)
time.sleep(120)
"""


def test_ascp_ends_with_a_manager_killed_without_warning(live_sshd, tmp_path, monkeypatch):
    """SIGKILL gives the session no chance to stop ascp (which here would go on without
    its manager): the kernel does, for a session started by the main thread."""
    import subprocess
    import sys

    from fasp_helpers import ended
    monkeypatch.setenv('ASCP_EMULATOR_OUTLIVE_MANAGER', '1')
    make_sparse(str(tmp_path / 'big.bin'), 32 << 20)
    (tmp_path / 'dst').mkdir()
    manager = subprocess.Popen(
        [sys.executable, '-c', KILLED_MANAGER, str(tmp_path / 'big.bin'), live_sshd.user,
         live_sshd.client_keys['ed25519'], str(live_sshd.port), str(tmp_path / 'dst'),
         emulator()], stdout=subprocess.PIPE, text=True)
    pid = None
    try:
        pid = int(manager.stdout.readline())
        wait_for(lambda: (tmp_path / 'dst' / 'big.bin').exists())
        manager.kill()
        manager.wait()
        wait_for(lambda: ended(pid), timeout=10)
    finally:
        manager.kill()
        if pid and not ended(pid):
            os.kill(pid, signal.SIGKILL)
    assert os.path.getsize(tmp_path / 'dst' / 'big.bin') < 32 << 20


def _fake_ascp(tmp_path, body):
    path = tmp_path / 'fake-ascp'
    path.write_text('#!/bin/sh\n' + body + '\n')
    path.chmod(0o755)
    return str(path)


def test_ascp_that_never_connects(tmp_path):
    fake = _fake_ascp(tmp_path, 'echo "ascp: waiting for a licence" >&2\nexec sleep 60')
    order = fm.FileUpload('a.txt', 'u', '127.0.0.1', dest_pass='p')
    with fm.session(order, ascp_path=fake) as session:
        session.connect_timeout = 1.0
        with pytest.raises(fm.SessionStartError, match='did not connect') as info:
            session.start()
        assert 'waiting for a licence' in str(info.value)
        assert gone(session.pid)
        assert session.finish().failed()


def test_ascp_that_exits_before_connecting(tmp_path):
    fake = _fake_ascp(tmp_path, 'echo "ascp: license expired" >&2\nexit 1')
    order = fm.FileUpload('a.txt', 'u', '127.0.0.1', dest_pass='p')
    with fm.session(order, ascp_path=fake) as session:
        with pytest.raises(fm.SessionStartError, match='status 1') as info:
            session.start()
    assert 'license expired' in str(info.value)


def test_ascp_that_connects_and_ends_without_a_word(tmp_path):
    # connects to the management port (bash's /dev/tcp), says INIT, then exits
    script = tmp_path / 'fake-ascp'
    script.write_text('#!/bin/bash\nexec 3<>/dev/tcp/127.0.0.1/$2\n'
                      'printf "FASPMGR 2\\nType: INIT\\nUserStr: $4\\n\\n" >&3\necho "ascp: crashed" >&2\n'
                      'exit 3\n')
    script.chmod(0o755)
    recorder = Recorder()
    order = fm.FileUpload('a.txt', 'u', '127.0.0.1', dest_pass='p')
    with fm.session(order, ascp_path=str(script), listener=recorder) as session:
        session.start()
        result = session.finish()
    assert recorder.types() == ['INIT']
    assert 'no DONE or ERROR' in result.reason() and 'exit status 3' in result.reason()
    assert 'ascp: crashed' in result.reason()


def test_a_raising_listener_is_logged_not_fatal(live_sshd, tmp_path, caplog):
    (tmp_path / 'a.txt').write_text('a')

    def listener(event):
        raise RuntimeError('listener bug')

    order = fm.FileUpload(str(tmp_path / 'a.txt'), **key_auth(live_sshd),
                          options=options(live_sshd, destination_root=str(tmp_path / 'd'),
                                          create_dirs=True))
    with caplog.at_level(logging.ERROR, logger='faspmanager'):
        result = run(order, listener)
    assert result.ok(), result.reason()
    assert any('listener' in record.getMessage() for record in caplog.records)


def test_state_and_stats_before_start():
    session = fm.session(fm.FileUpload('a', 'u', 'h', dest_pass='p'))
    assert session.state() is fm.SessionState.NOTSTARTED
    assert session.stats()['state'] is fm.SessionState.NOTSTARTED
    assert session.file_stats() == {} and session.file_stats('a') is None
    assert session.failed_files() == []
    with pytest.raises(fm.SessionStateError):
        session.finish()
    session.close()


def test_finish_is_bounded_when_ascp_lingers_after_done(tmp_path):
    # says DONE but neither closes the connection nor exits
    script = tmp_path / 'fake-ascp'
    script.write_text('#!/bin/bash\nexec 3<>/dev/tcp/127.0.0.1/$2\n'
                      'printf "FASPMGR 2\\nType: INIT\\nUserStr: $4\\n\\nFASPMGR 2\\nType: DONE\\n\\n" >&3\n'
                      'exec sleep 60\n')
    script.chmod(0o755)
    order = fm.FileUpload('a.txt', 'u', '127.0.0.1', dest_pass='p')
    with fm.session(order, ascp_path=str(script)) as session:
        session.exit_timeout = 0.5
        session.start()
        started = time.monotonic()
        result = session.finish()
        assert time.monotonic() - started < 20
        assert gone(session.pid)
    assert result.ok()


def test_processes_are_waited_for(live_sshd, tmp_path):
    """A finished session leaves no ascp behind."""
    (tmp_path / 'a.txt').write_text('a')
    order = fm.FileUpload(str(tmp_path / 'a.txt'), **key_auth(live_sshd),
                          options=options(live_sshd, destination_root=str(tmp_path / 'd'),
                                          create_dirs=True))
    with fm.session(order, ascp_path=emulator()) as session:
        session.start()
        session.finish()
        pid = session.pid
    assert wait_for(lambda: gone(pid), timeout=10)


def test_close_from_a_listener(live_sshd, tmp_path):
    refused = []

    def listener(event):
        if event.event_type is fm.TransferEventType.STATS and not refused:
            try:
                session.finish()
            except fm.SessionStateError as exc:
                refused.append(exc)
            session.close()

    session = _slow_upload(live_sshd, tmp_path, listener)
    session.start()
    result = session.finish()
    assert refused and 'inside a listener' in str(refused[0])
    assert result.failed() and 'closed' in result.reason()
    assert session.finish() is result
    assert gone(session.pid)
