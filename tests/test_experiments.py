"""The experiment notebooks, run by papermill as a user would, with tiny parameters.

Each test gets its own settings.ini (a tiny synthetic dataset, runs under a temporary folder), handed to
the notebook's kernel through IHC_NB_SETTINGS.
"""
import json, os, subprocess, sys
from pathlib import Path

import pandas as pd
import papermill as pm
import pytest

from ihc_nb.synth import make_synthetic

NBS = Path(__file__).resolve().parent.parent/'nbs'
TINY = dict(crop=32, batch_size=4, epochs=1, epochs_decay=1, ngf=8)


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    "A settings.ini with a tiny synthetic dataset `tiny` and a missing `bci`, runs in a temporary folder"
    root = tmp_path_factory.mktemp('lab')
    make_synthetic(root/'tiny', n=12, size=64, seed=0, progress=False, n_workers=0)
    (root/'settings.ini').write_text(
        '[ihc_nb]\nruns = runs\n\n[DEFAULT]\nlr = 1e-3\nload_size = 64\ncrop = 32\nbatch_size = 4\nepochs = 1\nepochs_decay = 1\n'
        'valid_n = 2\nencoder_crop = 16\nencoder_batch_size = 8\nencoder_epochs = 1\nencoder_epochs_decay = 1\n\n'
        '[tiny]\npath = tiny\nlayout = bci\n\n[bci]\npath = data/BCI_dataset\nlayout = bci\nsource = https://bupt-ai-cz.github.io/BCI/\n')
    os.environ['IHC_NB_SETTINGS'] = str(root/'settings.ini')
    yield root
    del os.environ['IHC_NB_SETTINGS']


def run_nb(name, out, **params):
    return pm.execute_notebook(str(NBS/name), str(out), parameters=params, kernel_name='python3', progress_bar=False, cwd=str(NBS))


def outputs(nb_path):
    "All text the executed notebook printed"
    nb = json.loads(Path(nb_path).read_text())
    return '\n'.join(''.join(o.get('text', '')) + ''.join(o.get('data', {}).get('text/plain', ''))
                     for c in nb['cells'] for o in c.get('outputs', []))


def test_pretrain_encoders(lab):
    run_nb('pretrain_encoders.ipynb', lab/'pre.ipynb', dataset='tiny', ngf=8, run='enc-tiny')
    run = lab/'runs/enc-tiny'
    assert {'history.csv', 'losses.png', 'encoders.pth', 'similarity.png', 'similarity.csv', 'checkpoints'} <= {p.name for p in run.iterdir()}
    assert len(pd.read_csv(run/'history.csv')) == 2
    assert 'best threshold' in outputs(lab/'pre.ipynb')


def test_train_ceff_pretrains_trains_and_resumes(lab):
    run_nb('train_ceff.ipynb', lab/'ceff.ipynb', dataset='tiny', **TINY)
    text = outputs(lab/'ceff.ipynb')
    assert 'no pretrained encoders for tiny' in text and 'pretraining them now' in text
    assert (lab/'runs/encoders-tiny/encoders.pth').exists()
    run = lab/'runs/ceff-tiny'
    h = pd.read_csv(run/'history.csv')
    assert list(h.epoch) == [0, 1] and {'psnr', 'ssim', 'g_gan', 'g_l1', 'd_loss'} <= set(h.columns)
    assert {'losses.png', 'samples.png', 'results.csv'} <= {p.name for p in run.iterdir()}
    res = pd.read_csv(run/'results.csv', index_col=0)
    assert len(res) == 3 and list(res.columns) == ['psnr', 'ssim', 'upscaler']
    run_nb('train_ceff.ipynb', lab/'again.ipynb', dataset='tiny', **TINY)   # the run is complete: it resumes at its end
    text = outputs(lab/'again.ipynb')
    assert 'resuming ceff-tiny at epoch 3' in text and 'pretraining them now' not in text
    assert list(pd.read_csv(run/'history.csv').epoch) == [0, 1]


def test_train_ceff_missing_dataset(lab):
    with pytest.raises(pm.PapermillExecutionError) as e: run_nb('train_ceff.ipynb', lab/'bci.ipynb', dataset='bci')
    msg = str(e.value)
    assert 'DatasetMissing' in msg and f'{lab}/data/BCI_dataset' in msg and 'HE/{train,test}/ and IHC/{train,test}/' in msg
    assert not (lab/'runs/ceff-bci').exists()


# tiny versions of every method: small widths, fewer blocks, 3-layer discriminators (5 layers need >= 128 px)
METHOD_OPTIONS = dict(pix2pix=dict(num_downs=5), pyramidp2p=dict(n_blocks=2), cyclegan=dict(n_blocks=2),
                      cut=dict(n_blocks=2), fastcut=dict(n_blocks=2), asp=dict(n_blocks=2, n_layers_d=3),
                      ceff=dict(), ammfi=dict(n_blocks=2, n_layers_d=3))


