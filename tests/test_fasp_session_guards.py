"""What a session must survive: a long stream at a low rate, quiet persistent sources,
strangers on the management port, processes that keep ascp's output open, and a
session object dropped without close()."""

import gc
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import faspmanager as fm
from fasp_helpers import AscpWrapper, Recorder, emulator, gone, key_auth, options
from procs import make_sparse, wait_for


@pytest.mark.parametrize('mib', [4, pytest.param(32, marks=pytest.mark.slow)])
def test_stream_send_carries_mib_at_10_mbit_s(live_sshd, tmp_path, capsys, mib):
    """Held back by TCP at the target rate for seconds (4 MiB) or half a minute (32 MiB)."""
    data = os.urandom(1 << 20) * mib
    order = fm.StreamUpload(**key_auth(live_sshd), options=options(
        live_sshd, destination_root=str(tmp_path / 'dst'), target_rate_kbps=10000))
    with fm.session(order, ascp_path=emulator()) as session:
        session.start()
        stream = session.open_stream('big.bin')
        started = time.monotonic()
        assert stream.send(data) == len(data)
        stream.close()
        result = session.finish()
        took = time.monotonic() - started
    assert result.ok(), result.reason()
    written = (tmp_path / 'dst' / 'big.bin').read_bytes()
    assert hashlib.sha256(written).digest() == hashlib.sha256(data).digest()
    with capsys.disabled():
        print(f'\n{mib} MiB streamed at a 10 Mbit/s target in {took:.1f} s')


def test_a_source_that_yields_no_file_settles_on_argstop(live_sshd, tmp_path):
    (tmp_path / 'empty').mkdir()
    (tmp_path / 'later.txt').write_text('later')
    recorder = Recorder()
    order = fm.PersistentUpload(**key_auth(live_sshd), options=options(
        live_sshd, destination_root=str(tmp_path / 'dst'), create_dirs=True))
    with fm.session(order, ascp_path=emulator(), listener=recorder) as session:
        session.start()
        session.add_source(str(tmp_path / 'empty'), 'empty-copy')
        recorder.wait_for(lambda e: e.event_type is fm.TransferEventType.ARGSTOP)
        session.idle_timeout = 0.5
        time.sleep(2)                 # nothing to say while no source is pending
        session.idle_timeout = fm.Session.IDLE_TIMEOUT
        session.add_source(str(tmp_path / 'later.txt'), 'later.txt')
        result = session.finish()
    assert result.ok(), result.reason()
    assert (tmp_path / 'dst' / 'later.txt').read_text() == 'later'
    assert recorder.types().count('STOP') == 1


INTRUDER = '''
import socket
port = int(sys.argv[sys.argv.index('-M') + 1])
for text in (b'FASPMGR 2\\nType: INIT\\nUserStr: intruder\\n\\n'
             b'FASPMGR 2\\nType: DONE\\nUserStr: intruder\\n\\n',
             b'not a management message\\n\\n',
             b'FASPMGR 2\\nType: INIT\\n\\nFASPMGR 2\\nType: ERROR\\nCode: 19\\n\\n'):
    intruder = socket.create_connection(('127.0.0.1', port))
    intruder.sendall(text)
'''


def test_only_the_sessions_own_ascp_is_heard(live_sshd, tmp_path):
    """Other processes connect to the management port first (the wrapper does, before
    it becomes ascp): they are turned away, and the session hears its own ascp."""
    (tmp_path / 'a.txt').write_text('mine')
    wrapper = AscpWrapper(tmp_path, body=INTRUDER)
    recorder = Recorder()
    order = fm.FileUpload(str(tmp_path / 'a.txt'), **key_auth(live_sshd), options=options(
        live_sshd, destination_root=str(tmp_path / 'dst'), create_dirs=True))
    with fm.session(order, ascp_path=wrapper.path, listener=recorder) as session:
        session.start()
        result = session.finish()
    assert result.ok(), result.reason()
    assert (tmp_path / 'dst' / 'a.txt').read_text() == 'mine'
    assert recorder.types()[0] == 'INIT' and recorder.types()[-1] == 'DONE'
    assert result.stats()['transfers_passed'] == 1


HOLD_OUTPUT = '''
import subprocess
holder = subprocess.Popen(['sleep', '300'], start_new_session=True)    # keeps stdout
open({pidfile!r}, 'w').write(str(holder.pid))
'''


def test_close_does_not_wait_for_what_holds_ascps_output(live_sshd, tmp_path):
    pidfile = str(tmp_path / 'holder.pid')
    wrapper = AscpWrapper(tmp_path, body=HOLD_OUTPUT.format(pidfile=pidfile))
    make_sparse(str(tmp_path / 'src' / 'big.bin'), 64 << 20)
    recorder = Recorder()
    order = fm.FileUpload(str(tmp_path / 'src' / 'big.bin'), **key_auth(live_sshd),
                          options=options(live_sshd, destination_root=str(tmp_path / 'dst'),
                                          create_dirs=True, target_rate_kbps=2000))
    session = fm.session(order, ascp_path=wrapper.path, listener=recorder)
    try:
        session.start()
        recorder.wait_for(lambda e: e.event_type is fm.TransferEventType.STATS)
        closer = threading.Thread(target=session.close)
        closer.start()
        closer.join(60)          # the holder keeps the output open for 300 s
        assert not closer.is_alive(), 'close() waited for a process holding ascp\'s output'
        assert gone(session.pid)
        assert session.finish().failed()
    finally:
        os.kill(int(open(pidfile).read()), signal.SIGKILL)


LINGERING_ASCP = ('#!/bin/bash\nexec 3<>/dev/tcp/127.0.0.1/$2\n'
                  'printf "FASPMGR 2\\nType: INIT\\nUserStr: $4\\n\\n" >&3\nexec sleep 600\n')


def _lingering_ascp(tmp_path):
    script = tmp_path / 'lingering-ascp'
    script.write_text(LINGERING_ASCP)
    script.chmod(0o755)
    return str(script)


def test_a_dropped_session_stops_its_ascp(tmp_path):
    recorder = Recorder()
    session = fm.session(fm.FileUpload('a.txt', 'u', '127.0.0.1', dest_pass='p'),
                         ascp_path=_lingering_ascp(tmp_path), listener=recorder)
    session.start()
    recorder.wait_for(lambda e: e.event_type is fm.TransferEventType.INIT)
    pid = session.pid
    del session
    gc.collect()
    assert wait_for(lambda: gone(pid), timeout=30)


def test_leaving_the_interpreter_stops_ascp(tmp_path):
    code = ('import faspmanager as fm, sys\n'
            'session = fm.session(fm.FileUpload("a.txt", "u", "127.0.0.1", dest_pass="p"),\n'
            f'                     ascp_path={_lingering_ascp(tmp_path)!r})\n'
            'session.start()\n'
            'print(session.pid, flush=True)\n')          # exits without close()
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    pid = int(done.stdout)
    assert wait_for(lambda: gone(pid), timeout=30)
