"""The file-handling options of jobs with a FASP side, through the real command and
the ascp emulator: `[source] min_age` / `max_age` (a FASP source is listed through
its remote commands, with their modification times, and ascp gets the files old
enough as a file-pair list) and `archive_dir` (each file ascp reports transferred is
moved into the archive on the source side: through ascmd or SFTP on the FASP host,
by a rename on this machine for an upload), never replacing a file of the archive;
`[target] verify = checksum` (ascp's SHA-256 of each file against this machine's),
`[source] remember` (also across a killed run) and `[target] overwrite` (judged by
the job from the listings, ascp told to replace what it gets).
Both remote-command kinds are used: the Aspera account (ascmd, ascp's docroot
space) and the plain test sshd (SFTP)."""

import hashlib
import json
import os
import secrets
import subprocess
import time

import pytest

from fasp_helpers import AscpWrapper, emulator, kill_job_with_its_ascp
from helpers import command_argv, make_files, tree, write_ini
from procs import make_sparse

DAY = 86400


@pytest.fixture(autouse=True)
def _frequent_stats(monkeypatch):
    monkeypatch.setenv('ASCP_EMULATOR_STATS_INTERVAL', '0.2')


def aspera_host(account, **options) -> dict:
    return {'type': 'FASP', 'host': f'{account.host}:{account.port}', 'user': account.user,
            'key_file': account.key_file, 'ascp_path': emulator(),
            'target_rate_kbps': '800000', **options}


def sftp_host(sshd, **options) -> dict:
    return {'type': 'FASP', 'host': f'{sshd.host}:{sshd.port}', 'user': sshd.user,
            'key_file': sshd.client_keys['ed25519'], 'ascp_path': emulator(),
            'target_rate_kbps': '800000', 'remote_commands': 'sftp', **options}


