"""FASP jobs through the real `filetransfer` command: ascp is the ascp emulator
(faspmanager.testing), which moves the files over SSH to and from the real test sshd."""

import os

import pytest

from fasp_helpers import emulator
from helpers import make_files, tree, write_ini


@pytest.fixture(autouse=True)
def _frequent_stats(monkeypatch):
    monkeypatch.setenv('ASCP_EMULATOR_STATS_INTERVAL', '0.2')


def fasp_host(sshd, **options) -> dict:
    host = {'type': 'FASP', 'host': f'{sshd.host}:{sshd.port}', 'user': sshd.user,
            'key_file': sshd.client_keys['ed25519'], 'ascp_path': emulator(),
            'target_rate_kbps': '800000'}
    host.update(options)
    return {key: value for key, value in host.items() if value is not None}


@pytest.fixture
def remote(tmp_path):
    path = tmp_path / 'remote'
    path.mkdir()
    return str(path)


def hosts(ws, sshd, **options):
    write_ini(ws.hosts_cfg, {'fasp': fasp_host(sshd, **options)})


def test_upload_sends_the_chosen_files(ws, live_sshd, remote):
    files = {'a.csv': 'A' * 1000, 'sub/b.csv': os.urandom(300_000), 'c.txt': 'C',
             '.hidden.csv': 'H', 'READY': ''}
    make_files(ws.src, files)
    hosts(ws, live_sshd)
    ws.write_job(job={'ready_file': 'READY', 'collect_data': 'yes'},
                 source={'files': '*.csv', 'recursive': 'yes'},
                 target={'host_id': 'fasp', 'path': remote, 'temp': 'ext:.part'})
    done = ws.run('-v', 'job1')
    assert (done.returncode, done.stderr) == (0, ''), ws.log_text()
    assert tree(remote) == {'a.csv': files['a.csv'].encode(), 'sub/b.csv': files['sub/b.csv']}
    assert 'READY' not in tree(ws.src)
    print(ws.log_text())


def test_download_takes_what_the_patterns_choose(ws, live_sshd, remote):
    files = {'a.csv': 'A', 'b.txt': 'B', 'sub/c.csv': 'C', 'sub/.d.csv': 'D',
             '.git/e.csv': 'E', 'old/f.csv': 'F', 'READY': ''}
    make_files(remote, files)
    hosts(ws, live_sshd)
    ws.write_job(job={'ready_file': 'READY', 'collect_data': 'yes'},
                 source={'host_id': 'fasp', 'path': remote, 'files': '*.csv', 'ignore': '.*, old',
                         'recursive': 'yes', 'delete': 'yes'},
                 target={'path': ws.dst, 'temp': 'ext:.part'})
    done = ws.run('-v', 'job1')
    assert (done.returncode, done.stderr) == (0, ''), ws.log_text()
    got = {path: data for path, data in tree(ws.dst).items()}
    assert got == {'a.csv': b'A', 'sub/c.csv': b'C'}
    assert sorted(tree(remote)) == ['.git/e.csv', 'b.txt', 'old/f.csv', 'sub/.d.csv']
    print(ws.log_text())
