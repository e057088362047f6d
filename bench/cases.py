"""The cases on 127.0.0.1 without added latency: start-up, one big file (local,
SFTP, FTP, FTPS), many small files over SFTP, how the cost grows with the number of
files, and a job that remembers the files it sent running again. Each function returns
the cases of one name of ``run.py --only``."""

import os
import shutil

from filetransfer.run.sentfiles import open_sent_files
from lab import (Lab, clear, clear_and_create, has_file, has_files, kept,
                 make_small_files)
from peers import GCM, Transfer, peers
from timing import Case, Contender, installed, run_timed

CLICK = 'python -c "import click"'
BOTH_CIPHERS = (GCM, None)


def startup(lab: Lab, settings) -> list:
    lab.ws.write_job('notready', job={'ready_file': 'go.now'},
                     source={'path': lab.path('big')}, target={'path': lab.path('never')})
    click = Contender(CLICK, [lab.python, '-c', 'import click'])
    version = Contender('filetransfer', lab.command('-V'), ours=True)
    return [Case('start-up: filetransfer -V', 's', 0, [version, click], {CLICK: 0.8}),
            Case('start-up: job without its ready file', 's', 0,
                 [lab.ours('filetransfer', 'notready'), click], {CLICK: 0.8})]


def local(lab: Lab, settings) -> list:
    target = lab.path('local-target')
    check = has_file(os.path.join(target, 'big.bin'), settings.size)
    job = lab.job('local', {'path': lab.path('big')}, {'path': target})
    contenders = [lab.ours('filetransfer', job, prepare=clear(target), check=check),
                  Contender('cp', ['cp', lab.path('big', 'big.bin'),
                                   os.path.join(target, 'big.bin')],
                            prepare=clear_and_create(target), check=check)]
    return [Case('local 1 file', 'MB/s', settings.size, contenders, {'cp': 0.95})]


def one_file(lab: Lab, login, folder: str, size: int, ciphers, title: str,
             targets=None) -> list:
    """SFTP upload and download of the one file in ``folder``, through ``login``."""
    host = lab.sftp_host_id(login)
    cases = []
    served = lab.path('remote', 'served-' + os.path.basename(folder))
    if not os.path.exists(served):
        os.makedirs(os.path.dirname(served), exist_ok=True)
        os.symlink(folder, served)        # what downloads read
    for up in (True, False):
        far = lab.path('remote', f'up-{login.port}') if up else \
            lab.path(f'down-{login.port}')
        prepare, check = clear_and_create(far), has_file(os.path.join(far, 'big.bin'), size)
        if up:
            job = lab.job(f'up-{login.port}', {'path': folder}, {'host_id': host,
                                                                 'path': far})
        else:
            job = lab.job(f'down-{login.port}', {'host_id': host, 'path': served},
                          {'path': far})
        transfer = Transfer(folder if up else far, far if up else served, up, 'big.bin',
                            prepare, check)
        contenders = [lab.ours('filetransfer', job, prepare=prepare, check=check),
                      *peers(login, transfer, ciphers)]
        cases.append(Case(f'SFTP {"upload" if up else "download"} {title}', 'MB/s', size,
                          contenders, targets or {}))
    return cases


def sftp(lab: Lab, settings) -> list:
    return one_file(lab, lab.login(), lab.path('big'), settings.size, BOTH_CIPHERS,
                    '1 file', {'sftp -b (aes128-gcm)': 1.0})


def many_files(lab: Lab, login, folder: str, count: int, title: str, variants: dict,
               ups=(True, False), targets=None, **choices) -> list:
    """SFTP uploads (and/or downloads: ``ups``) of the ``count`` files of ``folder``
    through ``login``; ``variants`` maps a name to target options of further
    filetransfer contenders, ``choices`` go to `peers`."""
    host = lab.sftp_host_id(login)
    cases = []
    for up in ups:
        far = lab.path('remote', f'many-up-{login.port}') if up else \
            lab.path(f'many-down-{login.port}')
        prepare, check = clear(far), has_files(far, count)
        contenders = []
        for name, options in {'filetransfer': {}, **variants}.items():
            job_id = f'many-{"up" if up else "down"}-{login.port}-{len(contenders)}'
            if up:
                job = lab.job(job_id, {'path': folder}, {'host_id': host, 'path': far,
                                                         **options})
            else:
                job = lab.job(job_id, {'host_id': host, 'path': folder},
                              {'path': far, **options})
            contenders.append(lab.ours(name, job, prepare=prepare, check=check))
        transfer = Transfer(folder if up else far, far if up else folder, up, None, prepare,
                            check)
        contenders += peers(login, transfer, **choices)
        cases.append(Case(f'SFTP {"upload" if up else "download"} {title}', 'files/s',
                          count, contenders, targets or {}))
    return cases


