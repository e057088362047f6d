"""The two jobs README.md shows work as shown: its files, written as they stand (the
SFTP host pointed at the suite's sshd), pass `filetransfer check` and move the files."""

import re
import shutil
import subprocess
from pathlib import Path

from helpers import command_argv

REPO = Path(__file__).resolve().parents[1]
README = (REPO / 'README.md').read_text(encoding='utf-8')


def section(title: str) -> str:
    return README.split(f'\n## {title}\n', 1)[1].split('\n## ', 1)[0]


def files_of(title: str) -> dict[str, str]:
    """The INI blocks of a README section, by the file name of their first line
    (`; jobs/reports.cfg`)."""
    blocks = re.findall(r'```ini\n; (\S+)[^\n]*\n(.*?)```\n', section(title), re.S)
    assert blocks, f'README.md: no INI file under "## {title}"'
    return dict(blocks)


def write_files(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / 'outbox').mkdir()


def run(root: Path, *args, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(command_argv(*args), cwd=root, input=stdin, capture_output=True,
                          text=True, timeout=120)


def shown(title: str, output: str) -> bool:
    """Whether every line of a command's output is in the README section's transcript."""
    return all(line in section(title).splitlines() for line in output.splitlines())


def test_the_local_job_of_the_readme(tmp_path):
    write_files(tmp_path, files_of('A local job'))
    (tmp_path / 'outbox' / 'sales.csv').write_text('day,total\nmon,12\n')
    (tmp_path / 'outbox' / 'stock.csv').write_text('item,stock\napple,40\n')

    check = run(tmp_path, 'check', '-c', 'filetransfer.cfg')
    assert check.returncode == 0 and shown('A local job', check.stdout), check.stdout
    done = run(tmp_path, '-v', '-c', 'filetransfer.cfg', 'reports')
    assert done.returncode == 0 and shown('A local job', done.stdout), done.stderr
    assert sorted(path.name for path in (tmp_path / 'archive').iterdir()) == \
        ['sales.csv', 'stock.csv']
    assert list((tmp_path / 'outbox').iterdir()) == []
    assert len(list((tmp_path / 'logs' / 'reports').iterdir())) == 1


def test_the_sftp_job_of_the_readme(tmp_path, live_sshd):
    files = files_of('An SFTP job')
    remote = tmp_path / 'server'
    remote.mkdir()
    files['hosts.cfg'] = files['hosts.cfg'] \
        .replace('host = sftp.example.com', f'host = {live_sshd.host}:{live_sshd.port}') \
        .replace('user = transfer', f'user = {live_sshd.user}')
    files['jobs/upload.cfg'] = files['jobs/upload.cfg'] \
        .replace('path = /incoming', f'path = {remote}/incoming')
    root = tmp_path / 'client'
    root.mkdir()
    write_files(root, files)
    (root / 'keys').mkdir()
    shutil.copy(live_sshd.client_keys['ed25519'], root / 'keys' / 'id_ed25519')
    (root / 'keys' / 'id_ed25519').chmod(0o600)

    hostkey = run(root, '-k', '-p', str(live_sshd.port), live_sshd.host, 'known_hosts',
                  stdin='yes\n')
    assert hostkey.returncode == 0, hostkey.stdout + hostkey.stderr
    assert 'added in new file "known_hosts"' in hostkey.stdout
    check = run(root, 'check', '-c', 'filetransfer.cfg', '--connect', 'upload')
    assert check.returncode == 0, check.stdout
    assert 'reachable, host key known' in check.stdout
    (root / 'outbox' / 'orders-1.csv').write_text('order,qty\n1,5\n')
    done = run(root, '-v', '-c', 'filetransfer.cfg', 'upload')
    assert done.returncode == 0 and shown('An SFTP job', done.stdout), done.stderr
    assert (remote / 'incoming' / 'orders-1.csv').read_text() == 'order,qty\n1,5\n'
    assert list((root / 'outbox').iterdir()) == []
