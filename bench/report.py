"""The bench's results as Markdown: a summary, the growth with the number of files,
the project's targets, a table per case, the proxy's figures and the machine.

Ratios are "filetransfer ÷ tool": the tool's median time divided by filetransfer's,
the same as filetransfer's speed divided by the tool's. Above 1, filetransfer is the
faster.
"""

import datetime
import os
import tempfile

import machine
from timing import Case, Contender

CONVENTION = ('Ratios read "filetransfer ÷ tool": the tool\'s median time divided by '
              'filetransfer\'s (the same as filetransfer\'s speed divided by the tool\'s); '
              'above 1, filetransfer is the faster.')


def ratio(ours: Contender, other: Contender) -> float:
    return other.median / ours.median


def rate(case: Case, contender: Contender) -> str:
    if case.unit == 'MB/s':
        return f'{case.amount / contender.median / 1e6:.0f} MB/s'
    if case.unit == 'files/s':
        return f'{case.amount / contender.median:.0f} files/s'
    return ''


def ours_of(case: Case) -> list:
    return [item for item in case.contenders if item.ours]


def best_peer(case: Case, sftp_only: bool = False) -> Contender | None:
    """The fastest tool other than filetransfer; with ``sftp_only``, of those that
    speak SFTP (not rsync, which has a protocol of its own)."""
    others = [item for item in case.contenders if not item.ours and
              not (sftp_only and item.name.startswith('rsync'))]
    return min(others, key=lambda item: item.median) if others else None


def _rss(contender: Contender) -> str:
    known = [value for value in contender.rss_kib if value is not None]
    return f'{max(known) / 1024:.0f} MiB' if known else '?'


def case_table(case: Case) -> str:
    ours = next(iter(ours_of(case)), None)
    lines = [f'### {case.title}', '',
             '| tool | median | min–max | runs | rate | filetransfer ÷ tool | peak RSS |',
             '|---|---|---|---|---|---|---|']
    for item in case.contenders:
        shown = '—' if item is ours or ours is None else f'{ratio(ours, item):.2f}'
        lines.append(f'| {item.name} | {item.median:.3f} s | {min(item.seconds):.3f}–'
                     f'{max(item.seconds):.3f} | {len(item.seconds)} | {rate(case, item)} | '
                     f'{shown} | {_rss(item)} |')
    best = best_peer(case)
    if best and ours_of(case):
        told = '; '.join(f'{item.name} ÷ best: {ratio(item, best):.2f}'
                         for item in ours_of(case))
        lines += ['', f'Best peer: {best.name}; {told}.']
    if not ours_of(case):
        lines += ['', 'filetransfer failed: no ratio.']
    if case.load is not None:
        lines += ['', f'Load average (1 minute) when the case ended: {case.load:.1f}.']
    if case.notes:
        lines += ['', *(f'Note: {note}' for note in case.notes)]
    return '\n'.join(lines)


def summary(cases: list) -> str:
    lines = ['| case | filetransfer | best peer | filetransfer ÷ best peer | '
             'best filetransfer setting ÷ best peer | filetransfer ÷ best SFTP peer | load |',
             '|---|---|---|---|---|---|---|']
    for case in cases:
        mine, best = ours_of(case), best_peer(case)
        if not mine or not best:
            continue
        fastest = min(mine, key=lambda item: item.median)
        setting = '' if fastest is mine[0] else \
            f'{ratio(fastest, best):.2f} ({fastest.name.removeprefix("filetransfer, ")})'
        sftp = best_peer(case, sftp_only=True) if case.title.startswith('SFTP') else None
        against_sftp = f'{ratio(mine[0], sftp):.2f} ({sftp.name})' if sftp else ''
        lines.append(f'| {case.title} | {mine[0].median:.2f} s | {best.name}, '
                     f'{best.median:.2f} s | {ratio(mine[0], best):.2f} | {setting} | '
                     f'{against_sftp} | {case.load:.1f} |')
    return '\n'.join(lines)


def growth(cases: list) -> str:
    """Milliseconds per file at each count, and the cost of each further file between
    two counts: about equal steps mean a linear cost."""
    rows = {}
    for case in cases:
        if case.group != 'growth':
            continue
        route = case.title.split(':')[1].split(',')[0].strip()
        for item in case.contenders:
            rows.setdefault((route, item.name), []).append((case.amount, item.median))
    if not rows:
        return ''
    counts = sorted({count for points in rows.values() for count, _ in points})
    steps = list(zip(counts, counts[1:]))
    lines = ['| route | tool | ' + ' | '.join(f'ms per file at {count}' for count in counts) +
             ' | ' + ' | '.join(f'ms per further file, {low}→{high}' for low, high in steps) +
             ' |', '|---|---|' + '---|' * (len(counts) + len(steps))]
    for (route, name), points in rows.items():
        seconds = dict(points)
        per_file = [f'{1000 * seconds[count] / count:.3f}' if count in seconds else ''
                    for count in counts]
        further = [f'{1000 * (seconds[high] - seconds[low]) / (high - low):.3f}'
                   if low in seconds and high in seconds else '' for low, high in steps]
        lines.append(f'| {route} | {name} | ' + ' | '.join(per_file + further) + ' |')
    return '\n'.join(lines)


