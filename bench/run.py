"""Benchmarks of the `filetransfer` command against the tools operators would
otherwise use, measured in the same run on this machine.

The servers are the tests' (tests/servers/): the real OpenSSH sshd with its own keys
and pyftpdlib FTP and FTPS servers, all on 127.0.0.1. Each case runs every contender
that is installed, alternately, ``--runs`` times; the tables show the medians, the
ratio of filetransfer's rate to each contender's, and filetransfer's peak RSS. The
results and the machine's details are printed and written to bench/RESULTS.md.

    make bench                      # installs the tools first (Debian packages, as root)
    .venv/bin/python bench/run.py [--runs N] [--size MIB] [--files N] [--only CASES]

Whole processes are timed: start-up, connection and login included, as a cron job
sees them.
"""

import argparse
import datetime
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests'))

from helpers import Workspace, command_argv  # noqa: E402
from remote import ftp_host, sftp_host, write_hosts  # noqa: E402

sys.path.insert(0, HERE)
import machine  # noqa: E402

OURS = 'filetransfer'
CLICK = 'python -c "import click"'
STARTUP_RUNS = 15
CASES = ('startup', 'local', 'sftp', 'small', 'ftp', 'ftps')


class BenchError(Exception):
    pass


@dataclass
class Contender:
    """One tool in a case: ``argv`` runs it, ``prepare`` clears its target first,
    ``check`` raises BenchError when its result is wrong."""

    name: str
    argv: list
    prepare: object = None
    check: object = None
    env: dict | None = None
    seconds: list = field(default_factory=list)
    rss_kib: list = field(default_factory=list)


@dataclass
class Case:
    title: str
    unit: str               # 'MB/s', 'files/s' or 's' (start-up: lower is better)
    amount: int             # bytes or files moved by one run
    contenders: list
    targets: dict = field(default_factory=dict)   # contender name -> least ratio


def run_timed(contender: Contender) -> tuple[float, int]:
    """Runs a contender once; (wall seconds, peak RSS in KiB of the process)."""
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(contender.argv, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err, env=contender.env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            err.seek(0)
            raise BenchError(f'{contender.name} exited with {proc.returncode}: '
                             f'{err.read()[-1500:].decode(errors="replace")}')
    return seconds, usage.ru_maxrss


def measure(case: Case, runs: int) -> None:
    """Runs the contenders of ``case`` alternately, ``runs`` times each."""
    for number in range(runs):
        for contender in case.contenders:
            if contender.prepare:
                contender.prepare()
            seconds, rss = run_timed(contender)
            if contender.check:
                contender.check()
            contender.seconds.append(seconds)
            contender.rss_kib.append(rss)
            print(f'  {case.title} #{number + 1} {contender.name}: {seconds:.3f} s', flush=True)
    for contender in case.contenders:
        if contender.prepare:
            contender.prepare()      # leaves the disk as it was


def rate(case: Case, contender: Contender) -> float:
    seconds = statistics.median(contender.seconds)
    if case.unit == 's':
        return seconds
    if case.unit == 'MB/s':
        return case.amount / seconds / 1e6
    return case.amount / seconds


def ratio(case: Case, ours: Contender, other: Contender) -> float:
    """Ours relative to ``other``: above 1 is better (for start-up: times, below 1)."""
    return rate(case, ours) / rate(case, other)


# -- data and helpers -----------------------------------------------------------

def make_random(path: str, size: int) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as fh:
        left = size
        while left:
            chunk = os.urandom(min(left, 16 << 20))
            fh.write(chunk)
            left -= len(chunk)


def make_small_files(folder: str, count: int, size: int = 4096) -> None:
    os.makedirs(folder, exist_ok=True)
    for number in range(count):
        with open(os.path.join(folder, f'f{number:05d}.dat'), 'wb') as fh:
            fh.write(os.urandom(size))


def clear(path: str):
    def prepare():
        shutil.rmtree(path, ignore_errors=True)
        if os.path.lexists(path) and not os.path.isdir(path):
            os.unlink(path)
    return prepare


def clear_and_create(path: str):
    def prepare():
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path)
    return prepare


