"""The record of files being written (filetransfer/journal.py): what a run leaves
for the next one, and that a live run's record is left alone."""

import json
import os
import stat
import subprocess
import sys
import textwrap

from filetransfer.run.journal import Journal

TARGET = 'SFTP user@host:22 /in'


def test_a_finished_run_leaves_no_record(tmp_path):
    with Journal(str(tmp_path), 'job1') as journal:
        journal.writing(TARGET, '.a.txt')
        assert stat.S_IMODE(os.stat(journal.path).st_mode) == 0o600
        journal.finished(TARGET, '.a.txt')
    assert os.listdir(tmp_path) == []


def test_open_entries_are_taken_over_by_the_next_run(tmp_path):
    first = Journal(str(tmp_path), 'job1')
    first.open()
    first.writing(TARGET, '.a.txt')
    first.writing(TARGET, '.b.txt')
    first.finished(TARGET, '.a.txt')
    first.writing('/elsewhere', 'x')
    first.close()                        # kept: two entries are open
    dead = tmp_path / 'job1.writing.999999999'
    os.rename(first.path, dead)          # as if the run had been killed
    with open(dead, 'ab') as fh:
        fh.write(b'{"writing": ".c.t')   # cut off by the crash
    with Journal(str(tmp_path), 'job1') as second:
        assert second.leftovers(TARGET) == ['.b.txt']
        assert second.others(TARGET) == [('/elsewhere', 'x')]
        assert not dead.exists()
        second.finished(TARGET, '.b.txt')
        second.finished('/elsewhere', 'x')
    assert os.listdir(tmp_path) == []


def test_records_of_live_runs_and_other_jobs_are_left_alone(tmp_path):
    holder = subprocess.Popen([sys.executable, '-c', textwrap.dedent(f'''
        import sys
        from filetransfer.run.journal import Journal
        journal = Journal({str(tmp_path)!r}, 'job1')
        journal.open()
        journal.writing({TARGET!r}, '.busy.txt')
        print(journal.path, flush=True)
        sys.stdin.read()
        ''')], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        live = holder.stdout.readline().strip()
        other_job = tmp_path / 'job1.x.writing.1'
        other_job.write_text(json.dumps({'writing': 'y', 'target': TARGET}) + '\n')
        with Journal(str(tmp_path), 'job1') as journal:
            assert journal.leftovers(TARGET) == []
        assert os.path.exists(live) and other_job.exists()
    finally:
        holder.stdin.close()
        holder.wait()


def test_an_unusable_folder_is_a_warning_not_a_failure(tmp_path, caplog):
    blocker = tmp_path / 'file'
    blocker.write_text('')
    with Journal(str(blocker / 'locks'), 'job1') as journal:
        journal.writing(TARGET, '.a.txt')
        assert journal.leftovers(TARGET) == ['.a.txt']
    assert 'cannot keep the record of files being written' in caplog.text


def test_entries_taken_over_and_finished_are_not_handed_on(tmp_path):
    with Journal(str(tmp_path), 'job1') as first:
        first.writing(TARGET, '.a.txt')
        first.writing(TARGET, '.b.txt')
    os.rename(first.path, tmp_path / 'job1.writing.999999999')    # its run was killed
    with Journal(str(tmp_path), 'job1') as second:
        second.finished(TARGET, '.a.txt')            # removed by the next run
    os.rename(second.path, tmp_path / 'job1.writing.999999998')   # killed too
    with Journal(str(tmp_path), 'job1') as third:
        assert third.leftovers(TARGET) == ['.b.txt']
        third.finished(TARGET, '.b.txt')
    assert os.listdir(tmp_path) == []


def test_any_name_comes_back_as_it_was_written(tmp_path):
    # names are kept as the OS gives them: undecodable bytes as surrogates
    names = ['quote"back\\slash', 'new\nline\ttab', 'é ü 漢字 \u2028', os.fsdecode(b'raw\xff\xfe'),
             '{"finished": "x", "target": "y"}']
    first = Journal(str(tmp_path), 'job1')
    first.open()
    for name in names:
        first.writing(TARGET, name)
    first.finished(TARGET, names[0])
    first.close()
    os.rename(first.path, tmp_path / 'job1.writing.999999999')    # as if killed
    with Journal(str(tmp_path), 'job1') as second:
        assert second.leftovers(TARGET) == names[1:]
        for name in names[1:]:
            second.finished(TARGET, name)
    assert os.listdir(tmp_path) == []