def round_trips(cases: list) -> str:
    """The round trips each tool waits for, estimated from the cases through the
    delay proxy: its extra time at the largest round-trip time over its time at the
    smallest, divided by the difference of the two; per file where many files move."""
    series = {}          # (case without its RTT, unit, amount) -> tool -> {rtt: median}
    for case in cases:
        if not case.group.startswith('RTT '):
            continue
        rtt = float(case.group.split()[1]) / 1000
        base = (case.title.rsplit(', RTT', 1)[0], case.unit, case.amount)
        for item in case.contenders:
            series.setdefault(base, {}).setdefault(item.name, {})[rtt] = item.median
    lines = []
    for (title, unit, amount), tools in series.items():
        for name, medians in tools.items():
            if len(medians) < 2:
                continue
            low, high = min(medians), max(medians)
            count = (high - low) * (amount if unit == 'files/s' else 1)
            estimate = (medians[high] - medians[low]) / count
            lines.append(f'| {title} | {name} | {medians[low]:.2f} s | {medians[high]:.2f} s '
                         f'| {estimate:.1f} {"per file" if unit == "files/s" else "in all"} |')
    if not lines:
        return ''
    return '\n'.join(['| case | tool | time at the least RTT | time at the largest | '
                      'round trips |', '|---|---|---|---|---|', *lines])


def targets(cases: list) -> str:
    lines = ['| target | measured | goal | met |', '|---|---|---|---|']
    for case in cases:
        # the targets are those of the default settings (gone when they failed)
        ours = case.contenders[0] if case.contenders else None
        if ours is None or not ours.ours:
            continue
        for name, goal in case.targets.items():
            other = next((item for item in case.contenders if item.name == name), None)
            if other is None:
                continue
            value = ratio(ours, other)
            lines.append(f'| {case.title} | {value:.2f} × {name} | ≥ {goal:.2f} × | '
                         f'{"yes" if value >= goal else "NO"} |')
    peaks = [(max(value for value in ours.rss_kib if value), case.title)
             for case in cases for ours in ours_of(case) if any(ours.rss_kib)]
    if peaks:
        peak, title = max(peaks)
        lines.append(f'| peak RSS of filetransfer, any case (the largest: {title}) | '
                     f'{peak / 1024:.0f} MiB | ≤ 64 MiB | {"yes" if peak <= 64 << 10 else "NO"} |')
    return '\n'.join(lines)


def document(started: datetime.datetime, settings, proxy: str, cases: list,
             skipped: list, minutes: float, loads: tuple) -> str:
    """The whole of RESULTS.md; ``loads``: the load average at the start and end."""
    lines = ['# Benchmark results', '',
             f'Written by `bench/run.py` (`make bench`) on {started:%Y-%m-%d %H:%M} in '
             f'{minutes:.0f} min; command line: `{settings.command}`. Each case runs its '
             f'tools alternately, up to {settings.runs} times each (a tool whose runs took '
             f'{settings.budget:g} s in all runs no more); the tables show the median, '
             'min–max and number of runs. Whole processes are timed (start, connection and '
             'login included). MB = 10^6 bytes. Servers on 127.0.0.1: OpenSSH sshd (its '
             'sftp-server), pyftpdlib (FTP, FTPS). ' + CONVENTION + ' Peak RSS is that of '
             'the largest single process of the tool (GNU time, in a process of its own). '
             'Only ratios measured in one run count. Each run starts after a `sync`, its '
             'target emptied; a folder of many files is moved aside, not deleted, until the '
             'bench ends (files deleted in their thousands slow the next files created on '
             'the same disk, whichever tool creates them).', '',
             f'Other work on the machine slows the tools unevenly: the load average (1 '
             f'minute) was {loads[0]:.1f} at the start and {loads[1]:.1f} at the end, on '
             f'{os.cpu_count()} CPUs; each case gives its own (column "load"); a wide '
             'min–max tells of a busy machine.', '',
             'Ciphers: filetransfer\'s ssh child prefers aes128-gcm. Every OpenSSH-based peer '
             '(sftp, scp, rsync, lftp) runs on aes128-gcm; in "SFTP upload/download 1 file" '
             'and "SFTP upload N files" (127.0.0.1, no proxy) each runs on OpenSSH\'s default, '
             'chacha20-poly1305, too. rclone negotiates aes128-gcm by itself. OpenSSH 9\'s '
             'scp speaks SFTP; rsync has a protocol of its own (hence the column "best SFTP '
             'peer").', '',
             '## Machine', '']
    lines += [f'- {name}: {value}' for name, value in machine.details()]
    lines.append(f'- filetransfer timed: `{os.path.dirname(settings.python)}/filetransfer`'
                 ' (make bench: an ordinary `pip install .`, as README\'s Install does)')
    lines.append(f'- the lab (data, servers\' folders, targets): a new directory in '
                 f'{tempfile.gettempdir()} (`TMPDIR`)')
    if proxy:
        lines += ['', '## The delay proxy', '',
                  'The latency cases go through `bench/delayproxy.py`, which delays each '
                  'direction by half the round-trip time (the upstream connection opens one '
                  'round trip late, as a TCP handshake). Measured by `bench/proxycheck.py`: '
                  'a 64-byte echo (after one message that opens the connection) and a '
                  'one-way stream. The proxy is one Python thread: its throughput at 0 ms is '
                  'its ceiling.', '', proxy]
    lines += ['', '## Summary', '', summary(cases)]
    grown = growth(cases)
    if grown:
        lines += ['', '## Growth with the number of files', '', grown]
    waits = round_trips(cases)
    if waits:
        lines += ['', '## Round trips waited for', '', 'Estimated from the latency cases: '
                  '(time at the largest round-trip time − time at the least) ÷ the '
                  'difference of the two.', '', waits]
    lines += ['', '## Targets', '', targets(cases), '', '## Cases', '']
    for case in cases:
        lines += [case_table(case), '']
    if skipped:
        lines += ['Skipped: ' + '; '.join(skipped), '']
    return '\n'.join(lines)
