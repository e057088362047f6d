"""docs/options.md, the option reference, is what docs/make_options.py writes from
the configuration schema now; every option has its description."""

import importlib.util
import subprocess
import sys
from pathlib import Path

from filetransfer.config import schema
from filetransfer.endpoints import registry

GENERATOR = Path(__file__).resolve().parents[1] / 'docs' / 'make_options.py'


def _generator():
    spec = importlib.util.spec_from_file_location('make_options', GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_options_md_is_up_to_date():
    generator = _generator()
    current = generator.OUTPUT.read_text(encoding='utf-8') if generator.OUTPUT.exists() else ''
    assert current == generator.reference(), (
        'docs/options.md is out of date: run .venv/bin/python docs/make_options.py')
    done = subprocess.run([sys.executable, str(GENERATOR), '--check'], capture_output=True,
                          text=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, '')


def test_every_option_is_described_in_the_reference():
    sections = [*schema.APP_SECTIONS.values(), *schema.JOB_SECTIONS.values(),
                *(protocol.host_class for protocol in registry.protocols())]
    undocumented = [f'{section.__name__}.{name}' for section in sections
                    for name, option in schema.options_of(section).items() if not option.doc]
    assert undocumented == [], 'give these options a doc= in their option()'
    text = _generator().reference()
    for section in sections:
        for name in schema.options_of(section):
            assert f'| `{name}`' in text
