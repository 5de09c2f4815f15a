"""nbs/metric_validity.ipynb, run by papermill with tiny parameters: which metric tracks the true staining error.

A tiny synthetic dataset (64 px, its oracle IHC), 20 bootstrap draws, and one 'trained run' whose stained test
images are copies of the oracle (so its true Dice is 1).
"""
import shutil
from pathlib import Path

import pandas as pd
import papermill as pm
import pytest

from ihc_nb.metrics import METRICS
from ihc_nb.synth import make_synthetic

NBS = Path(__file__).resolve().parent.parent/'nbs'


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    "A tiny synthetic dataset and a run folder whose stained test images are its oracle's"
    root = tmp_path_factory.mktemp('validity')
    make_synthetic(root/'tiny', n=12, size=64, seed=0, progress=False, n_workers=0)
    shutil.copytree(root/'tiny/IHC_oracle/test', root/'runs/perfect/test/fake')
    return root


def run_nb(nb, **params):
    return pm.execute_notebook(str(NBS/"metric_validity.ipynb"), str(nb), parameters=params,
                               kernel_name='python3', progress_bar=False, cwd=str(NBS))


def test_validity_study_tiny(tiny):
    out = tiny/'study'
    run_nb(tiny/'v.ipynb', dataset=str(tiny/'tiny'), out=str(out), ci=20, generated=str(tiny/'runs'))
    assert {'validity.csv', 'validity.png', 'conditions.csv', 'misalignment.csv'} <= {p.name for p in out.iterdir()}
    v = pd.read_csv(out/'validity.csv', index_col=0)
    free = {c for s in METRICS.values() if not s.weights for c in s.columns}
    assert set(v.index) == free and {'DAB Dice', 'PSNR', 'SSIM', 'DAB p90 err', 'DAB JSD', 'IOD err'} <= free
    assert list(v.columns) == ['better', 'tau', 'tau lo', 'tau hi', 'tau (images)', 'fall at 8 µm']
    ok = v.dropna(subset=['tau'])
    assert ok.tau.between(-1, 1).all() and (ok['tau lo'] <= ok['tau hi']).all(), ok
    c = pd.read_csv(out/'conditions.csv', index_col=0)
    assert {'oracle', 'H&E', 'blur 1', 'dab_removed 1', 'shift 0.25', 'run perfect'} <= set(c.index)
    assert c.loc['oracle', 'true Dice'] == 1 and c.loc['run perfect', 'true Dice'] == 1
    assert c.loc['dab_removed 1', 'true Dice'] < c.loc['dab_removed 0.25', 'true Dice'] < 1, c['true Dice']
    m = pd.read_csv(out/'misalignment.csv', index_col=0)
    assert list(m.index) == ['H&E', '0', '1', '2', '4', '8'] and m.loc['0', 'DAB Dice'] > m.loc['8', 'DAB Dice']


def test_validity_needs_an_oracle(tiny):
    shutil.copytree(tiny/'tiny', tiny/'no-oracle', ignore=shutil.ignore_patterns('IHC_oracle'))
    with pytest.raises(pm.PapermillExecutionError) as e: run_nb(tiny/'bad.ipynb', dataset=str(tiny/'no-oracle'))
    assert 'no test pairs with an oracle IHC (IHC_oracle/test/)' in str(e.value)
