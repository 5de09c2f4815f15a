"""README.md states the two set-up commands, and is the rendering of nbs/index.ipynb."""
import re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/'tools'))
import readme  # noqa: E402


def test_readme_is_index_rendered():
    assert (ROOT/'README.md').read_text() == readme.render(), 'run `python tools/readme.py`'


def test_readme_commands_set_up_from_scratch():
    text = (ROOT/'README.md').read_text()
    for tag in ('main', 'test'):
        cmd = re.search(rf'<!-- ci:{tag} -->\n```bash\n(.+)\n```', text).group(1)
        assert cmd.startswith('python3 -m venv .venv && .venv/bin/pip install -e ".[dev,wsi]" && ')
    assert 'ci:test -->\n```bash\npython3 -m venv .venv && .venv/bin/pip install -e ".[dev,wsi]" && .venv/bin/pytest -n 2 --dist loadfile\n```' in text