@pytest.mark.parametrize('method', list(METHOD_OPTIONS))
def test_train_every_method(lab, method):
    crop = 64 if method in ('asp', 'ammfi') else 32    # the 6-level Gaussian pyramid needs more than 32 px
    run_nb('train.ipynb', lab/f'{method}.ipynb', method=method, dataset='tiny', crop=crop, batch_size=2, epochs=1, epochs_decay=1,
           options=dict(ngf=8, ndf=8, **METHOD_OPTIONS[method]), run=f'{method}-every')
    run = lab/'runs'/f'{method}-every'
    h = pd.read_csv(run/'history.csv')
    assert list(h.epoch) == [0, 1] and {'train_loss', 'valid_loss', 'd_loss', 'g_gan', 'psnr', 'ssim'} <= set(h.columns)
    assert h[['psnr', 'ssim']].notna().all().all()
    info = json.loads((run/'run.json').read_text())
    assert info['method'] == method
    assert info['upscaler'] in (('bsrgan', 'lanczos') if method == 'ammfi' else (None,))   # multi-magnification only
    assert {'losses.png', 'samples.png', 'results.csv'} <= {p.name for p in run.iterdir()}


def test_papermill_cli_keeps_notebook_in_run(lab):
    r = subprocess.run([str(Path(sys.executable).parent/'papermill'), str(NBS/'pretrain_encoders.ipynb'), str(lab/'cli.ipynb'),
                        '-p', 'dataset', 'tiny', '-p', 'ngf', '8', '-p', 'run', 'enc-cli', '--no-progress-bar'],
                       capture_output=True, text=True, cwd=lab, env=os.environ, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    kept = lab/'runs/enc-cli/pretrain_encoders.ipynb'
    assert kept.exists() and 'best threshold' in outputs(kept)


def test_evaluate_stains_scores_and_resumes(lab):
    from ihc_nb.methods import train
    train('pix2pix', 'tiny', run='p2p-eval', crop=32, batch_size=4, epochs=1, epochs_decay=0, num_workers=0, ngf=8, ndf=8, num_downs=5)
    run_nb('evaluate.ipynb', lab/'eval.ipynb', run='p2p-eval')
    out = lab/'runs/p2p-eval/eval-tiny-test'
    per = pd.read_csv(out/'metrics.csv')
    tests = sorted(p.name for p in (lab/'tiny/IHC/test').iterdir())
    assert sorted(per.name) == tests and {'psnr', 'ssim', 'dab_fake', 'dab_real', 'level', 'level_fake'} <= set(per.columns)
    assert sorted(p.name for p in (out/'fake').iterdir()) == tests and (out/'real'/tests[0]).resolve() == (lab/'tiny/IHC/test'/tests[0]).resolve()
    s = json.loads((out/'metrics.json').read_text())
    assert s['n'] == len(tests) and abs(s['psnr'] - per.psnr.mean()) < 1e-9
    assert 'tiny train split' in s['level_calibration'] and s['real_ihc'] == 'adjacent section'
    table = pd.read_csv(out/'table.csv', index_col=0)
    assert list(table.index) == ['pix2pix vs IHC', 'pix2pix vs oracle IHC', 'H&E as IHC (identity)']
    assert {'distributions.png', 'examples.png', 'her2_levels.json'} <= {p.name for p in out.iterdir()}
    # ihc-eval (its module, whatever the installed script points at) on the stained folder computes the same numbers
    r = subprocess.run([sys.executable, '-m', 'ihc_nb.evaluation', str(out/'fake'), str(out/'real'), '--out', str(lab/'cli.csv'),
                        '--calibration', str(out/'her2_levels.json')], capture_output=True, text=True, env=os.environ, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f'{len(tests)} pairs, paper mode' in r.stdout and 'psnr' in r.stdout
    cli = pd.read_csv(lab/'cli.csv')
    assert (cli[['name', 'psnr', 'ssim', 'dab_fake', 'level_fake']] == per[['name', 'psnr', 'ssim', 'dab_fake', 'level_fake']]).all().all()
    # a lost output is stained again, the others are kept
    lost, kept = out/'fake'/tests[0], out/'fake'/tests[-1]
    t_kept = kept.stat().st_mtime_ns
    lost.unlink()
    run_nb('evaluate.ipynb', lab/'eval2.ipynb', run='p2p-eval')
    assert lost.exists() and kept.stat().st_mtime_ns == t_kept
    assert (pd.read_csv(out/'metrics.csv').psnr == per.psnr).all()