def small(lab: Lab, settings) -> list:
    """Uploads and downloads of many small files; lftp and rclone's hash check are left out (each
    would take minutes here), the latency cases have them."""
    folder = lab.path('small')
    make_small_files(folder, settings.files)
    variants = {'filetransfer, temp = dot': {'temp': 'dot'},
                **{f'filetransfer, connections = {number}': {'connections': str(number)}
                   for number in (1, 8)}}
    return many_files(lab, lab.login(), folder, settings.files,
                      f'{settings.files} files of 4 KiB', variants, ups=(True, False),
                      targets={'rsync -e ssh (aes128-gcm)': 1.0}, ciphers=BOTH_CIPHERS,
                      parallel=8, tools=('sftp', 'scp', 'rsync', 'rclone'),
                      hashchecks=(False,))


def ftp(lab: Lab, settings, tls: bool) -> list:
    server = lab.ftpd['FTPS' if tls else 'FTP']
    kind = 'FTPS' if tls else 'FTP'
    up = server.path('up')
    check = has_file(os.path.join(up, 'big.bin'), settings.size)
    job = lab.job(f'{kind}-up', {'path': lab.path('big')},
                  {'host_id': kind.lower(), 'path': '/up'})
    uploads = [lab.ours('filetransfer', job, prepare=clear(up), check=check)]
    served = server.path('served')
    os.makedirs(served, exist_ok=True)
    if not os.path.exists(os.path.join(served, 'big.bin')):
        os.link(lab.path('big', 'big.bin'), os.path.join(served, 'big.bin'))
    down = lab.path(f'{kind}-down')
    job = lab.job(f'{kind}-down', {'host_id': kind.lower(), 'path': '/served'},
                  {'path': down})
    down_check = has_file(os.path.join(down, 'big.bin'), settings.size)
    downloads = [lab.ours('filetransfer', job, prepare=clear(down), check=down_check)]
    targets = {}
    if installed('lftp'):
        options = ['set net:max-retries 1', 'set cmd:fail-exit yes']
        if tls:
            options += ['set ftp:ssl-force yes', 'set ftp:ssl-protect-data yes',
                        f'set ssl:ca-file {server.ca_file}', 'set ssl:verify-certificate yes']
        else:
            options.append('set ftp:ssl-allow no')
        opened = f'open -u {server.user},{server.password} -p {server.port} 127.0.0.1'
        uploads.append(Contender('lftp', ['lftp', '-c', '; '.join(
            [*options, opened, f'put {lab.path("big", "big.bin")} -o /up/big.bin'])],
            prepare=clear_and_create(up), check=check))
        downloads.append(Contender('lftp', ['lftp', '-c', '; '.join(
            [*options, opened, f'get /served/big.bin -o {down}/big.bin'])],
            prepare=clear_and_create(down), check=down_check))
        targets['lftp'] = 0.95
    return [Case(f'{kind} upload 1 file', 'MB/s', settings.size, uploads, targets),
            Case(f'{kind} download 1 file', 'MB/s', settings.size, downloads, targets)]


def far_end(lab: Lab, host: str, route: str, name: str) -> tuple[str, dict]:
    """The folder ``name`` a job of ``route`` ('local' or 'SFTP') writes to (under
    the lab, or under the server's folder) and the job's [target] options for it."""
    far = lab.path('remote', name) if route == 'SFTP' else lab.path(name)
    return far, {'path': far, **({'host_id': host} if route == 'SFTP' else {})}


def rsync(login, route: str, folder: str, far: str, **kwargs) -> Contender:
    """`rsync -r` copying the files of ``folder`` to ``far``: locally, or over ssh
    (aes128-gcm) to the server on the SFTP route."""
    remote = route == 'SFTP'
    argv = ['rsync', '-r', *(['-e', ' '.join(['ssh', *login.options(GCM)])] if remote
                             else []), folder + '/', (login.remote(far) if remote else far) + '/']
    return Contender('rsync' + (' -e ssh (aes128-gcm)' if remote else ''), argv, **kwargs)


def growth(lab: Lab, settings) -> list:
    """filetransfer, rsync (and cp -r locally) copying 4 KiB files, at each count of
    ``settings.growth``: local to local and local to SFTP (no added latency)."""
    login = lab.login()
    host = lab.sftp_host_id(login)
    cases = []
    for count in settings.growth:
        folder = lab.path(f'growth-{count}')
        make_small_files(folder, count)
        for route in ('local', 'SFTP'):
            far, target = far_end(lab, host, route, 'growth-target')
            prepare, check = clear(far), has_files(far, count)
            job = lab.job(f'growth-{route}-{count}', {'path': folder}, target)
            contenders = [lab.ours('filetransfer', job, prepare=prepare, check=check),
                          rsync(login, route, folder, far, prepare=prepare, check=check)]
            if route == 'local':
                contenders.append(Contender('cp -r', ['cp', '-r', folder, far],
                                            prepare=prepare, check=check))
            cases.append(Case(f'growth: {route}, {count} files of 4 KiB', 'files/s', count,
                              contenders, group='growth'))
    return cases


