"""Jobs as FileTransfer 0.11 runs them: temp names, job ids naming a file in a
sub-directory of jobs_dir or with a dot, a ready file below the source."""

import os
import re

import pytest

from helpers import make_files, tree, write_ini
from remote import ftp_host, write_hosts


def run(ws, *args, code=0):
    done = ws.run(*args)
    assert done.returncode == code, done.stderr
    return done


# -- temp -----------------------------------------------------------------------------

@pytest.mark.parametrize('temp,temp_name', [('ext:tmp', 'a.txt.tmp'), ('ext:.tmp', 'a.txt.tmp'),
                                            ('EXT:.part', 'a.txt.part'), ('ext:', 'a.txt.')])
def test_ext_temp_names(ws, temp, temp_name):
    # a file under the temp name that the job did not write shows the name it uses
    make_files(ws.src, {'a.txt': 'A', 'b.txt': 'B'})
    make_files(ws.dst, {temp_name: 'not ours'})
    ws.write_job(target={'temp': temp})
    run(ws, 'job1', code=1)
    assert f'{temp_name} exists on the target, and this job did not write it' in ws.log_text()
    assert tree(ws.dst) == {temp_name: b'not ours', 'b.txt': b'B'}


@pytest.mark.parametrize('temp', ['ext:a:b', 'dir:', 'dir:.', 'dot:x', 'bogus'])
def test_temp_forms_refused(ws, temp):
    job_path = ws.write_job(target={'temp': temp})
    done = run(ws, 'job1', code=3)
    assert f'{job_path}: [target] temp: expected ' in done.stderr


def test_temp_dir_relative_to_the_target_may_lead_out_of_it(ws):
    make_files(ws.src, {'a.txt': 'A', 'd/b.txt': 'B'})
    target = os.path.join(ws.root, 'out', 'tgt')
    ws.write_job(source={'recursive': 'yes'}, target={'path': target, 'temp': 'dir:../x'})
    run(ws, 'job1')
    assert tree(target) == {'a.txt': b'A', 'd/b.txt': b'B'}
    assert os.path.isdir(os.path.join(ws.root, 'out', 'x')) and \
        tree(os.path.join(ws.root, 'out', 'x')) == {}


def test_absolute_temp_dir(ws, tmp_path):
    make_files(ws.src, {'a.txt': 'A', 'b.txt': 'B'})
    temp_dir = tmp_path / 'elsewhere' / 'temp'
    make_files(temp_dir, {'a.txt': 'not ours'})         # shows where a.txt is written first
    ws.write_job(target={'temp': f'dir:{temp_dir}'})
    run(ws, 'job1', code=1)
    assert f'{temp_dir}/a.txt exists on the target, and this job did not write it' \
        in ws.log_text()
    assert tree(ws.dst) == {'b.txt': b'B'} and tree(temp_dir) == {'a.txt': b'not ours'}


def test_temp_dir_named_like_a_source_directory_loses_no_file(ws):
    make_files(ws.src, {'t/x': 'TX', 't/y': 'TY', 'x': 'X'})
    ws.write_job(source={'recursive': 'yes'}, target={'temp': 'dir:t'})
    run(ws, 'job1', code=1)         # x would be written as t/x: refused, nothing lost
    assert tree(ws.dst) == {'t/x': b'TX', 't/y': b'TY'}
    assert 'source error: x: its temp name t/x is the name of another selected file' \
        in ws.log_text()


# -- job ids ---------------------------------------------------------------------------

def test_job_in_a_sub_directory_of_jobs_dir(ws):
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job('sub/job', job={'single_instance': 'yes'})
    run(ws, 'sub/job')
    assert tree(ws.dst) == {'a.txt': b'A'}
    [log] = os.listdir(os.path.join(ws.log_dir, 'sub', 'job'))
    assert re.fullmatch(r'\d{8}-\d{6}\.log', log)
    assert "job sub/job (sub/job) started" in ws.log_text('sub/job')
    assert os.path.isfile(os.path.join(ws.locks_dir, 'sub', 'job.lock'))
    ws.write_app(logging={'log_dir': ws.log_dir, 'use_subdirs': 'no'})
    run(ws, 'sub/job')
    assert any(re.fullmatch(r'job_\d{8}-\d{6}\.log', name)
               for name in os.listdir(os.path.join(ws.log_dir, 'sub')))


@pytest.mark.parametrize('job_id', ['../x', 'sub/../../x', '/tmp/x', 'a//b'])
def test_job_ids_outside_jobs_dir_are_refused(ws, job_id):
    before = set(os.listdir(ws.root))
    done = run(ws, '-v', job_id, code=3)
    assert done.stderr.startswith(f'ConfigError: invalid job id {job_id!r}')
    assert set(os.listdir(ws.root)) == before      # no log file, no lock, nothing


