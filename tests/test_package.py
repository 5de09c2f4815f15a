"""`pip install ihc_nb` from a built wheel, in a fresh virtual environment: the exported modules and the
console scripts, without the notebooks or this checkout."""
import subprocess, sys, sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ['ihc-synth', 'ihc-check-data', 'ihc-stain', 'ihc-bench', 'ihc-train', 'ihc-import']


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    "A fresh venv with the wheel of this checkout installed; its dependencies come from the running environment"
    tmp = tmp_path_factory.mktemp('pkg')
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '-q', '-w', str(tmp/'dist'), str(ROOT)], check=True, capture_output=True)
    wheel, = (tmp/'dist').glob('ihc_nb-*.whl')
    subprocess.run([sys.executable, '-m', 'venv', str(tmp/'venv')], check=True)
    py = tmp/'venv/bin/python'
    site = subprocess.run([str(py), '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'], capture_output=True, text=True).stdout.strip()
    # the dependencies (torch, fastai, ...) without reinstalling gigabytes: the running environment's site-packages, as a plain
    # path (its .pth files, such as the editable install of this checkout, are not processed)
    (Path(site)/'deps.pth').write_text(sysconfig.get_paths()['purelib'] + '\n')
    subprocess.run([str(py), '-m', 'pip', 'install', '-q', '--no-deps', str(wheel)], check=True, capture_output=True)
    return tmp, wheel


def test_wheel_holds_the_package_only(installed):
    import zipfile
    _, wheel = installed
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n == 'ihc_nb/stainer.py' for n in names) and any(n == 'ihc_nb/_modidx.py' for n in names)
    assert not any(n.endswith('.ipynb') or n.startswith(('nbs/', 'tests/', 'data/')) for n in names)
    entry = next(n for n in names if n.endswith('entry_points.txt'))
    text = zipfile.ZipFile(wheel).read(entry).decode()
    assert all(f'{s} = ' in text for s in SCRIPTS)


def test_installed_modules_import_from_the_wheel(installed, tmp_path):
    tmp, _ = installed
    code = ('import sys, ihc_nb; assert "torch" not in sys.modules, "import ihc_nb must stay light"; '
            'import ihc_nb.stainer, ihc_nb.wsi, ihc_nb.methods, ihc_nb.data; print(ihc_nb.__file__)')
    r = subprocess.run([str(tmp/'venv/bin/python'), '-c', code], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert str(tmp/'venv') in r.stdout and str(ROOT) not in r.stdout


@pytest.mark.parametrize('script', SCRIPTS)
def test_console_scripts(installed, script, tmp_path):
    tmp, _ = installed
    r = subprocess.run([str(tmp/'venv/bin'/script), '--help'], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0 and 'usage:' in r.stdout, r.stderr[-2000:]


def test_installed_synth_and_check(installed, tmp_path):
    tmp, _ = installed
    r = subprocess.run([str(tmp/'venv/bin/ihc-synth'), '--out', str(tmp_path/'syn'), '--n', '4', '--size', '64', '--workers', '0'],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    r = subprocess.run([str(tmp/'venv/bin/ihc-check-data'), str(tmp_path/'syn')], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0 and '4 usable pairs of 4' in r.stdout, r.stderr[-2000:]
