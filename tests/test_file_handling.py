"""What production jobs ask of file handling, between local directories, through the
real command: `[source] min_age`, `max_age`, `archive_dir`, `remember` and
`[target] overwrite`, `verify` (their behaviour, their interaction with temp,
resume, retries, connections and SIGTERM, the dry run, the `state` command, the
daemon's acceptance, and the configuration errors). The same options against every
server of the suite: test_file_handling_servers.py; SIGKILL at every point of a
remembered or archived file: test_file_handling_kills.py."""

import hashlib
import json
import os
import signal
import subprocess
import threading
import time

import pytest

import filetransfer
from filetransfer import FileTags, TransferError
from filetransfer.endpoints.local import LocalEndpoint
from filetransfer.notify import template
from filetransfer.run import job as job_module
from helpers import command_argv, make_files, tree, write_ini
from procs import make_dense, make_sparse, wait_for

HOUR = 3600


def aged(root, ages: dict) -> None:
    """Gives the files {relative path: seconds} modification times that long ago."""
    now = time.time()
    for relpath, seconds in ages.items():
        os.utime(os.path.join(str(root), relpath), (now - seconds, now - seconds))


def json_run(ws, *args, job='job1'):
    done = ws.run('--json', *args, job)
    assert 'Traceback' not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout)


def subcommand(ws, name, *args) -> subprocess.CompletedProcess:
    """`filetransfer NAME -c APP_CFG ARGS` (check, state)."""
    return subprocess.run(command_argv(name, '-c', ws.app_cfg, *args), capture_output=True,
                          text=True, timeout=120, cwd=ws.root)


def state(ws, *args) -> subprocess.CompletedProcess:
    return subcommand(ws, 'state', *args)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def by_path(data) -> dict:
    """The files of the JSON result by path."""
    return {item['path']: item for item in data['files']}


def tags(data) -> list:
    """(tag, path) of each file of the JSON result, by path: the order files are
    booked in is not part of the result (skips come first, files in flight end in
    any order)."""
    return sorted(((item['tag'], item['path']) for item in data['files']),
                  key=lambda tagged: tagged[1])


# -- min_age and max_age -------------------------------------------------------------

def test_min_age_leaves_young_files_for_later_and_max_age_leaves_old_ones_out(ws):
    make_files(ws.src, {'old.txt': 'O', 'young.txt': 'Y', 'ancient.txt': 'A'})
    aged(ws.src, {'old.txt': 2 * HOUR, 'young.txt': 10, 'ancient.txt': 3 * 24 * HOUR})
    ws.write_job(source={'min_age': '15m', 'max_age': '1d'})
    done = ws.run('--dry-run', 'job1')
    assert done.returncode == 0
    assert 'would transfer 1 file(s), 1 B:\n  old.txt  (1 bytes)\nwould skip 1 file(s):\n' \
           '  young.txt  (1 bytes): not yet stable: modified ' in done.stdout
    assert 'ancient' not in done.stdout
    code, data = json_run(ws, '--dry-run')
    assert [(item['path'], item['reason']) for item in data['skipped']] == \
        [('young.txt', 'too_young')]
    code, data = json_run(ws)
    assert code == 0 and data['status'] == 'success'
    assert (data['files_cnt'], data['skipped_cnt'], data['src_error_cnt']) == (1, 0, 0)
    assert tree(ws.dst) == {'old.txt': b'O'}
    log = ws.log_text()
    assert ' INFO     leaving young.txt for a later run: not yet stable: modified ' in log
    assert 'less than min_age (15m)' in log
    assert 'ancient.txt' not in log      # left out quietly (DEBUG)
    aged(ws.src, {'young.txt': HOUR})
    code, data = json_run(ws)
    assert tags(data) == [('=', 'old.txt'), ('=', 'young.txt')]   # no delete: sent again