def nothing_to_do(fill, far: str, count: int) -> tuple:
    """The prepare and check steps of a run that finds nothing to do: the first
    prepare calls ``fill``, which leaves ``far`` holding the ``count`` files; the
    check fails when a run wrote any of them again."""
    unchanged = []

    def prepare():
        if not unchanged:
            fill()
            unchanged.append(kept(far, sorted(os.listdir(far)), count))

    def check():
        unchanged[0]()
    return prepare, check


def afresh(lab: Lab, job_id: str, far: str):
    """A step that removes the target ``far`` and empties the record of the files
    the job ``job_id`` has sent: its next run is a first run."""
    remove = clear(far)

    def prepare():
        remove()
        with open_sent_files(lab.ws.locks_dir, job_id, create=False) as sent:
            sent.drop_all()
    return prepare


def remember(lab: Lab, settings) -> list:
    """A job with ``[source] remember = yes`` run again over ``settings.files``
    files of 4 KiB it has all sent (it sends nothing), against its first run and
    rsync -r finding the target identical: local to local and local to SFTP."""
    login = lab.login()
    host = lab.sftp_host_id(login)
    count = settings.files
    folder = lab.path(f'growth-{count}')
    make_small_files(folder, count)
    source = {'path': folder, 'remember': 'yes'}
    cases = []
    for route in ('local', 'SFTP'):
        far, target = far_end(lab, host, route, f'remember-again-{route}')
        again = lab.ours('filetransfer, second run (remember = yes)',
                         lab.job(f'remember-again-{route}', source, target))
        again.prepare, again.check = nothing_to_do(lambda again=again: run_timed(again),
                                                   far, count)
        first_far, first_target = far_end(lab, host, route, f'remember-first-{route}')
        first_job = lab.job(f'remember-first-{route}', source, first_target)
        first = lab.ours('filetransfer, first run (remember = yes)', first_job,
                         prepare=afresh(lab, first_job, first_far),
                         check=has_files(first_far, count))
        rsync_far, _ = far_end(lab, host, route, f'remember-rsync-{route}')
        peer = rsync(login, route, folder, rsync_far)
        peer.prepare, peer.check = nothing_to_do(lambda rsync_far=rsync_far: shutil.copytree(
            folder, rsync_far, copy_function=shutil.copy2), rsync_far, count)
        cases.append(Case(
            f'remember: {route}, nothing new among {count} files of 4 KiB', 's', count,
            [again, first, peer], {peer.name: 0.67},
            notes=['The second run finds each file in its record of files sent, unchanged, '
                   'and sends none; the first run of the same job sends them all and '
                   f'records them. {peer.name} finds the target identical (the same sizes and '
                   'modification times) and copies nothing.']))
    return cases


def proftpd(lab: Lab, settings) -> list:
    """Tiny files downloaded from ProFTPD's mod_sftp, against OpenSSH's sftp client
    on the same server; sftp's password comes from SSH_ASKPASS (the server takes
    passwords only)."""
    login = lab.start_proftpd_sftp()
    if login is None:
        return []
    count = settings.tiny_files
    served = login.path('tiny')
    make_small_files(served, count, size=100)
    login.own(served)
    far = lab.path('proftpd-down')
    prepare, check = clear(far), has_files(far, count)
    job = lab.job('proftpd-down', {'host_id': 'proftpd-sftp', 'path': login.remote('tiny')},
                  {'path': far})
    askpass, batch = lab.path('proftpd-askpass'), lab.path('proftpd-batch')
    with open(askpass, 'w') as fh:
        fh.write(f'#!/bin/sh\necho {login.password}\n')
    os.chmod(askpass, 0o700)
    with open(batch, 'w') as fh:
        fh.write(f'get -r {login.remote("tiny")} {far}\n')
    sftp = Contender('sftp -b', ['sftp', '-q', '-o', f'Port={login.port}',
                                 '-o', f'UserKnownHostsFile={login.known_hosts}',
                                 '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=no',
                                 '-o', 'PreferredAuthentications=password', '-b', batch,
                                 f'{login.user}@{login.host}'],
                     prepare=prepare, check=check,
                     env={**os.environ, 'SSH_ASKPASS': askpass, 'SSH_ASKPASS_REQUIRE': 'force'})
    return [Case(f'ProFTPD mod_sftp download {count} files of 100 bytes', 'files/s', count,
                 [lab.ours('filetransfer', job, prepare=prepare, check=check), sftp],
                 {'sftp -b': 1 / 1.5},
                 notes=['Both log in with a password (ProFTPD delays each login by a '
                        'varying time: mod_delay).'])]