def has_file(path: str, size: int):
    def check():
        found = os.path.getsize(path) if os.path.exists(path) else None
        if found != size:
            raise BenchError(f'{path}: expected {size} bytes, found {found}')
    return check


def has_files(folder: str, count: int, size: int = 4096):
    def check():
        found = 0
        for _, _, names in os.walk(folder):
            found += len(names)
        if found != count:
            raise BenchError(f'{folder}: expected {count} files, found {found}')
    return check


def installed(program: str) -> bool:
    return shutil.which(program) is not None


# -- the cases --------------------------------------------------------------------

class Bench:
    def __init__(self, root: str, size: int, files: int):
        self.root = root
        self.size = size
        self.files = files
        self.ws = Workspace(os.path.join(root, 'ws'))
        self.big_dir = os.path.join(root, 'big')          # holds big.bin only
        self.big = os.path.join(self.big_dir, 'big.bin')
        self.small_dir = os.path.join(root, 'small')
        self.remote = os.path.join(root, 'remote')        # what the SFTP server serves
        self.sshd = None
        self.ftpd = {}
        self.skipped = []

    def ours(self, job: str, **kwargs) -> Contender:
        return Contender(OURS, command_argv('-v', '-c', self.ws.app_cfg, job), **kwargs)

    # servers
    def start_sshd(self):
        from servers.sshd import SshServer, available
        if not available():
            self.skipped.append('SFTP cases: sshd is not installed')
            return False
        self.sshd = SshServer(os.path.join(self.root, 'sshd'))
        self.sshd.setup()
        self.sshd.start()
        return True

    def start_ftpd(self, tls: bool):
        from servers import ftpd
        from servers.tlscerts import make_ca, make_server_cert
        if not ftpd.available():
            self.skipped.append('FTP cases: pyftpdlib/pyopenssl are not installed')
            return None
        if not hasattr(self, 'tls_files'):
            folder = os.path.join(self.root, 'tls')
            os.makedirs(folder, exist_ok=True)
            ca_file, ca_cert, ca_key = make_ca(folder)
            self.tls_files = ca_file, make_server_cert(folder, ca_cert, ca_key)
        ca_file, cert_file = self.tls_files
        server = ftpd.FtpServer(os.path.join(self.root, 'ftps' if tls else 'ftp'), tls=tls,
                                ca_file=ca_file, cert_file=cert_file)
        server.setup().start()
        self.ftpd['FTPS' if tls else 'FTP'] = server
        return server

    def stop(self):
        if self.sshd:
            from servers.sshd import remove_password_user
            self.sshd.stop()
            remove_password_user(self.sshd)
        for server in self.ftpd.values():
            server.stop()

    def write_hosts(self):
        hosts = {}
        if self.sshd:
            hosts['srv'] = sftp_host(self.sshd, timeout='60')
        for kind, server in self.ftpd.items():
            hosts[kind.lower()] = ftp_host(server, timeout='60')
        write_hosts(self.ws, **hosts)

    # the OpenSSH tools
    def ssh_options(self) -> list:
        return self.sshd.ssh_config_options()

    def sftp_batch(self, name: str, lines: list) -> list:
        path = os.path.join(self.root, f'{name}.batch')
        with open(path, 'w') as fh:
            fh.write('\n'.join(lines) + '\n')
        return ['sftp', '-q', '-b', path, *self.ssh_options(), f'{self.sshd.user}@127.0.0.1']

    def rclone_remote(self, path: str) -> str:
        key = self.sshd.client_keys['ed25519']
        return (f':sftp,host=127.0.0.1,port={self.sshd.port},user={self.sshd.user},'
                f'key_file={key},known_hosts_file={self.sshd.known_hosts}:{path}')

    def rclone_env(self) -> dict:
        return {**os.environ, 'RCLONE_CONFIG': os.path.join(self.root, 'rclone.conf')}

    def ssh_command(self) -> str:
        return ' '.join(['ssh', *self.ssh_options()])

    # cases
    def startup(self) -> list:
        ws = self.ws
        ws.write_job('notready', job={'ready_file': 'go.now'},
                     source={'path': self.big_dir}, target={'path': os.path.join(
                         self.root, 'never')})
        def click():
            return Contender(CLICK, [sys.executable, '-c', 'import click'])
        version = Contender(OURS, command_argv('-V'))
        not_ready = self.ours('notready')
        return [Case('start-up: filetransfer -V', 's', 0, [version, click()],
                     {CLICK: 1 / 1.25}),
                Case('start-up: job without its ready file', 's', 0, [not_ready, click()],
                     {CLICK: 1 / 1.25})]

    def local(self) -> list:
        target = os.path.join(self.root, 'local-target')
        self.ws.write_job('local', source={'path': self.big_dir}, target={'path': target})
        check = has_file(os.path.join(target, 'big.bin'), self.size)
        contenders = [self.ours('local', prepare=clear(target), check=check),
                      Contender('cp', ['cp', self.big, os.path.join(target, 'big.bin')],
                                prepare=clear_and_create(target), check=check)]
        return [Case('local 1 file', 'MB/s', self.size, contenders, {'cp': 0.95})]

    def sftp(self) -> list:
        user = self.sshd.user
        up = os.path.join(self.remote, 'up')
        up_file = os.path.join(up, 'big.bin')
        self.ws.write_job('sftp-up', source={'path': self.big_dir},
                          target={'host_id': 'srv', 'path': up})
        check = has_file(up_file, self.size)
        uploads = [self.ours('sftp-up', prepare=clear(up), check=check),
                   Contender('sftp', self.sftp_batch('put', [f'put {self.big} {up_file}']),
                             prepare=clear_and_create(up), check=check)]
        if installed('scp'):
            uploads.append(Contender('scp', ['scp', '-q', *self.ssh_options(), self.big,
                                             f'{user}@127.0.0.1:{up_file}'],
                                     prepare=clear_and_create(up), check=check))
        if installed('rsync'):
            uploads.append(Contender('rsync -e ssh', ['rsync', '-e', self.ssh_command(),
                                                      self.big, f'{user}@127.0.0.1:{up_file}'],
                                     prepare=clear_and_create(up), check=check))
        if installed('rclone'):
            uploads.append(Contender(
                'rclone (no hash check)', ['rclone', 'copy', '--sftp-disable-hashcheck',
                                           self.big, self.rclone_remote(up)],
                prepare=clear_and_create(up), check=check, env=self.rclone_env()))

        served = os.path.join(self.remote, 'served')
        os.makedirs(served, exist_ok=True)
        if not os.path.exists(os.path.join(served, 'big.bin')):
            os.link(self.big, os.path.join(served, 'big.bin'))
        down = os.path.join(self.root, 'down')
        down_file = os.path.join(down, 'big.bin')
        self.ws.write_job('sftp-down', source={'host_id': 'srv', 'path': served},
                          target={'path': down})
        check = has_file(down_file, self.size)
        served_file = os.path.join(served, 'big.bin')
        downloads = [self.ours('sftp-down', prepare=clear(down), check=check),
                     Contender('sftp', self.sftp_batch('get', [f'get {served_file} '
                                                               f'{down_file}']),
                               prepare=clear_and_create(down), check=check)]
        if installed('scp'):
            downloads.append(Contender('scp', ['scp', '-q', *self.ssh_options(),
                                               f'{user}@127.0.0.1:{served_file}', down_file],
                                       prepare=clear_and_create(down), check=check))
        if installed('rsync'):
            downloads.append(Contender('rsync -e ssh', ['rsync', '-e', self.ssh_command(),
                                                        f'{user}@127.0.0.1:{served_file}',
                                                        down_file],
                                       prepare=clear_and_create(down), check=check))
        if installed('rclone'):
            downloads.append(Contender(
                'rclone (no hash check)', ['rclone', 'copy', '--sftp-disable-hashcheck',
                                           self.rclone_remote(served_file), down],
                prepare=clear_and_create(down), check=check, env=self.rclone_env()))
        return [Case('SFTP upload 1 file', 'MB/s', self.size, uploads, {'sftp': 1.0}),
                Case('SFTP download 1 file', 'MB/s', self.size, downloads, {'sftp': 1.0})]

    def small(self) -> list:
        user, count = self.sshd.user, self.files
        target = os.path.join(self.remote, 'small')
        self.ws.write_job('small', source={'path': self.small_dir},
                          target={'host_id': 'srv', 'path': target})
        self.ws.write_job('small-temp', source={'path': self.small_dir},
                          target={'host_id': 'srv', 'path': target, 'temp': 'dot'})
        check = has_files(target, count)
        contenders = [self.ours('small', prepare=clear(target), check=check)]
        ours_temp = self.ours('small-temp', prepare=clear(target), check=check)
        ours_temp.name = 'filetransfer, temp = dot'
        contenders.append(ours_temp)
        for connections in (2, 4):
            self.ws.write_job(f'small-{connections}', source={'path': self.small_dir},
                              target={'host_id': 'srv', 'path': target,
                                      'connections': str(connections)})
            parallel = self.ours(f'small-{connections}', prepare=clear(target), check=check)
            parallel.name = f'filetransfer, connections = {connections}'
            contenders.append(parallel)
        targets = {}
        if installed('rsync'):
            contenders.append(Contender('rsync -r -e ssh', [
                'rsync', '-r', '-e', self.ssh_command(), self.small_dir + '/',
                f'{user}@127.0.0.1:{target}/'], prepare=clear(target), check=check))
            targets['rsync -r -e ssh'] = 1.0
        contenders.append(Contender('sftp put -r', self.sftp_batch(
            'put-r', [f'put -r {self.small_dir} {target}']), prepare=clear(target),
            check=check))
        if installed('rclone'):
            contenders.append(Contender(
                'rclone --transfers 4 (no hash check)',
                ['rclone', 'copy', '--transfers', '4', '--sftp-disable-hashcheck',
                 self.small_dir, self.rclone_remote(target)],
                prepare=clear(target), check=check, env=self.rclone_env()))
        return [Case(f'SFTP upload {count} files of 4 KiB', 'files/s', count, contenders,
                     targets)]

    def ftp(self, tls: bool) -> list:
        server = self.ftpd['FTPS' if tls else 'FTP']
        kind = 'FTPS' if tls else 'FTP'
        up = server.path('up')
        self.ws.write_job(f'{kind}-up', source={'path': self.big_dir},
                          target={'host_id': kind.lower(), 'path': '/up'})
        check = has_file(os.path.join(up, 'big.bin'), self.size)
        uploads = [self.ours(f'{kind}-up', prepare=clear(up), check=check)]
        served = server.path('served')
        os.makedirs(served, exist_ok=True)
        if not os.path.exists(os.path.join(served, 'big.bin')):
            os.link(self.big, os.path.join(served, 'big.bin'))
        down = os.path.join(self.root, f'{kind}-down')
        self.ws.write_job(f'{kind}-down', source={'host_id': kind.lower(), 'path': '/served'},
                          target={'path': down})
        down_check = has_file(os.path.join(down, 'big.bin'), self.size)
        downloads = [self.ours(f'{kind}-down', prepare=clear(down), check=down_check)]
        targets = {}
        if installed('lftp'):
            settings = ['set net:max-retries 1', 'set cmd:fail-exit yes']
            if tls:
                settings += ['set ftp:ssl-force yes', 'set ftp:ssl-protect-data yes',
                             f'set ssl:ca-file {server.ca_file}',
                             'set ssl:verify-certificate yes']
            else:
                settings.append('set ftp:ssl-allow no')
            opened = f'open -u {server.user},{server.password} -p {server.port} 127.0.0.1'
            uploads.append(Contender('lftp', ['lftp', '-c', '; '.join(
                [*settings, opened, f'put {self.big} -o /up/big.bin'])],
                prepare=clear_and_create(up), check=check))
            downloads.append(Contender('lftp', ['lftp', '-c', '; '.join(
                [*settings, opened, f'get /served/big.bin -o {down}/big.bin'])],
                prepare=clear_and_create(down), check=down_check))
            targets['lftp'] = 0.95
        return [Case(f'{kind} upload 1 file', 'MB/s', self.size, uploads, targets),
                Case(f'{kind} download 1 file', 'MB/s', self.size, downloads, targets)]


