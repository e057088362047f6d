"""The cases over a link with a round-trip time: SFTP through the delay proxy in
front of the test sshd (bench/delayproxy.py), at each round-trip time asked for."""

import os
import shutil
import subprocess

from cases import many_files, one_file
from lab import Lab, kept, make_random, make_small_files
from peers import GCM, Transfer, peers
from timing import Case

PARALLEL = 8


def latency(lab: Lab, settings) -> list:
    """One file and many small files, up and down, at each of ``settings.rtts``."""
    size, count = settings.latency_size, settings.latency_files
    big = lab.path(f'big-{size}')
    if not os.path.exists(os.path.join(big, 'big.bin')):
        make_random(os.path.join(big, 'big.bin'), size)
    small = lab.path(f'small-{count}')
    make_small_files(small, count)
    variants = {f'filetransfer, connections = {number}': {'connections': str(number)}
                for number in (1, PARALLEL)}
    cases = []
    for rtt in settings.rtts:
        login = lab.login(rtt)
        for case in [*one_file(lab, login, big, size, (GCM,), f'1 file of {size >> 20} MiB'),
                     *many_files(lab, login, small, count, f'{count} files of 4 KiB',
                                 variants, parallel=PARALLEL)]:
            case.title += f', RTT {rtt:g} ms'
            case.group = f'RTT {rtt:g} ms'
            cases.append(case)
    return cases


def overwrite_never_accepted(lab: Lab) -> bool:
    """Whether filetransfer's configuration accepts ``[target] overwrite = never``
    (`filetransfer check` of a job that sets it)."""
    lab.ws.write_job('probe-overwrite', target={'path': lab.path('probe'),
                                                'overwrite': 'never'})
    done = subprocess.run(lab.command('check', '-c', lab.ws.app_cfg, 'probe-overwrite'),
                          capture_output=True, text=True, timeout=120)
    return done.returncode == 0


def few_new(lab: Lab, settings) -> list:
    """A download from a server folder of ``settings.among`` files into a folder that
    holds all but the ``settings.new`` last of them already, at each of
    ``settings.few_new_rtts``."""
    total, new = settings.among, settings.new
    served = lab.path('remote', f'among-{total}')
    make_small_files(served, total)
    names = sorted(os.listdir(served))
    old = names[:-new]
    target = lab.path('few-new')
    os.makedirs(target, exist_ok=True)
    for name in old:                 # same size and time as on the server
        shutil.copy2(os.path.join(served, name), os.path.join(target, name))

    old_names = set(old)

    def prepare():
        for name in os.listdir(target):
            if name not in old_names:
                os.unlink(os.path.join(target, name))
    check = kept(target, old, total)
    skips = overwrite_never_accepted(lab)
    cases = []
    for rtt in settings.few_new_rtts:
        login = lab.login(rtt)
        host = lab.sftp_host_id(login)
        title = f'SFTP download of {new} new files among {total}, RTT {rtt:g} ms'
        if skips:
            job = lab.job(f'few-new-{rtt:g}', {'host_id': host, 'path': served},
                          {'path': target, 'overwrite': 'never'})
            ours = lab.ours('filetransfer, overwrite = never', job, prepare=prepare,
                            check=check)
            notes = []
        else:
            job = lab.job(f'few-new-{rtt:g}', {'host_id': host, 'path': served},
                          {'path': target})
            ours = lab.ours('filetransfer --dry-run (lists only)', job, '--dry-run')
            notes = ['filetransfer cannot leave existing files alone yet (its configuration '
                     'refuses `[target] overwrite = never`), so a run would copy all '
                     f'{total} files: timed instead is its `--dry-run`, which lists the '
                     'server folder and copies nothing. The peers list both sides and copy '
                     f'the {new} new files.']
        transfer = Transfer(target, served, False, None, prepare, check)
        cases.append(Case(title, 's', new, [ours, *peers(
            login, transfer, (GCM,), PARALLEL, tools=('rsync', 'lftp', 'rclone'))],
            notes=notes, group=f'RTT {rtt:g} ms'))
    return cases