def age(path: str, seconds: float) -> None:
    """Gives a file a modification time ``seconds`` ago."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def json_run(ws, *args):
    done = ws.run('--json', *args, 'job1')
    assert 'Traceback' not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout)


def by_path(data, key) -> dict:
    """{path: the entry's ``key``} of the JSON result's files."""
    return {item['path']: item.get(key) for item in data['files']}


def pair_list_runs(wrapper) -> list[bool]:
    """For each ascp run: whether it got a file-pair list."""
    return [any(arg.startswith('--file-pair-list') for arg in run['argv'])
            for run in wrapper.runs]


@pytest.fixture
def place():
    return f'/ft-{secrets.token_hex(4)}'


# -- min_age and max_age ---------------------------------------------------------------

def test_download_takes_only_files_old_enough_through_ascmd(ws, aspera_account, place,
                                                            tmp_path):
    account = aspera_account
    for name, seconds in {'old.csv': 3 * DAY, 'ripe.csv': 3600, 'sub/ripe.csv': 3600,
                          'young.csv': 0}.items():
        age(account.put(f'{place}/{name}', name), seconds)
    wrapper = AscpWrapper(tmp_path)
    write_ini(ws.hosts_cfg, {'fasp': aspera_host(account, ascp_path=wrapper.path)})
    ws.write_job(source={'host_id': 'fasp', 'path': place, 'files': '*.csv',
                         'recursive': 'yes', 'min_age': '15m', 'max_age': '1d',
                         'delete': 'yes'},
                 target={'temp': 'ext:.part'})
    done = ws.run('--dry-run', 'job1')
    assert done.returncode == 0, done.stderr
    assert 'young.csv  (9 bytes): not yet stable: modified ' in done.stdout
    assert 'old.csv' not in done.stdout
    done = ws.run('--json', 'job1')
    assert done.returncode == 0, done.stderr + ws.log_text()
    data = json.loads(done.stdout)
    assert data['files_cnt'] == 2 and data['src_error_cnt'] == data['tgt_error_cnt'] == 0
    assert tree(ws.dst) == {'ripe.csv': b'ripe.csv', 'sub/ripe.csv': b'sub/ripe.csv'}
    assert tree(account.path(place)) == {'old.csv': b'old.csv', 'young.csv': b'young.csv'}
    assert ' INFO     leaving young.csv for a later run: not yet stable: modified ' \
        in ws.log_text()
    assert pair_list_runs(wrapper) == [True]
    # once it is old enough, the next run takes it
    age(account.path(f'{place}/young.csv'), 3600)
    done = ws.run('job1')
    assert done.returncode == 0, done.stderr
    assert tree(ws.dst)['young.csv'] == b'young.csv'
    assert tree(account.path(place)) == {'old.csv': b'old.csv'}


def test_download_by_age_through_sftp(ws, live_sshd, tmp_path):
    remote = str(tmp_path / 'remote')
    make_files(remote, {'a.csv': 'A', 'sub/b.csv': 'B', 'young.csv': 'Y'})
    for name in ('a.csv', 'sub/b.csv'):
        age(os.path.join(remote, name), 3600)
    wrapper = AscpWrapper(tmp_path)
    write_ini(ws.hosts_cfg, {'fasp': sftp_host(live_sshd, ascp_path=wrapper.path)})
    ws.write_job(source={'host_id': 'fasp', 'path': remote, 'files': '*.csv',
                         'recursive': 'yes', 'min_age': '1m'})
    done = ws.run('job1')
    assert done.returncode == 0, done.stderr + ws.log_text()
    assert tree(ws.dst) == {'a.csv': b'A', 'sub/b.csv': b'B'}
    assert 'leaving young.csv for a later run: not yet stable' in ws.log_text()
    assert pair_list_runs(wrapper) == [True]


def test_upload_takes_only_files_old_enough(ws, aspera_account, place):
    account = aspera_account
    make_files(ws.src, {'ripe.csv': 'R', 'young.csv': 'Y', 'old.csv': 'O'})
    age(os.path.join(ws.src, 'ripe.csv'), 3600)
    age(os.path.join(ws.src, 'old.csv'), 3 * DAY)
    write_ini(ws.hosts_cfg, {'fasp': aspera_host(account)})
    ws.write_job(source={'files': '*.csv', 'min_age': '15m', 'max_age': '1d'},
                 target={'host_id': 'fasp', 'path': place})
    done = ws.run('job1')
    assert done.returncode == 0, done.stderr
    assert tree(account.path(place)) == {'ripe.csv': b'R'}
    assert 'leaving young.csv for a later run: not yet stable' in ws.log_text()


# -- archive_dir ------------------------------------------------------------------------

def test_download_archives_through_ascmd_keeping_sub_paths_never_replacing(
        ws, aspera_account, place, tmp_path):
    account = aspera_account
    for name, data in {'a.csv': 'A', 'sub/b.csv': 'B', 'c.txt': 'C',
                       'done/sub/b.csv': 'archived before'}.items():
        account.put(f'{place}/{name}', data)
    wrapper = AscpWrapper(tmp_path)
    write_ini(ws.hosts_cfg, {'fasp': aspera_host(account, ascp_path=wrapper.path)})
    ws.write_job(source={'host_id': 'fasp', 'path': place, 'files': '*.csv',
                         'recursive': 'yes', 'archive_dir': 'done'})
    done = ws.run('--json', 'job1')
    assert done.returncode == 0, done.stderr + ws.log_text()
    assert json.loads(done.stdout)['files_cnt'] == 2
    assert tree(ws.dst) == {'a.csv': b'A', 'sub/b.csv': b'B'}   # the archive is not listed
    assert tree(account.path(place)) == {'c.txt': b'C', 'done/a.csv': b'A',
                                         'done/sub/b.csv': b'archived before',
                                         'done/sub/b.1.csv': b'B'}
    assert 'archived sub/b.csv as sub/b.1.csv: the archive has a file of that name' \
        in ws.log_text()
    assert not os.path.lexists(place)           # ascp's docroot space, not this machine's
    [run] = wrapper.runs
    assert not any(arg.startswith(('--remove-after', '--move-after')) for arg in run['argv'])


def test_download_archives_outside_the_source_through_sftp(ws, live_sshd, tmp_path):
    remote, archive = str(tmp_path / 'remote'), str(tmp_path / 'archive' / 'today')
    make_files(remote, {'a.csv': 'A', 'sub/b.csv': 'B'})
    write_ini(ws.hosts_cfg, {'fasp': sftp_host(live_sshd)})
    ws.write_job(source={'host_id': 'fasp', 'path': remote, 'recursive': 'yes',
                         'archive_dir': archive})
    done = ws.run('job1')
    assert done.returncode == 0, done.stderr + ws.log_text()
    assert tree(ws.dst) == tree(archive) == {'a.csv': b'A', 'sub/b.csv': b'B'}
    assert tree(remote) == {}


def test_a_file_ascp_fails_is_not_archived(ws, live_sshd, tmp_path):
    remote = str(tmp_path / 'remote')
    make_files(remote, {'a.csv': 'A', 'b.csv': 'B'})
    os.makedirs(os.path.join(ws.dst, 'b.csv'))     # the target cannot take b.csv
    write_ini(ws.hosts_cfg, {'fasp': sftp_host(live_sshd)})
    ws.write_job(source={'host_id': 'fasp', 'path': remote, 'archive_dir': 'done'})
    done = ws.run('--json', 'job1')
    data = json.loads(done.stdout)
    assert done.returncode == 1 and data['files_cnt'] == 1 and data['tgt_error_cnt'] == 1
    assert tree(remote) == {'b.csv': b'B', 'done/a.csv': b'A'}


def test_upload_archives_the_local_source(ws, aspera_account, place, tmp_path):
    account = aspera_account
    make_files(ws.src, {'a.csv': 'A', 'sub/b.csv': 'B', 'done/a.csv': 'archived before'})
    write_ini(ws.hosts_cfg, {'fasp': aspera_host(account)})
    ws.write_job(source={'files': '*.csv', 'recursive': 'yes', 'archive_dir': 'done'},
                 target={'host_id': 'fasp', 'path': place})
    done = ws.run('job1')
    assert done.returncode == 0, done.stderr + ws.log_text()
    assert tree(account.path(place)) == {'a.csv': b'A', 'sub/b.csv': b'B'}
    assert tree(ws.src) == {'done/a.csv': b'archived before', 'done/a.1.csv': b'A',
                            'done/sub/b.csv': b'B'}


# -- verify = checksum -------------------------------------------------------------------

def test_upload_verifies_each_file_by_ascps_checksum(ws, aspera_account, place, tmp_path,
                                                      monkeypatch):
    account = aspera_account
    monkeypatch.setenv('ASCP_EMULATOR_CORRUPT', 'bad.csv')     # damaged on its way
    files = {'good.csv': os.urandom(3000), 'sub/also.csv': b'A', 'bad.csv': b'BAD'}
    make_files(ws.src, files)
    wrapper = AscpWrapper(tmp_path)
    write_ini(ws.hosts_cfg, {'fasp': aspera_host(account, ascp_path=wrapper.path)})
    ws.write_job(source={'files': '*.csv', 'recursive': 'yes', 'delete': 'yes',
                         'remember': 'yes'},
                 target={'host_id': 'fasp', 'path': place, 'verify': 'checksum'})
    code, data = json_run(ws)
    assert (code, data['files_cnt'], data['tgt_error_cnt']) == (1, 2, 1), ws.log_text()
    assert by_path(data, 'sha256') == {'good.csv': sha256(files['good.csv']),
                                       'sub/also.csv': sha256(b'A'), 'bad.csv': None}
    error = by_path(data, 'error')['bad.csv']
    damaged = bytes([ord('B') ^ 0xFF]) + b'AD'          # as the host stored it
    assert error == (f'checksum mismatch: ascp reported SHA-256 {sha256(damaged)}, '
                     f'the source file has {sha256(b"BAD")}')
    assert tree(ws.src) == {'bad.csv': b'BAD'}          # kept; the verified ones deleted
    assert not os.path.exists(account.path(f'{place}/bad.csv'))    # no damaged copy left
    assert 'removed bad.csv from the target: it could not be verified' in ws.log_text()
    assert 'transferred good.csv (3000 bytes in ' in ws.log_text()
    assert f', sha256 {sha256(files["good.csv"])})' in ws.log_text()
    [run] = wrapper.runs
    assert '--file-checksum=sha-256' in run['argv']
    assert '--remove-after-transfer' not in run['argv']     # the job deletes, once verified
    monkeypatch.delenv('ASCP_EMULATOR_CORRUPT')
    code, data = json_run(ws)                  # not remembered: it did not arrive as sent
    assert (code, by_path(data, 'sha256')) == (0, {'bad.csv': sha256(b'BAD')})
    assert tree(account.path(place))['bad.csv'] == b'BAD' and tree(ws.src) == {}


@pytest.mark.parametrize('disposal, kept', [({'archive_dir': 'done'}, {'done/a.csv': b'A'}),
                                             ({'delete': 'yes'}, {})])
def test_download_verifies_and_removes_a_damaged_file(ws, live_sshd, tmp_path, monkeypatch,
                                                       disposal, kept):
    remote = str(tmp_path / 'remote')
    make_files(remote, {'a.csv': 'A', 'bad.csv': 'BAD'})
    monkeypatch.setenv('ASCP_EMULATOR_CORRUPT', 'bad.csv')
    write_ini(ws.hosts_cfg, {'fasp': sftp_host(live_sshd)})
    ws.write_job(source={'host_id': 'fasp', 'path': remote, **disposal},
                 target={'verify': 'checksum', 'temp': 'ext:.part'})
    code, data = json_run(ws)
    assert (code, data['files_cnt'], data['tgt_error_cnt']) == (1, 1, 1), ws.log_text()
    assert by_path(data, 'sha256')['a.csv'] == sha256(b'A')
    assert by_path(data, 'error')['bad.csv'].startswith(
        f'checksum mismatch: ascp reported SHA-256 {sha256(b"BAD")}, the file received has ')
    assert tree(ws.dst) == {'a.csv': b'A'}               # the damaged copy is removed
    assert tree(remote) == {'bad.csv': b'BAD', **kept}


@pytest.mark.parametrize('change, error', [
    ("sys.argv = [a.replace('=sha-256', '=md5') for a in sys.argv]",
     'ascp reported a checksum of type md5, not the sha-256 asked for: it cannot be '
     'verified'),
    ("sys.argv = [a for a in sys.argv if not a.startswith('--file-checksum')]",
     'ascp reported no checksum for it (sha-256 was asked for)'),
])
def test_a_checksum_ascp_does_not_give_as_asked_is_a_file_error(ws, live_sshd, tmp_path,
                                                                change, error):
    remote = str(tmp_path / 'remote')
    make_files(remote, {'a.csv': 'A'})
    wrapper = AscpWrapper(tmp_path, body=change)
    write_ini(ws.hosts_cfg, {'fasp': sftp_host(live_sshd, ascp_path=wrapper.path)})
    ws.write_job(source={'host_id': 'fasp', 'path': remote, 'delete': 'yes'},
                 target={'verify': 'checksum'})
    code, data = json_run(ws)
    assert (code, data['tgt_error_cnt'], by_path(data, 'error')) == (1, 1, {'a.csv': error})
    assert tree(ws.dst) == {} and tree(remote) == {'a.csv': b'A'}


# -- remember ----------------------------------------------------------------------------

PAIR_LIST_COPY = '''
for arg in sys.argv:
    if arg.startswith('--file-pair-list='):
        with open(arg.split('=', 1)[1]) as src, open({copy!r}, 'a') as dst:
            dst.write(src.read() + '--\\n')
'''


def pair_lists(path) -> list[list[str]]:
    """The file-pair lists the ascp runs got (copied by PAIR_LIST_COPY)."""
    with open(path) as fh:
        return [chunk.splitlines() for chunk in fh.read().split('--\n')[:-1]]


def test_download_remembers_what_it_sent_through_ascmd(ws, aspera_account, place, tmp_path):
    account = aspera_account
    account.put(f'{place}/a.csv', 'A')
    account.put(f'{place}/sub/b.csv', 'B')
    copy = str(tmp_path / 'pair-lists')
    wrapper = AscpWrapper(tmp_path, body=PAIR_LIST_COPY.format(copy=copy))
    write_ini(ws.hosts_cfg, {'fasp': aspera_host(account, ascp_path=wrapper.path)})
    ws.write_job(source={'host_id': 'fasp', 'path': place, 'files': '*.csv',
                         'recursive': 'yes', 'remember': 'yes'})
    code, data = json_run(ws)
    assert (code, data['files_cnt']) == (0, 2), ws.log_text()
    os.remove(os.path.join(ws.dst, 'a.csv'))                 # the consumer took it
    done = ws.run('--dry-run', 'job1')
    assert 'would transfer no file' in done.stdout
    assert '  a.csv  (1 bytes): sent before, unchanged (remember)' in done.stdout
    code, data = json_run(ws)
    assert (code, data['files_cnt'], data['files']) == (0, 0, [])
    assert len(wrapper.runs) == 1                              # no ascp for nothing
    account.put(f'{place}/a.csv', 'AA')                        # changed: sent again
    code, data = json_run(ws)
    assert (code, by_path(data, 'tag')) == (0, {'a.csv': '='})
    assert tree(ws.dst) == {'a.csv': b'AA', 'sub/b.csv': b'B'}
    assert pair_lists(copy) == [[f'{place}/a.csv', 'a.csv', f'{place}/sub/b.csv', 'sub/b.csv'],
                                [f'{place}/a.csv', 'a.csv']]


def test_a_killed_upload_with_remember_then_a_complete_one_send_each_file_once(
        ws, aspera_account, place, tmp_path):
    account = aspera_account
    account.configure(partial_file_suffix='.partial')
    make_files(ws.src, {'a.csv': 'A', 'b.csv': 'B'})
    make_sparse(os.path.join(ws.src, 'c.csv'), 32 << 20)
    copy = str(tmp_path / 'pair-lists')
    wrapper = AscpWrapper(tmp_path, body=PAIR_LIST_COPY.format(copy=copy))
    write_ini(ws.hosts_cfg, {'fasp': aspera_host(account, ascp_path=wrapper.path,
                                                 target_rate_kbps='4000')})
    ws.write_job(source={'files': '*.csv', 'remember': 'yes'},
                 target={'host_id': 'fasp', 'path': place, 'temp': 'ext:.partial'})
    partial = account.path(f'{place}/c.csv.partial')
    proc = ws.popen('job1', stderr=subprocess.PIPE, text=True)
    kill_job_with_its_ascp(proc, wrapper, partial, ws.locks_dir)
    assert sorted(tree(account.path(place))) == ['a.csv', 'b.csv', 'c.csv.partial']
    write_ini(ws.hosts_cfg, {'fasp': aspera_host(account, ascp_path=wrapper.path)})
    code, data = json_run(ws)
    assert (code, by_path(data, 'tag')) == (0, {'c.csv': '='}), ws.log_text()
    assert sorted(tree(account.path(place))) == ['a.csv', 'b.csv', 'c.csv']
    code, data = json_run(ws)
    assert (code, data['files_cnt'], data['files']) == (0, 0, [])
    first, second = pair_lists(copy)
    assert first[::2] == [os.path.join(ws.src, name) for name in ('a.csv', 'b.csv', 'c.csv')]
    assert second[::2] == [os.path.join(ws.src, 'c.csv')]



def test_a_killed_download_with_remember_then_a_complete_one_fetch_each_file_once(
        ws, aspera_account, place, tmp_path):
    account = aspera_account
    account.put(f'{place}/a.csv', 'A')
    account.put(f'{place}/b.csv', 'B')
    make_sparse(account.path(f'{place}/c.csv'), 32 << 20)
    copy = str(tmp_path / 'pair-lists')
    wrapper = AscpWrapper(tmp_path, body=PAIR_LIST_COPY.format(copy=copy))
    write_ini(ws.hosts_cfg, {'fasp': aspera_host(account, ascp_path=wrapper.path,
                                                 target_rate_kbps='4000')})
    ws.write_job(source={'host_id': 'fasp', 'path': place, 'files': '*.csv',
                         'remember': 'yes', 'delete': 'yes'},
                 target={'temp': 'ext:.part'})
    proc = ws.popen('job1', stderr=subprocess.PIPE, text=True)
    kill_job_with_its_ascp(proc, wrapper, os.path.join(ws.dst, 'c.csv.part'),
                           ws.locks_dir)
    assert sorted(tree(ws.dst)) == ['a.csv', 'b.csv', 'c.csv.part']
    write_ini(ws.hosts_cfg, {'fasp': aspera_host(account, ascp_path=wrapper.path)})
    code, data = json_run(ws)
    # a file that arrived but was not booked before the kill is recorded as sent now:
    # skipped, its source deleted
    transferred = [path for path, tag in by_path(data, 'tag').items() if tag == '=']
    assert (code, transferred) == (0, ['c.csv']), ws.log_text()
    assert sorted(tree(ws.dst)) == ['a.csv', 'b.csv', 'c.csv']
    assert tree(account.path(place)) == {}
    first, second = pair_lists(copy)
    assert first[1::2] == ['a.csv', 'b.csv', 'c.csv'] and second[1::2] == ['c.csv']


# -- overwrite -------------------------------------------------------------------------

def test_upload_overwrite_never_is_judged_by_the_job_before_the_hosts_overwrite(
        ws, aspera_account, place, tmp_path):
    account = aspera_account
    account.put(f'{place}/a.csv', 'old')
    make_files(ws.src, {'a.csv': 'newer', 'b.csv': 'B'})
    wrapper = AscpWrapper(tmp_path)
    write_ini(ws.hosts_cfg, {'fasp': aspera_host(account, ascp_path=wrapper.path,
                                                 overwrite='diff')})
    ws.write_job(source={'files': '*.csv', 'delete': 'yes'},
                 target={'host_id': 'fasp', 'path': place, 'overwrite': 'never'})
    done = ws.run('--dry-run', 'job1')
    assert '  a.csv  (5 bytes): the target has it (overwrite = never); its source would be ' \
        "deleted if the target's copy is identical" in done.stdout
    code, data = json_run(ws)
    assert (code, data['files_cnt'], data['skipped_cnt']) == (0, 1, 1), ws.log_text()
    assert by_path(data, 'tag') == {'a.csv': '-', 'b.csv': '='}
    assert tree(account.path(place)) == {'a.csv': b'old', 'b.csv': b'B'}
    assert tree(ws.src) == {'a.csv': b'newer'}    # not identical there: kept
    [run] = wrapper.runs
    assert '--overwrite=always' in run['argv'] and '--overwrite=diff' not in run['argv']


def test_download_overwrite_different_by_size_and_mtime(ws, live_sshd, tmp_path):
    remote = str(tmp_path / 'remote')
    make_files(remote, {'a.csv': 'A', 'b.csv': 'B'})
    for name in ('a.csv', 'b.csv'):
        age(os.path.join(remote, name), 3600)
    wrapper = AscpWrapper(tmp_path)
    write_ini(ws.hosts_cfg, {'fasp': sftp_host(live_sshd, ascp_path=wrapper.path)})
    ws.write_job(source={'host_id': 'fasp', 'path': remote},
                 target={'overwrite': 'different'})
    code, data = json_run(ws)
    assert (code, data['files_cnt']) == (0, 2), ws.log_text()
    assert '--preserve-modification-time' in wrapper.runs[0]['argv']
    make_files(remote, {'b.csv': 'C'})             # same size, another mtime
    code, data = json_run(ws)
    assert (code, by_path(data, 'tag')) == (0, {'a.csv': '-', 'b.csv': '='}), ws.log_text()
    assert by_path(data, 'skipped')['a.csv'] == \
        'the target has it with the same size and modification time (overwrite = different)'
    assert tree(ws.dst) == {'a.csv': b'A', 'b.csv': b'C'}


def test_upload_overwrite_older_keeps_a_newer_copy(ws, live_sshd, tmp_path):
    remote = str(tmp_path / 'remote')
    make_files(remote, {'new.csv': 'target', 'old.csv': 'target'})
    make_files(ws.src, {'new.csv': 'source', 'old.csv': 'source'})
    age(os.path.join(ws.src, 'new.csv'), 3600)
    age(os.path.join(remote, 'old.csv'), 3600)
    write_ini(ws.hosts_cfg, {'fasp': sftp_host(live_sshd)})
    ws.write_job(target={'host_id': 'fasp', 'path': remote, 'overwrite': 'older'})
    code, data = json_run(ws)
    assert (code, by_path(data, 'tag')) == (0, {'new.csv': '-', 'old.csv': '='}), ws.log_text()
    assert tree(remote) == {'new.csv': b'target', 'old.csv': b'source'}


def test_with_checksums_a_skipped_files_source_is_kept_and_the_record_has_the_sha256(
        ws, live_sshd, tmp_path):
    remote = str(tmp_path / 'remote')
    make_files(remote, {'a.csv': 'A'})
    make_files(ws.src, {'a.csv': 'A', 'b.csv': 'B'})
    write_ini(ws.hosts_cfg, {'fasp': sftp_host(live_sshd)})
    ws.write_job(source={'delete': 'yes', 'remember': 'yes'},
                 target={'host_id': 'fasp', 'path': remote, 'overwrite': 'never',
                         'verify': 'checksum'})
    done = ws.run('--dry-run', 'job1')
    assert '  a.csv  (1 bytes): the target has it (overwrite = never)\n' in done.stdout
    code, data = json_run(ws)
    assert (code, data['files_cnt'], data['skipped_cnt']) == (0, 1, 1), ws.log_text()
    assert by_path(data, 'skipped')['a.csv'] == (
        'the target has it (overwrite = never); the source is kept (verify = checksum: '
        'the FASP side is not read)')
    assert tree(ws.src) == {'a.csv': b'A'} and tree(remote) == {'a.csv': b'A', 'b.csv': b'B'}
    done = subprocess.run(command_argv('state', '-c', ws.app_cfg, 'job1', '--json'),
                          capture_output=True, text=True, timeout=120, cwd=ws.root)
    assert by_path(json.loads(done.stdout), 'sha256') == {'b.csv': sha256(b'B')}
