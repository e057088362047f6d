"""The Kubernetes manifests of deploy/kubernetes/ and the image of deploy/Containerfile:
they parse, carry what running on several hosts needs, and the configuration they
mount is one that `filetransfer check` accepts."""

import os
import re
import subprocess

import yaml

from helpers import command_argv

DEPLOY = os.path.join(os.path.dirname(__file__), '..', 'deploy')
KUBERNETES = os.path.join(DEPLOY, 'kubernetes')


def manifests() -> dict:
    """{kind: manifest} of every YAML document in deploy/kubernetes/."""
    found = {}
    for name in sorted(os.listdir(KUBERNETES)):
        if name.endswith('.yaml'):
            with open(os.path.join(KUBERNETES, name), encoding='utf-8') as fh:
                for document in yaml.safe_load_all(fh):
                    assert document['kind'] not in found
                    found[document['kind']] = document
    return found


def test_the_cronjob_runs_once_and_leaves_retries_to_the_job():
    found = manifests()
    assert set(found) == {'CronJob', 'ConfigMap', 'Secret'}
    cronjob = found['CronJob']
    assert cronjob['apiVersion'] == 'batch/v1'
    spec = cronjob['spec']
    assert spec['concurrencyPolicy'] == 'Forbid'
    assert isinstance(spec['startingDeadlineSeconds'], int) and spec['startingDeadlineSeconds'] > 0
    job = spec['jobTemplate']['spec']
    assert job['backoffLimit'] == 0
    assert isinstance(job['activeDeadlineSeconds'], int) and job['activeDeadlineSeconds'] > 0
    pod = job['template']['spec']
    assert pod['restartPolicy'] == 'Never'
    assert pod['securityContext']['runAsNonRoot'] is True
    [container] = pod['containers']
    assert container['args'][-2:] == ['--', 'orders']
    config_file = container['args'][container['args'].index('-c') + 1]
    volumes = {volume['name']: volume for volume in pod['volumes']}
    mounts = {mount['mountPath']: volumes[mount['name']] for mount in container['volumeMounts']}
    config = mounts[os.path.dirname(config_file)]
    assert config['configMap']['name'] == found['ConfigMap']['metadata']['name']
    secret_volumes = [volume['secret'] for volume in mounts.values() if 'secret' in volume]
    assert [volume['secretName'] for volume in secret_volumes] == \
        [found['Secret']['metadata']['name']]
    [password] = [variable for variable in container['env'] if variable['name'] == 'PGPASSWORD']
    reference = password['valueFrom']['secretKeyRef']
    assert reference['name'] == found['Secret']['metadata']['name']
    assert reference['key'] in found['Secret']['stringData']
    assert 'password =' not in ''.join(found['ConfigMap']['data'].values())


def test_the_mounted_configuration_passes_check(tmp_path):
    """The files as the pod sees them (mount paths moved under tmp_path) are a valid
    configuration with a PostgreSQL state_db and a single_instance job."""
    found = manifests()
    pod = found['CronJob']['spec']['jobTemplate']['spec']['template']['spec']
    [container] = pod['containers']
    volumes = {volume['name']: volume for volume in pod['volumes']}
    root = str(tmp_path)

    paths = sorted((mount['mountPath'] for mount in container['volumeMounts']), key=len,
                   reverse=True)

    def moved(text: str) -> str:
        return re.sub('|'.join(map(re.escape, paths)), lambda found: root + found[0], text)

    for mount in container['volumeMounts']:
        volume = volumes[mount['name']]
        source = volume.get('configMap') or volume.get('secret')
        kind = 'ConfigMap' if 'configMap' in volume else 'Secret'
        data = found[kind].get('data') or found[kind].get('stringData')
        for item in source['items']:
            path = os.path.join(root + mount['mountPath'], item['path'])
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, 'w', encoding='utf-8') as fh:
                fh.write(moved(data[item['key']]))
            os.chmod(path, 0o600)
    config_file = root + container['args'][container['args'].index('-c') + 1]
    done = subprocess.run(command_argv('check', '-c', config_file), capture_output=True,
                          text=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, ''), done.stdout
    assert 'state_db = postgresql://' in open(config_file).read()
    assert 'single_instance = yes' in found['ConfigMap']['data']['orders.cfg']


def test_the_image_runs_the_command_with_postgres_support():
    with open(os.path.join(DEPLOY, 'Containerfile'), encoding='utf-8') as fh:
        text = fh.read()
    assert "pip install --no-cache-dir '/src[postgres]'" in text
    assert 'ENTRYPOINT ["filetransfer"]' in text
    assert 'USER 10001' in text
