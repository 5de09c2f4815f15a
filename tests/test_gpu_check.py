"""`tools/gpu_check.sh`, the one-command device check of issue 20, dry-run on the CPU with tiny sizes: every step
runs, prints its figures and writes them to the one JSON file; `--device cuda` without a GPU is refused in one line."""
import json, os, subprocess, sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT/'tools/gpu_check.sh'


def _run(*args, **kw):
    env = dict(os.environ, PYTHON=sys.executable)
    env.pop('IHC_WHEELS', None)                          # install nothing: this environment's ihc_nb
    return subprocess.run(['bash', str(SCRIPT), *map(str, args)], cwd=ROOT, env=env, capture_output=True,
                          text=True, **kw)


def test_gpu_check_dry_run_on_cpu(tmp_path):
    pytest.importorskip('openslide'); pytest.importorskip('distributed')
    r = _run(tmp_path/'figures.json', '--device', 'cpu', '--tiny', timeout=1200)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    figs = json.loads((tmp_path/'figures.json').read_text())
    assert list(figs) == ['machine', 'gpu_cells', 'methods', 'ceff_crop', 'slide', 'cohort']
    assert figs['machine']['tiny'] and 'skipped' in figs['gpu_cells']
    row, = figs['methods']['rows']
    assert row['method'] == 'pix2pix' and row['infer_tiles_s'] > 0 and row['mfu'] > 0 and 'train_speedup' in row
    assert figs['ceff_crop']['train_peak_gib'] >= 0 and figs['ceff_crop']['crop'] == 64
    assert figs['slide']['tissue_tiles'] > 0 and figs['slide']['slide_over_model'] > 0
    assert figs['cohort']['cluster'] == 'LocalCluster'
    assert [x['status'] for x in figs['cohort']['rows']] == ['stained', 'stained']
    for step in figs: assert f'[{step}] ' in r.stdout                # each printed as it came


@pytest.mark.skipif(torch.cuda.is_available(), reason='a GPU is here')
def test_gpu_check_refuses_cuda_without_a_gpu(tmp_path):
    r = _run(tmp_path/'f.json', timeout=300)
    assert r.returncode == 1 and r.stderr.strip().splitlines() == [
        'error: --device cuda: no CUDA device here; give --device cpu (with --tiny) for the dry run']