def test_a_file_being_appended_to_is_not_sent_while_younger_than_min_age(ws):
    path = os.path.join(ws.src, 'growing.log')
    make_files(ws.src, {'done.txt': 'D'})
    aged(ws.src, {'done.txt': HOUR})
    ws.write_job(source={'min_age': '2s', 'delete': 'yes'})
    stop = threading.Event()
    written = []

    def append():
        with open(path, 'ab', buffering=0) as fh:
            while not stop.is_set():
                line = f'line {len(written)}\n'.encode()
                fh.write(line)
                written.append(line)
                stop.wait(0.05)

    writer = threading.Thread(target=append)
    writer.start()
    try:
        wait_for(lambda: written)
        for _ in range(3):
            code, data = json_run(ws)
            assert (code, data['src_error_cnt'], data['tgt_error_cnt']) == (0, 0, 0)
            assert not os.path.exists(os.path.join(ws.dst, 'growing.log'))
    finally:
        stop.set()
        writer.join()
    assert tree(ws.dst) == {'done.txt': b'D'}
    assert ws.log_text().count('leaving growing.log for a later run: not yet stable') == 3
    wait_for(lambda: time.time() - os.stat(path).st_mtime > 2.5, timeout=30, interval=0.1)
    code, data = json_run(ws)
    assert (code, tags(data)) == (0, [('=', 'growing.log')])
    assert tree(ws.dst)['growing.log'] == b''.join(written)
    assert tree(ws.src) == {}


# -- archive_dir -----------------------------------------------------------------------

def test_archive_keeps_sub_paths_numbers_taken_names_and_is_never_listed(ws):
    make_files(ws.src, {'a.txt': 'A', 'sub/b.txt': 'B', 'sub/deep/c.csv': 'C',
                        'done/sub/b.txt': 'archived before'})
    ws.write_job(source={'recursive': 'yes', 'archive_dir': 'done'}, target={'temp': 'dot'})
    done = ws.run('--dry-run', 'job1')
    assert 'would move each of them into the archive done once its copy is complete' \
        in done.stdout
    assert 'done/' not in done.stdout.split('archive done')[0]
    code, data = json_run(ws)
    assert code == 0 and data['files_cnt'] == 3
    assert tree(ws.dst) == {'a.txt': b'A', 'sub/b.txt': b'B', 'sub/deep/c.csv': b'C'}
    assert tree(ws.src) == {'done/a.txt': b'A', 'done/sub/b.txt': b'archived before',
                            'done/sub/b.1.txt': b'B', 'done/sub/deep/c.csv': b'C'}
    assert 'archived sub/b.txt as sub/b.1.txt: the archive has a file of that name' \
        in ws.log_text()
    make_files(ws.src, {'sub/b.txt': 'B2'})
    code, data = json_run(ws)
    assert tags(data) == [('=', 'sub/b.txt')]        # the archive is not listed
    assert tree(ws.src)['done/sub/b.2.txt'] == b'B2'


def test_archive_outside_the_source_with_several_connections(ws, tmp_path):
    files = {f'{folder}f{number:02d}.bin': os.urandom(number * 97)
             for number in range(20) for folder in ('', 'x/')}
    make_files(ws.src, files)
    archive = str(tmp_path / 'archive' / 'today')
    ws.write_job(source={'recursive': 'yes', 'archive_dir': archive},
                 target={'temp': 'ext:.part', 'connections': '4'})
    code, data = json_run(ws)
    assert (code, data['files_cnt']) == (0, len(files))
    assert tree(ws.dst) == files and tree(archive) == files and tree(ws.src) == {}


def test_a_failed_file_is_not_archived(ws):
    make_files(ws.src, {'a.txt': 'A', 'b.txt': 'B'})
    os.makedirs(os.path.join(ws.dst, 'b.txt'))       # a target error
    ws.write_job(source={'archive_dir': '../archive'})
    code, data = json_run(ws)
    assert code == 1 and data['tgt_error_cnt'] == 1
    assert tree(ws.src) == {'b.txt': b'B'}
    assert tree(os.path.join(ws.root, 'archive')) == {'a.txt': b'A'}


# -- overwrite -------------------------------------------------------------------------

