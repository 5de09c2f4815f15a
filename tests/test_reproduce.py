"""nbs/reproduce.ipynb through papermill with tiny parameters: every table with every row, the protocol, the
figures; a rerun reuses every finished run."""
import json, os, subprocess, sys
from pathlib import Path

import pandas as pd
import pytest

from ihc_nb.experiments import TABLES, unique_runs
from ihc_nb.synth import make_synthetic

NBS = Path(__file__).resolve().parent.parent/'nbs'
BIN = Path(sys.executable).parent


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    "A settings.ini with a tiny synthetic dataset of 128 px images (ASP's 5-layer PatchGAN needs crops of 96 or more)"
    root = tmp_path_factory.mktemp('repro')
    make_synthetic(root/'tiny', n=14, size=128, seed=0, progress=False, n_workers=0)
    (root/'settings.ini').write_text('[ihc_nb]\nruns = runs\n\n[DEFAULT]\nlr = 1e-3\nvalid_n = 2\n\n'
                                     '[tiny]\npath = tiny\nlayout = bci\n')
    old = os.environ.get('IHC_NB_SETTINGS')
    os.environ['IHC_NB_SETTINGS'] = str(root/'settings.ini')
    yield root
    if old is None: del os.environ['IHC_NB_SETTINGS']
    else: os.environ['IHC_NB_SETTINGS'] = old


def run(lab, name, *more):
    "papermill as a user runs it (its command line: the notebook checks its -p names and keeps a copy of itself)"
    out = lab/name
    r = subprocess.run([str(BIN/'papermill'), str(NBS/'reproduce.ipynb'), str(out), '--cwd', str(NBS),
                        *'-p dataset tiny -p crop 96 -p epochs 1 -p n 3 -p ci 50'.split(), *more],
                       capture_output=True, text=True, env={**os.environ, 'IHC_NB_SETTINGS': str(lab/'settings.ini')})
    nb = json.loads(out.read_text())
    return r, '\n'.join(''.join(o.get('text', '')) for c in nb['cells'] for o in c.get('outputs', []))


def test_reproduce_tables_protocol_figures_and_reuse(lab):
    r, text = run(lab, 'first.ipynb')
    assert r.returncode == 0, r.stderr[-3000:]
    out = lab/'runs/reproduce-tiny-quick'
    runs = unique_runs(list(TABLES.values()))
    assert text.count('trained and evaluated') == len(runs) == 12
    for name, t in TABLES.items():
        df = pd.read_csv(out/f'{name}.csv', index_col=0)
        ours = df.index[df.source == 'ours']
        assert list(ours) == [r.name for r in t.rows], name
        assert {'identity (H&E as IHC)', 'oracle IHC'} <= set(df.index)
        for c in ('PSNR', 'SSIM'):
            v, lo, hi = (df.loc[ours, k].astype(float) for k in (c, f'{c} lo', f'{c} hi'))
            assert ((lo <= v) & (v <= hi)).all(), (name, c)
            assert df.loc[[r for r in ours if r != t.proposed], f'{c} p'].between(0, 1).all()
        assert df.loc[ours, 'FID'].str.startswith('needs pt_inception').all()   # no weights: the column names its file
    assert 'ESI' in pd.read_csv(out/'table_ceff.csv', index_col=0).index
    pr = json.loads((out/'protocol.json').read_text())
    assert len(pr['runs']) == 12 and pr['images']['n'] == 3 and len(pr['images']['real_sha256']) == 64
    assert {'torch', 'torchvision', 'scikit_image', 'numpy'} <= set(pr['versions']) and pr['her2_calibration']
    assert pr['split'] == {'split': 'official'} and pr['definitions']['real_ihc'] == 'adjacent section'
    assert {'dab_mask_definition', 'dab_p90_definition', 'dab_hist_definition', 'od_definition'} <= set(pr['definitions'])
    stain = pd.read_csv(out/'table_stain.csv', index_col=0)   # the stain metrics lead, PSNR and SSIM beside them
    assert list(stain.columns) == ['DAB HD95', 'DAB Dice', 'DAB IoU', 'mIOD err', 'DAB p90 err', 'PSNR', 'SSIM'] and len(stain) == 12
    assert all(r['config']['settings']['crop'] == 96 for r in pr['runs'])
    for f in ('comparison.png', 'metrics.png', 'reproduce.ipynb', 'encoders/similarity.png'):
        assert (out/f).stat().st_size > 1000, f
    before = {p: p.stat().st_mtime for p in out.glob('runs/*/checkpoints/last.pth')}
    r, text = run(lab, 'second.ipynb', '-y', 'devices: [cpu, cpu]')   # one process per device: the multi-GPU path
    assert r.returncode == 0, r.stderr[-3000:]
    assert text.count(': reused (') == 12 and 'trained and evaluated' not in text
    assert {p: p.stat().st_mtime for p in out.glob('runs/*/checkpoints/last.pth')} == before


def test_reproduce_refuses_a_misspelt_parameter(lab):
    r, _ = run(lab, 'bad.ipynb', '-p', 'profil', 'paper')
    assert r.returncode != 0 and 'unknown parameter profil' in r.stderr and 'profile' in r.stderr
    assert not (lab/'runs/reproduce-tiny-paper').exists()