def test_job_id_with_a_dot(ws):
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job('j', target={'path': os.path.join(ws.root, 'tgt-j')})
    ws.write_job('j.v2', target={'path': os.path.join(ws.root, 'tgt-jv2')})
    run(ws, 'j.v2')
    assert os.listdir(ws.root + '/tgt-jv2') == ['a.txt']
    assert not os.path.exists(ws.root + '/tgt-j')
    os.remove(os.path.join(ws.jobs_dir, 'j.v2.cfg'))
    done = run(ws, 'j.v3', code=3)
    assert f'{ws.jobs_dir}/j.v3.cfg: no such job file' in done.stderr
    run(ws, 'j.cfg')                                  # names the file jobs/j.cfg itself
    assert os.listdir(ws.root + '/tgt-j') == ['a.txt']
    assert os.path.isdir(os.path.join(ws.log_dir, 'j.cfg'))


def test_job_cfg_ext_without_a_dot_is_refused(ws):
    write_ini(ws.app_cfg, {'global': {'jobs_dir': ws.jobs_dir, 'job_cfg_ext': 'cfg'}})
    done = run(ws, 'job1', code=3)
    assert f"{ws.app_cfg}: [global] job_cfg_ext: expected an extension starting with '.'" \
        in done.stderr


def test_job_id_with_a_dot_and_no_extension(ws):
    make_files(ws.src, {'a.txt': 'A'})
    write_ini(ws.app_cfg, {'global': {'jobs_dir': ws.jobs_dir, 'job_cfg_ext': ''}})
    write_ini(os.path.join(ws.jobs_dir, 'j.v2'),
              {'source': {'path': ws.src, 'files': '*'}, 'target': {'path': ws.dst}})
    run(ws, 'j.v2')
    assert tree(ws.dst) == {'a.txt': b'A'}


# -- ready file ------------------------------------------------------------------------

@pytest.mark.parametrize('recursive,sent', [('yes', {'a.txt', 'd/b.txt'}), ('no', {'a.txt'})])
def test_ready_file_below_the_source(ws, recursive, sent):
    make_files(ws.src, {'a.txt': 'A', 'd/b.txt': 'B', 'flags/READY': ''})
    ws.write_job(job={'ready_file': 'flags/READY'}, source={'recursive': recursive})
    run(ws, 'job1')
    assert set(tree(ws.dst)) == sent
    assert tree(ws.src) == {'a.txt': b'A', 'd/b.txt': b'B'}
    assert os.path.isdir(os.path.join(ws.src, 'flags'))


def test_ready_file_missing_below_the_source(ws):
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job(job={'ready_file': 'flags/READY'})
    done = run(ws, '-v', 'job1')
    assert tree(ws.dst) == {} and done.stderr.startswith('NotReadyError: ')


def test_ready_file_outside_a_local_source(ws):
    """A local source's ready file elsewhere: looked at, then deleted after the run."""
    make_files(ws.src, {'a.txt': 'A'})
    flags = os.path.join(ws.root, 'flags')
    ws.write_job(job={'ready_file': '../flags/READY'})
    done = run(ws, '-v', 'job1')
    assert tree(ws.dst) == {} and done.stderr.startswith('NotReadyError: ')
    make_files(flags, {'READY': ''})
    run(ws, 'job1')
    assert tree(ws.dst) == {'a.txt': b'A'} and tree(flags) == {}


def test_absolute_ready_file_in_the_source_is_sent_like_any_file(ws):
    """As FileTransfer 0.11: the patterns select the file named by an absolute path."""
    make_files(ws.src, {'a.txt': 'A', 'READY': ''})
    ws.write_job(job={'ready_file': os.path.join(ws.src, 'READY')})
    run(ws, 'job1')
    assert tree(ws.dst) == {'a.txt': b'A', 'READY': b''}
    assert tree(ws.src) == {'a.txt': b'A'}


def test_ready_file_on_an_ftp_source(ws, ftp_server):
    server = ftp_server()
    make_files(server.home, {'out/a.txt': 'A', 'out/flags/READY': ''})
    write_hosts(ws, srv=ftp_host(server))
    ws.write_job(job={'ready_file': 'flags/READY'},
                 source={'host_id': 'srv', 'path': '/out', 'recursive': 'yes'})
    run(ws, 'job1')
    assert tree(ws.dst) == {'a.txt': b'A'}
    assert tree(server.home) == {'out/a.txt': b'A'}


def test_ready_file_stays_after_file_errors_even_with_delete(ws):
    make_files(ws.src, {'a.txt': 'A', 'z.txt': 'Z', 'READY': ''})
    os.makedirs(os.path.join(ws.dst, 'z.txt'))       # a directory where the file goes
    ws.write_job(job={'ready_file': 'READY'}, source={'delete': 'yes'})
    run(ws, 'job1', code=1)
    assert tree(ws.src) == {'z.txt': b'Z', 'READY': b''}