def test_overwrite_never_skips_what_the_target_has(ws):
    make_files(ws.src, {'a.txt': 'new', 'b.txt': 'B', 'c.txt': 'C'})
    make_files(ws.dst, {'a.txt': 'old', 'c.txt': 'other size'})
    ws.write_job(source={'delete': 'yes'}, target={'overwrite': 'never'})
    done = ws.run('--dry-run', 'job1')
    assert "  a.txt  (3 bytes): the target has it (overwrite = never); its source would be " \
           "deleted if the target's copy is identical" in done.stdout
    assert not os.path.exists(os.path.join(ws.locks_dir))
    code, data = json_run(ws)
    assert code == 0
    assert (data['files_cnt'], data['skipped_cnt']) == (1, 2)
    files = sorted(data['files'], key=lambda item: item['path'])   # skips are booked first
    assert files == [
        {'tag': '-', 'path': 'a.txt', 'skipped': 'the target has it (overwrite = never); '
                                                 'the source was deleted'},
        {'tag': '=', 'path': 'b.txt', 'duration': files[1]['duration']},
        {'tag': '-', 'path': 'c.txt', 'skipped': "the target has it (overwrite = never); the "
         "source is kept (the target's copy has 10 bytes, the source 1)"}]
    # verify = size: a copy of the same size counts as identical
    assert tree(ws.dst) == {'a.txt': b'old', 'b.txt': b'B', 'c.txt': b'other size'}
    assert tree(ws.src) == {'c.txt': b'C'}
    assert 'WARNING  c.txt: the source is kept' in ws.log_text()
    assert 'finished: 1 file(s) transferred, 2 skipped, 0 source error(s)' in ws.log_text()


def test_overwrite_different_keeps_mtimes_and_sends_what_changed(ws):
    make_files(ws.src, {'a.txt': 'A', 'b.txt': 'B'})
    aged(ws.src, {'a.txt': HOUR, 'b.txt': 2 * HOUR})
    ws.write_job(target={'overwrite': 'different', 'temp': 'dot'})
    code, data = json_run(ws)
    assert (code, data['files_cnt']) == (0, 2)
    for name in ('a.txt', 'b.txt'):
        assert int(os.stat(os.path.join(ws.dst, name)).st_mtime) == \
            int(os.stat(os.path.join(ws.src, name)).st_mtime)
    code, data = json_run(ws)
    assert (data['files_cnt'], data['skipped_cnt']) == (0, 2)
    assert data['files'][0]['skipped'] == \
        'the target has it with the same size and modification time (overwrite = different)'
    make_files(ws.src, {'a.txt': 'Z'})           # same size, new time
    code, data = json_run(ws)
    assert tags(data) == [('=', 'a.txt'), ('-', 'b.txt')]
    assert tree(ws.dst) == {'a.txt': b'Z', 'b.txt': b'B'}


def test_overwrite_older_replaces_only_with_a_newer_source(ws):
    make_files(ws.src, {'newer.txt': 'new', 'older.txt': 'old'})
    make_files(ws.dst, {'newer.txt': 'target', 'older.txt': 'target'})
    aged(ws.src, {'newer.txt': HOUR, 'older.txt': 3 * HOUR})
    aged(ws.dst, {'newer.txt': 2 * HOUR, 'older.txt': 2 * HOUR})
    ws.write_job(target={'overwrite': 'older'})
    code, data = json_run(ws)
    assert code == 0 and tags(data) == [('=', 'newer.txt'), ('-', 'older.txt')]
    assert by_path(data)['older.txt']['skipped'] == \
        "the target's copy is not older than the source (overwrite = older)"
    assert tree(ws.dst) == {'newer.txt': b'new', 'older.txt': b'target'}
    code, data = json_run(ws)       # the copy has the source's time now: not older
    assert tags(data) == [('-', 'newer.txt'), ('-', 'older.txt')]


def test_skipped_files_in_the_api_result_and_the_mail_file_list(ws):
    make_files(ws.src, {'a.txt': 'A', 'b.txt': 'B'})
    make_files(ws.dst, {'a.txt': 'A'})
    ws.write_job(job={'collect_data': 'yes'}, target={'overwrite': 'never',
                                                      'verify': 'checksum'})
    job = job_module.load(ws.app_cfg, 'job1')
    result, code = job.run()
    assert (code, result.files_cnt, result.skipped_cnt, result.error_cnt) == (0, 1, 1, 0)
    assert [(path, tag) for path, _, tag in result.file_list] == \
        [('a.txt', FileTags.SKIPPED), ('b.txt', FileTags.TRANSF)]
    assert result.file_list[1].checksum == sha256(b'B')
    assert result.file_list[0].skipped and not result.file_list[0].transferred
    _, text = template.render(template.default_entries(), job.report)
    assert '- a.txt (the target has it (overwrite = never))\n' in text
    assert '= b.txt (0:00.' in text and f', sha256 {sha256(b"B")})\n' in text


