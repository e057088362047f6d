"""``[global] metrics_dir``: JOBID.prom for node_exporter's textfile collector, read
back with prometheus_client's own parser after a success, file errors, a failure and
a SIGTERM."""

import os
import signal
import stat
import time

from prometheus_client.parser import text_string_to_metric_families

from faults import SMALL, setup_job, stop_in_the_middle
from helpers import make_files

NAMES = {'filetransfer_last_run_timestamp_seconds', 'filetransfer_last_success_timestamp_seconds',
         'filetransfer_last_exit_code', 'filetransfer_files_transferred',
         'filetransfer_bytes_transferred', 'filetransfer_file_errors',
         'filetransfer_duration_seconds'}


def read_metrics(metrics_dir, job_id='job1') -> dict:
    """{name (with _source/_target for the file errors): value} of JOBID.prom, whose
    families must all be documented gauges with the job's label."""
    with open(os.path.join(metrics_dir, f'{job_id}.prom'), encoding='utf-8') as fh:
        families = list(text_string_to_metric_families(fh.read()))
    assert {family.name for family in families} == NAMES
    values = {}
    for family in families:
        assert family.type == 'gauge' and family.documentation
        for sample in family.samples:
            labels = dict(sample.labels)
            assert labels.pop('job') == job_id
            side = labels.pop('side', None)
            assert not labels
            values[sample.name + (f'_{side}' if side else '')] = sample.value
    return values


def run_code(ws, job_id='job1') -> int:
    done = ws.run(job_id)
    assert done.stderr == ''
    return done.returncode


def use_metrics(ws, metrics_dir) -> None:
    ws.write_app({'global': {'metrics_dir': metrics_dir}})


def test_success_file_errors_failure_and_the_last_success_time(ws, tmp_path):
    metrics_dir = str(tmp_path / 'metrics')
    os.makedirs(metrics_dir)
    use_metrics(ws, metrics_dir)
    make_files(ws.src, {'a.txt': 'A', 'b.txt': 'BB'})
    ws.write_job()
    before = time.time()
    assert run_code(ws) == 0
    first = read_metrics(metrics_dir)
    assert before - 1 <= first['filetransfer_last_run_timestamp_seconds'] <= time.time() + 1
    assert first['filetransfer_last_success_timestamp_seconds'] == \
        first['filetransfer_last_run_timestamp_seconds']
    assert (first['filetransfer_last_exit_code'], first['filetransfer_files_transferred'],
            first['filetransfer_bytes_transferred'], first['filetransfer_file_errors_source'],
            first['filetransfer_file_errors_target']) == (0, 2, 3, 0, 0)
    assert first['filetransfer_duration_seconds'] >= 0
    assert stat.S_IMODE(os.stat(os.path.join(metrics_dir, 'job1.prom')).st_mode) == 0o644

    make_files(ws.src, {'c.txt': 'CCC'})                     # a target error: exit 1
    os.makedirs(os.path.join(ws.dst, 'c.txt'))
    assert run_code(ws) == 1
    second = read_metrics(metrics_dir)
    assert second['filetransfer_last_success_timestamp_seconds'] == \
        first['filetransfer_last_success_timestamp_seconds']
    assert second['filetransfer_last_run_timestamp_seconds'] >= \
        first['filetransfer_last_run_timestamp_seconds']
    assert (second['filetransfer_last_exit_code'], second['filetransfer_files_transferred'],
            second['filetransfer_bytes_transferred'], second['filetransfer_file_errors_source'],
            second['filetransfer_file_errors_target']) == (1, 2, 3, 0, 1)

    ws.write_job(source={'path': os.path.join(ws.root, 'missing')})   # a failure: exit 2
    assert run_code(ws) == 2
    third = read_metrics(metrics_dir)
    assert third['filetransfer_last_success_timestamp_seconds'] == \
        first['filetransfer_last_success_timestamp_seconds']
    assert (third['filetransfer_last_exit_code'], third['filetransfer_files_transferred']) == \
        (2, 0)
    assert os.listdir(metrics_dir) == ['job1.prom']          # no temp file left


def test_sigterm_writes_exit_code_5(ws, tmp_path):
    metrics_dir = str(tmp_path / 'metrics')
    os.makedirs(metrics_dir)
    setup = setup_job(ws, 'local', 'up', tmp_path)
    use_metrics(ws, metrics_dir)
    proc = ws.popen('job1')
    assert stop_in_the_middle(proc, setup), 'copied too fast to catch'
    os.kill(proc.pid, signal.SIGTERM)
    os.kill(proc.pid, signal.SIGCONT)
    assert proc.wait(timeout=60) == 5
    values = read_metrics(metrics_dir)
    assert (values['filetransfer_last_exit_code'], values['filetransfer_files_transferred'],
            values['filetransfer_bytes_transferred']) == (5, 2, sum(map(len, SMALL.values())))
    assert values['filetransfer_last_success_timestamp_seconds'] == 0    # none yet


def test_a_job_id_that_needs_escaping(ws, tmp_path):
    metrics_dir = str(tmp_path / 'metrics')
    os.makedirs(metrics_dir)
    use_metrics(ws, metrics_dir)
    job_id = 'odd"name\\x'
    ws.write_job(job_id)
    assert run_code(ws, job_id) == 0
    assert read_metrics(metrics_dir, job_id)['filetransfer_last_exit_code'] == 0


def test_a_metrics_dir_that_cannot_be_written_is_a_warning(ws, tmp_path):
    make_files(ws.src, {'a.txt': 'A'})
    ws.write_job()
    for problem, metrics_dir in (('no such directory', str(tmp_path / 'missing')),
                                 ('not a directory', ws.app_cfg)):
        use_metrics(ws, metrics_dir)
        assert run_code(ws) == 0
        log = ws.log_text()
        os.unlink(ws.log_files()[0])
        assert f'WARNING  metrics not written: [global] metrics_dir {metrics_dir}: {problem}' \
            in log
        assert log.rstrip().splitlines()[-1].endswith('(exit code 0)')
