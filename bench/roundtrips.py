"""Where filetransfer's time goes on a link with latency: the SFTP requests it sends
per file, and how often it waits a round trip for an answer, for an upload and a
download of small files through the delay proxy in front of the test sshd.

    .venv/bin/python bench/roundtrips.py [--rtt-ms 50] [--files 20]

The job runs in this process (its default settings), with the SFTP session's
calls wrapped: every request sent is counted by kind, and a read of an answer
that blocks for more than half the round-trip time counts as one round trip
waited for.
"""

import argparse
import collections
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from argtypes import number  # noqa: E402
from lab import Lab, make_small_files  # noqa: E402

import filetransfer  # noqa: E402
from filetransfer.endpoints.sftp.requests import SharedClient  # noqa: E402
from paramiko import sftp  # noqa: E402

NAMES = {value: name.removeprefix('CMD_') for name, value in vars(sftp).items()
         if name.startswith('CMD_') and isinstance(value, int)}


class Counter:
    """Wraps the session's calls while counting: the requests (SharedClient's, and
    paramiko's own packets: INIT) and the reads of answers (SharedClient's, over
    either transport)."""

    def __init__(self, rtt: float):
        self.rtt = rtt
        self.sent = collections.Counter()
        self.waits = 0
        self.waited = 0.0
        self._send, self._request = sftp.BaseSFTP._send_packet, SharedClient._async_request
        self._read = SharedClient._read_packet

    def __enter__(self) -> 'Counter':
        counter = self

        def send(self, kind, packet):
            counter.sent[NAMES.get(kind, kind)] += 1
            return counter._send(self, kind, packet)

        def request(self, fileobj, kind, *args):
            counter.sent[NAMES.get(kind, kind)] += 1
            return counter._request(self, fileobj, kind, *args)

        def read(self):
            started = time.perf_counter()
            found = counter._read(self)
            seconds = time.perf_counter() - started
            if seconds > counter.rtt / 2:
                counter.waits += 1
                counter.waited += seconds
            return found

        sftp.BaseSFTP._send_packet = send
        SharedClient._async_request, SharedClient._read_packet = request, read
        return self

    def __exit__(self, *exc) -> None:
        sftp.BaseSFTP._send_packet = self._send
        SharedClient._async_request, SharedClient._read_packet = self._request, self._read


def profile(lab: Lab, job: str, files: int, rtt: float) -> str:
    run, _ = filetransfer.configure(lab.ws.app_cfg, job)
    with Counter(rtt) as counter:
        started = time.perf_counter()
        result, _ = run()
        seconds = time.perf_counter() - started
    requests = ', '.join(f'{name} {count / files:.2f}'
                         for name, count in counter.sent.most_common())
    return (f'{job}: {result} in {seconds:.2f} s; '
            f'per file: {counter.waits / files:.2f} round trips waited for, requests: '
            f'{requests}; waiting for answers: {counter.waited:.2f} s '
            f'({100 * counter.waited / seconds:.0f} % of the run)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--rtt-ms', type=number(float, 0, above=True), default=50.0)
    parser.add_argument('--files', type=number(int, 1), default=20)
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix='filetransfer-bench-')
    lab = Lab(root)
    try:
        if not lab.start_sshd():
            raise SystemExit('sshd is not installed')
        host = lab.sftp_host_id(lab.login(args.rtt_ms))
        files = lab.path('files')
        make_small_files(files, args.files)
        lab.job('upload', {'path': files}, {'host_id': host, 'path': lab.path('up')})
        lab.job('download', {'host_id': host, 'path': files}, {'path': lab.path('down')})
        for job in ('upload', 'download'):
            print(profile(lab, job, args.files, args.rtt_ms / 1000), flush=True)
    finally:
        lab.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == '__main__':
    main()