# -- verify = checksum -----------------------------------------------------------------

@pytest.mark.parametrize('temp', ['dot', None])
def test_checksum_of_what_was_read_in_the_log_the_json_and_the_record(ws, temp):
    files = {'a.bin': os.urandom(3 << 20), 'empty': b'', 'sub/c.txt': b'C'}
    make_files(ws.src, files)
    ws.write_job(source={'recursive': 'yes', 'remember': 'yes'},
                 target={'verify': 'checksum', **({'temp': temp} if temp else {})})
    code, data = json_run(ws)
    assert code == 0
    assert {item['path']: item['sha256'] for item in data['files']} == \
        {path: sha256(content) for path, content in files.items()}
    assert f'transferred a.bin ({3 << 20} bytes in ' in ws.log_text()
    assert f', sha256 {sha256(files["a.bin"])})' in ws.log_text()
    done = state(ws, 'job1', '--json')
    assert {item['path']: item['sha256'] for item in json.loads(done.stdout)['files']} == \
        {path: sha256(content) for path, content in files.items()}


def flip_first_byte_while_written(ws, proc, path, at_least=8 << 20) -> None:
    """Stops ``proc`` once ``path`` holds ``at_least`` bytes, changes the file's first
    byte (a target that stores something else than it got), and lets it go on."""
    wait_for(lambda: os.path.exists(path) and os.path.getsize(path) >= at_least, proc=proc,
             timeout=60)
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        with open(path, 'r+b') as fh:
            first = fh.read(1)
            fh.seek(0)
            fh.write(bytes([first[0] ^ 0xFF]))
    finally:
        os.kill(proc.pid, signal.SIGCONT)