# -- output ---------------------------------------------------------------------

def format_rate(case: Case, value: float) -> str:
    if case.unit == 's':
        return f'{value:.3f} s'
    if case.unit == 'MB/s':
        return f'{value:.0f} MB/s'
    return f'{value:.0f} files/s'


def tables(cases: list) -> str:
    lines = ['| case | tool | median | runs (s) | filetransfer ÷ tool | peak RSS |',
             '|---|---|---|---|---|---|']
    for case in cases:
        ours = case.contenders[0]
        for contender in case.contenders:
            runs = ' '.join(f'{value:.2f}' for value in contender.seconds)
            shown_ratio = '' if contender is ours else f'{ratio(case, ours, contender):.2f}'
            rss = f'{max(contender.rss_kib) / 1024:.0f} MiB' if contender.name.startswith(
                OURS) and case.unit != 's' else ''
            lines.append(f'| {case.title} | {contender.name} | '
                         f'{format_rate(case, rate(case, contender))} | {runs} | '
                         f'{shown_ratio} | {rss} |')
    lines += ['', '| target | measured | goal | met |', '|---|---|---|---|']
    for case in cases:
        for ours in case.contenders:
            if not ours.name.startswith(OURS):
                continue
            title = case.title if ours is case.contenders[0] else \
                f'{case.title} ({ours.name.removeprefix(OURS + ", ")})'
            for name, goal in case.targets.items():
                other = next(item for item in case.contenders if item.name == name)
                value = ratio(case, ours, other)
                if case.unit == 's':
                    shown, wanted, met = f'{value:.2f} × {name}', f'≤ {1 / goal:.2f} ×', \
                        value <= 1 / goal
                else:
                    shown, wanted, met = (f'{value:.2f} × {name}', f'≥ {goal:.2f} ×',
                                          value >= goal)
                lines.append(f'| {title} | {shown} | {wanted} | {"yes" if met else "NO"} |')
    sftp = [case for case in cases if case.title.startswith('SFTP') and case.unit == 'MB/s']
    if sftp:
        peak = max(max(case.contenders[0].rss_kib) for case in sftp) / 1024
        lines.append(f'| peak RSS of filetransfer, SFTP 1 file | {peak:.0f} MiB | ≤ 64 MiB | '
                     f'{"yes" if peak <= 64 else "NO"} |')
    return '\n'.join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--size', type=int, default=1024, help='MiB of the big file')
    parser.add_argument('--files', type=int, default=5000, help='number of 4 KiB files')
    parser.add_argument('--only', default=','.join(CASES),
                        help=f'comma-separated cases of {", ".join(CASES)}')
    parser.add_argument('--results', default=os.path.join(HERE, 'RESULTS.md'),
                        help='where the results go (- for nowhere)')
    args = parser.parse_args()
    chosen = [name.strip() for name in args.only.split(',') if name.strip()]
    unknown = set(chosen) - set(CASES)
    if unknown:
        parser.error(f'unknown cases: {", ".join(sorted(unknown))}')
    size = args.size << 20
    root = tempfile.mkdtemp(prefix='filetransfer-bench-')
    bench = Bench(root, size, args.files)
    cases = []
    started = datetime.datetime.now()
    try:
        print(f'making the data in {root} ...', flush=True)
        make_random(bench.big, size)
        if 'small' in chosen:
            make_small_files(bench.small_dir, args.files)
        if {'sftp', 'small'} & set(chosen):
            bench.start_sshd()
        for kind in ('ftp', 'ftps'):
            if kind in chosen:
                bench.start_ftpd(kind == 'ftps')
        bench.write_hosts()
        for name in chosen:
            if name in ('sftp', 'small') and not bench.sshd:
                continue
            if name in ('ftp', 'ftps') and name.upper() not in bench.ftpd:
                continue
            made = bench.ftp(name == 'ftps') if name in ('ftp', 'ftps') \
                else getattr(bench, name)()
            for case in made:
                print(f'{case.title}:', flush=True)
                measure(case, max(args.runs, STARTUP_RUNS) if case.unit == 's' else args.runs)
                cases.append(case)
    finally:
        bench.stop()
        shutil.rmtree(root, ignore_errors=True)
    text = tables(cases)
    print()
    print(text)
    for note in bench.skipped:
        print(f'skipped: {note}')
    if args.results != '-':
        with open(args.results, 'w', encoding='utf-8') as fh:
            fh.write(machine.report(started, args, text, bench.skipped))
        print(f'\nwritten to {args.results}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
