"""The cases on 127.0.0.1 without added latency: start-up, one big file (local,
SFTP, FTP, FTPS), many small files over SFTP, and how the cost grows with the number
of files. Each function returns the cases of one name of ``run.py --only``."""

import os
import sys

from lab import Lab, command_argv, clear, clear_and_create, has_file, has_files, make_small_files
from peers import GCM, Transfer, peers
from timing import Case, Contender, installed

CLICK = 'python -c "import click"'
BOTH_CIPHERS = (GCM, None)


def startup(lab: Lab, settings) -> list:
    lab.ws.write_job('notready', job={'ready_file': 'go.now'},
                     source={'path': lab.path('big')}, target={'path': lab.path('never')})
    click = Contender(CLICK, [sys.executable, '-c', 'import click'])
    version = Contender('filetransfer', command_argv('-V'), ours=True)
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
    """Uploads of many small files; lftp and rclone's hash check are left out (each
    would take minutes here), the latency cases have them."""
    folder = lab.path('small')
    make_small_files(folder, settings.files)
    variants = {'filetransfer, temp = dot': {'temp': 'dot'},
                **{f'filetransfer, connections = {number}': {'connections': str(number)}
                   for number in (4, 8)}}
    return many_files(lab, lab.login(), folder, settings.files,
                      f'{settings.files} files of 4 KiB', variants, ups=(True,),
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
            far = lab.path('remote', 'growth-target') if route == 'SFTP' else \
                lab.path('growth-target')
            prepare, check = clear(far), has_files(far, count)
            target = {'path': far, **({'host_id': host} if route == 'SFTP' else {})}
            job = lab.job(f'growth-{route}-{count}', {'path': folder}, target)
            destination = login.remote(far) if route == 'SFTP' else far
            rsync = ['rsync', '-r', *(['-e', ' '.join(['ssh', *login.options(GCM)])]
                                     if route == 'SFTP' else []), folder + '/',
                     destination + '/']
            contenders = [lab.ours('filetransfer', job, prepare=prepare, check=check),
                          Contender('rsync' + (' -e ssh (aes128-gcm)' if route == 'SFTP'
                                               else ''), rsync, prepare=prepare, check=check)]
            if route == 'local':
                contenders.append(Contender('cp -r', ['cp', '-r', folder, far],
                                            prepare=prepare, check=check))
            cases.append(Case(f'growth: {route}, {count} files of 4 KiB', 'files/s', count,
                              contenders, group='growth'))
    return cases