@pytest.mark.parametrize('temp', ['dot', None])
def test_a_checksum_mismatch_is_a_target_error_and_the_file_never_takes_its_name(
        ws, temp):
    make_sparse(os.path.join(ws.src, 'big.bin'), 256 << 20)
    make_files(ws.src, {'small.txt': 'S'})
    ws.write_job(source={'delete': 'yes'},
                 target={'verify': 'checksum', **({'temp': temp} if temp else {})})
    proc = ws.popen('--json', 'job1', stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    written_as = os.path.join(ws.dst, '.big.bin' if temp else 'big.bin')
    flip_first_byte_while_written(ws, proc, written_as)
    out, err = proc.communicate(timeout=120)
    data = json.loads(out)
    assert (proc.returncode, data['files_cnt'], data['tgt_error_cnt']) == (1, 1, 1), err
    error = next(item['error'] for item in data['files'] if item['path'] == 'big.bin')
    assert error.startswith('checksum mismatch: the stored file has SHA-256 ')
    assert tree(ws.dst) == {'small.txt': b'S'}            # neither big.bin nor .big.bin
    assert sorted(tree(ws.src)) == ['big.bin']            # the source is kept


def test_checksum_of_a_resumed_file_covers_all_of_it(ws):
    data = os.urandom(5 << 20)
    make_files(ws.src, {'big.bin': data})
    make_files(ws.dst, {'.big.bin': data[:3 << 20]})
    ws.write_job(target={'temp': 'dot', 'resume': 'yes', 'verify': 'checksum'})
    ws.record_partial('.big.bin')
    code, result = json_run(ws)
    assert code == 0 and result['files'][0]['sha256'] == sha256(data)
    assert 'resuming big.bin at byte 3145728' in ws.log_text()
    assert tree(ws.dst) == {'big.bin': data}


# -- remember --------------------------------------------------------------------------

def test_remember_sends_an_unchanged_file_once_and_a_changed_one_again(ws):
    make_files(ws.src, {'a.txt': 'A', 'b.txt': 'B', 'sub/c.txt': 'C'})
    ws.write_job(source={'recursive': 'yes', 'remember': 'yes'}, target={'temp': 'dot'})
    code, data = json_run(ws)
    assert (code, data['files_cnt']) == (0, 3)
    os.remove(os.path.join(ws.dst, 'a.txt'))              # the consumer took it
    done = ws.run('--dry-run', 'job1')
    assert 'would transfer no file' in done.stdout
    assert '  a.txt  (1 bytes): sent before, unchanged (remember)' in done.stdout
    code, data = json_run(ws)
    assert (code, data['files_cnt'], data['skipped_cnt'], data['files']) == (0, 0, 0, [])
    make_files(ws.src, {'b.txt': 'BB'})                   # changed: sent again
    code, data = json_run(ws)
    assert tags(data) == [('=', 'b.txt')]
    done = state(ws, 'job1')
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert lines[0] == f'job job1: 3 file(s) sent ({ws.locks_dir}/job1.sent.sqlite)'
    assert [line.split()[0] for line in lines[1:]] == ['a.txt', 'b.txt', 'sub/c.txt']
    assert '  b.txt  2 bytes, modified ' in done.stdout
    done = state(ws, 'job1', '--forget', 'a.txt', '--forget', 'sub/c.txt')
    assert (done.returncode, done.stdout) == (
        0, 'job job1: forgot a.txt\njob job1: forgot sub/c.txt\n')
    code, data = json_run(ws)
    assert tags(data) == [('=', 'a.txt'), ('=', 'sub/c.txt')]
    done = state(ws, 'job1', '--forget', 'nothing.txt')
    assert (done.returncode, done.stdout) == (1, 'job job1: not in the record: nothing.txt\n')
    done = state(ws, 'job1', '--forget-all')
    assert (done.returncode, done.stdout) == (0, 'job job1: forgot 3 file(s)\n')
    code, data = json_run(ws)
    assert data['files_cnt'] == 3


def test_remember_over_more_files_than_are_looked_up_at_once(ws):
    """The record is looked up for many files at once: unchanged files, changed ones
    and new ones, on both sides of each batch's end and among directories, are told
    apart as one by one."""
    from filetransfer.run.copier import JUDGED_TOGETHER

    count = 2 * JUDGED_TOGETHER + 7
    make_files(ws.src, {f'd{n % 3}/f{n:05d}': str(n) for n in range(count)})
    ws.write_job(source={'recursive': 'yes', 'remember': 'yes'})
    assert json_run(ws)[1]['files_cnt'] == count
    changed = {f'd{n % 3}/f{n:05d}' for n in (0, JUDGED_TOGETHER - 1, JUDGED_TOGETHER,
                                              count - 1)}
    make_files(ws.src, {**{path: 'changed' for path in changed},
                        **{f'd1/new{n}': 'new' for n in range(3)}})
    code, data = json_run(ws)
    assert code == 0 and sorted(path for _, path in tags(data)) == \
        sorted(changed | {f'd1/new{n}' for n in range(3)})


def test_the_record_of_many_files_is_read_as_that_of_each(tmp_path):
    from filetransfer.endpoints.base import FileEntry
    from filetransfer.run.sentfiles import open_sent_files

    with open_sent_files(str(tmp_path), 'job1') as sent:
        for n in range(1200):
            entry = FileEntry(f'f{n}', n, 1000.0 + n)
            sent.pending(entry, f'.f{n}', None)
            if n % 3:
                sent.confirm(entry.path)
        paths = [f'f{n}' for n in range(0, 2400, 2)] + ["it's", 'f1']
        found = sent.get_many(paths)
        assert found == {path: sent.get(path) for path in paths if sent.get(path)}
        assert len(found) == 601 and found['f1'].pending is None and found['f0'].pending
        assert sent.get_many([]) == {}


def test_state_command_errors(ws):
    ws.write_job(source={'remember': 'yes'})
    done = state(ws, 'job1', '--forget', 'a', '--forget-all')
    assert done.returncode == 4 and '--forget and --forget-all exclude each other' in done.stderr
    done = state(ws, 'nojob')
    assert done.returncode == 3 and 'no such job file' in done.stderr
    done = state(ws, 'job1')                      # not run yet: an empty record
    assert (done.returncode, done.stdout.splitlines()[0]) == \
        (0, f'job job1: 0 file(s) sent ({ws.locks_dir}/job1.sent.sqlite)')
    assert not os.path.exists(os.path.join(ws.locks_dir, 'job1.sent.sqlite'))
    ws.write_app()
    write_ini(ws.app_cfg, {'global': {'jobs_dir': ws.jobs_dir}})
    done = state(ws, 'job1')
    assert done.returncode == 3
    assert f'{ws.app_cfg}: [global] locks_dir: required because ' \
           f'{ws.jobs_dir}/job1.cfg: [source] remember is set' in done.stderr


def test_remember_with_several_connections_and_retries(ws, monkeypatch):
    files = {f'f{number:02d}.txt': f'file {number}'.encode() for number in range(24)}
    make_files(ws.src, files)
    ws.write_job(job={'retries': '2', 'collect_data': 'yes'},
                 source={'remember': 'yes'}, target={'temp': 'dot', 'connections': '4'})
    monkeypatch.setattr(job_module, 'retry_wait', lambda seconds: None)
    original, failed = LocalEndpoint.write, []

    def flaky_write(self, relpath, reader, progress=None, **options):
        if relpath == '.f13.txt' and not failed:
            failed.append(relpath)
            raise TransferError('connection lost')
        return original(self, relpath, reader, progress, **options)

    monkeypatch.setattr(LocalEndpoint, 'write', flaky_write)
    run, _ = filetransfer.configure(ws.app_cfg, 'job1')
    result, code = run()
    assert failed and (code, result.files_cnt, result.error_cnt) == (0, 24, 0)
    assert sorted(path for path, _, _ in result.file_list) == sorted(files)
    assert tree(ws.dst) == files
    monkeypatch.setattr(LocalEndpoint, 'write', original)
    for name in files:
        os.remove(os.path.join(ws.dst, name))
    run, _ = filetransfer.configure(ws.app_cfg, 'job1')
    result, code = run()
    assert (code, result.files_cnt, result.file_list) == (0, 0, [])


def terminate_in_big_file(ws, job='job1'):
    """Runs the job and sends it SIGTERM while it writes big.bin (after the small
    files, which sort before it); returns its exit status."""
    proc = ws.popen(job, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: os.path.exists(os.path.join(ws.dst, '.big.bin')), proc=proc)
        os.kill(proc.pid, signal.SIGTERM)
        return proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize('source_option', [{'remember': 'yes'},
                                           {'archive_dir': '../archive'}])
def test_sigterm_in_the_middle_then_a_complete_run(ws, source_option):
    make_files(ws.src, {'a.txt': 'A', 'b.txt': 'B'})
    make_dense(os.path.join(ws.src, 'big.bin'), 1 << 30)
    ws.write_job(source=source_option, target={'temp': 'dot'})
    assert terminate_in_big_file(ws) == 5
    assert sorted(tree(ws.dst)) == ['a.txt', 'b.txt']
    code, data = json_run(ws)
    assert code == 0 and tags(data) == [('=', 'big.bin')]
    assert sorted(tree(ws.dst)) == ['a.txt', 'b.txt', 'big.bin']
    if 'archive_dir' in source_option:
        assert tree(ws.src) == {}
        assert sorted(tree(os.path.join(ws.root, 'archive'))) == ['a.txt', 'b.txt', 'big.bin']
    else:
        code, data = json_run(ws)
        assert (code, data['files_cnt']) == (0, 0)


# -- the daemon and the configuration --------------------------------------------------

@pytest.mark.parametrize('source, target', [
    ({'remember': 'yes'}, {}), ({'archive_dir': 'done'}, {}),
    ({}, {'overwrite': 'never'}), ({}, {'overwrite': 'different'}),
    ({}, {'overwrite': 'older'})])
def test_the_daemon_accepts_jobs_that_do_not_send_the_same_files_again(ws, source, target):
    ws.write_app({'daemon': {'jobs': 'job1', 'pidfile': 'd.pid'}})
    write_ini(ws.hosts_cfg, {})
    ws.write_job(source=source, target=target)
    done = subcommand(ws, 'check')
    assert done.returncode == 0, done.stdout


def test_the_daemon_runs_a_remembering_job_only_for_new_files(ws):
    from test_daemon import Hot

    hot = Hot(ws)
    hot.configure(jobs='job1')
    ws.write_job(source={'remember': 'yes'})
    make_files(ws.src, {'a.txt': 'A'})
    hot.start()
    try:
        wait_for(lambda: tree(ws.dst) == {'a.txt': b'A'})
        hot.wait_scans(3)
        assert ws.log_text().count(' started: ') == 1   # no run for a remembered file
        make_files(ws.src, {'b.txt': 'B'})
        wait_for(lambda: 'b.txt' in tree(ws.dst))
        hot.wait_scans(3)
        assert ws.log_text().count(' started: ') == 2
    finally:
        assert hot.command('--stop').returncode == 0
        hot.kill_leftover()


@pytest.mark.parametrize('section, options, where, message', [
    ('source', {'min_age': '-5m'}, 'min_age', "expected a duration > 0: seconds, or a number "
     "with s, m, h or d (90, 15m, 2h, 1d), got '-5m'"),
    ('source', {'min_age': '15 minutes'}, 'min_age', "got '15 minutes'"),
    ('source', {'max_age': '0'}, 'max_age', "expected a duration > 0"),
    ('source', {'max_age': '2h', 'min_age': '3h'}, 'max_age',
     'must be longer than min_age (3h), or no file is ever taken, got 2h'),
    ('source', {'archive_dir': 'done', 'delete': 'yes'}, 'archive_dir',
     'cannot be used with delete = yes'),
    ('source', {'archive_dir': '.'}, 'archive_dir', "is the source directory itself, got '.'"),
    ('source', {'remember': 'maybe'}, 'remember', "expected yes/no, got 'maybe'"),
    ('target', {'overwrite': 'sometimes'}, 'overwrite',
     "expected one of always, never, different, older, got 'sometimes'"),
    ('target', {'verify': 'md5'}, 'verify', "expected one of size, checksum, got 'md5'"),
])
def test_bad_values_are_configuration_errors(ws, section, options, where, message):
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job(**{section: options})
    done = ws.run('job1')
    assert done.returncode == 3 and 'Traceback' not in done.stderr
    assert f'{ws.jobs_dir}/job1.cfg: [{section}] {where}: ' in done.stderr
    assert message in done.stderr
    assert not os.path.exists(ws.dst)
    assert subcommand(ws, 'check').returncode == 3


def test_remember_needs_locks_dir(ws):
    write_ini(ws.app_cfg, {'global': {'jobs_dir': ws.jobs_dir}})
    ws.write_job(source={'remember': 'yes'})
    done = ws.run('job1')
    assert done.returncode == 3
    assert f'{ws.app_cfg}: [global] locks_dir: required because {ws.jobs_dir}/job1.cfg: ' \
           '[source] remember is set' in done.stderr
    with pytest.raises(filetransfer.ConfigError, match=r'\[source\] remember: needs a job'):
        filetransfer.transfer({'path': ws.src, 'files': '*', 'remember': 'yes'},
                              {'path': ws.dst})


def test_fasp_jobs_take_min_age_max_age_and_archive_dir_both_ways(ws):
    write_ini(ws.hosts_cfg, {'fasp': {'type': 'FASP', 'host': '127.0.0.1', 'user': 'u',
                                      'password': 'p'}})
    ws.write_job(source={'min_age': '1m', 'archive_dir': 'done'},
                 target={'host_id': 'fasp', 'path': '/in'})
    assert subcommand(ws, 'check').returncode == 0
    ws.write_job(source={'host_id': 'fasp', 'path': '/out', 'max_age': '1d',
                         'archive_dir': 'done'})
    assert subcommand(ws, 'check').returncode == 0


def test_fasp_jobs_take_remember_overwrite_and_verify_both_ways(ws):
    write_ini(ws.hosts_cfg, {'fasp': {'type': 'FASP', 'host': '127.0.0.1', 'user': 'u',
                                      'password': 'p', 'overwrite': 'never'}})
    files = {'remember': 'yes'}
    target = {'overwrite': 'different', 'verify': 'checksum'}
    ws.write_job(source=files, target={'host_id': 'fasp', 'path': '/in', **target})
    done = subcommand(ws, 'check')
    assert done.returncode == 0, done.stderr
    ws.write_job(source={'host_id': 'fasp', 'path': '/out', **files}, target=target)
    done = subcommand(ws, 'check')
    assert done.returncode == 0, done.stderr
