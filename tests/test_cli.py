"""The console scripts as a user runs them: exit codes, what they print, what they write."""
import os, subprocess, sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ihc_nb.settings import bci_sample_path

BIN = Path(sys.executable).parent


def run(*args, env=None, cwd=None):
    return subprocess.run([str(BIN/args[0]), *map(str, args[1:])], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=600)


@pytest.fixture(scope='module')
def synth(tmp_path_factory):
    out = tmp_path_factory.mktemp('syn')/'ds'
    r = run('ihc-synth', '--out', out, '--n', 12, '--size', 64, '--seed', 1)
    assert r.returncode == 0, r.stderr
    return out, r.stdout


def test_synth_writes_bci_layout(synth):
    out, stdout = synth
    assert 'wrote 12 pairs of 64x64' in stdout
    for kind in ('HE', 'IHC', 'IHC_oracle'):
        names = sorted(p.name for p in (out/kind).glob('*/*.png'))
        assert len(names) == 12 and names[0].startswith('00000_')
    assert (out/'meta.csv').read_text().count('\n') == 13


def test_check_data_ok(synth):
    out, _ = synth
    r = run('ihc-check-data', out)
    assert r.returncode == 0, r.stderr
    assert '12 usable pairs of 12' in r.stdout and 'image sizes (width x height): 64x64: 12' in r.stdout


@pytest.mark.skipif(bci_sample_path() is None, reason='needs the real BCI sample in ../shared/data/bci_sample')
def test_check_data_bci_sample():
    r = run('ihc-check-data', bci_sample_path(), '--layout', 'bci')
    assert r.returncode == 0, r.stderr
    assert '8 usable pairs of 8' in r.stdout
    assert [l.split() for l in r.stdout.splitlines() if l.startswith('test')] == [['test', '1', '2', '2', '3']]
    assert '1024x1024: 8' in r.stdout
    assert "slides: the bci layout's file names carry no slide id" in r.stdout


def test_check_data_mist_shared_slides(tmp_path):
    "MIST's names carry the slide id: the slides both splits share are counted, and `split = patient` re-splits"
    rng = np.random.default_rng(0)
    for split, names in (('train', ('A1_0_0', 'B2_0_0')), ('val', ('A1_5_5', 'C3_0_0'))):
        for side in 'AB':
            (tmp_path/'mist/TrainValAB'/f'{split}{side}').mkdir(parents=True, exist_ok=True)
            for n in names:
                Image.fromarray(rng.integers(0, 255, (32, 32, 3), np.uint8)).save(tmp_path/'mist/TrainValAB'/f'{split}{side}'/f'{n}.jpg')
    r = run('ihc-check-data', tmp_path/'mist', '--layout', 'mist')
    assert r.returncode == 0, r.stderr
    assert 'slides: 2 in train, 2 in test, 1 in both: the splits share patients; set split = patient' in r.stdout
    (tmp_path/'settings.ini').write_text('[m]\npath = mist\nlayout = mist\nsplit = patient\n')
    r = run('ihc-check-data', 'm', env=dict(IHC_NB_SETTINGS=str(tmp_path/'settings.ini')))
    assert r.returncode == 0, r.stderr
    assert 'slides: 1 in train, 2 in test, 0 in both (split = patient: 1 images of the 1 slides' in r.stdout, r.stdout


def _broken_copy(src, dst):
    import shutil
    shutil.copytree(src, dst)
    he = sorted((dst/'HE/train').iterdir())
    he[0].write_bytes(he[0].read_bytes()[:200])                          # truncated
    he[1].unlink()                                                       # IHC without H&E partner
    Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(dst/'IHC/train'/he[2].name)  # size mismatch
    return he


def test_check_data_problems(synth, tmp_path):
    out, _ = synth
    he = _broken_copy(out, tmp_path/'bad')
    r = run('ihc-check-data', tmp_path/'bad', '--crop', 48)
    assert r.returncode == 1
    assert '3 problems:' in r.stderr
    assert f'IHC/train/{he[1].name} has no H&E partner in HE/train/' in r.stderr
    assert f'{he[0].name} cannot be decoded' in r.stderr
    assert 'must have the same size' in r.stderr
    assert '9 usable pairs of 11' in r.stdout


def test_check_data_undersized(synth):
    out, _ = synth
    r = run('ihc-check-data', out, '--crop', 128)
    assert r.returncode == 1
    assert 'smaller than the training crop of 128' in r.stderr and '12 problems' in r.stderr


def test_check_data_missing_dataset(tmp_path):
    (tmp_path/'settings.ini').write_text('[bci]\npath = data/BCI_dataset\nlayout = bci\n'
                                         'source = https://bupt-ai-cz.github.io/BCI/\n')
    r = run('ihc-check-data', 'bci', env=dict(IHC_NB_SETTINGS=str(tmp_path/'settings.ini')))
    assert r.returncode == 1
    assert f'no bci dataset at {tmp_path}/data/BCI_dataset' in r.stderr
    assert 'HE/{train,test}/ and IHC/{train,test}/' in r.stderr and 'bupt-ai-cz.github.io/BCI' in r.stderr
    r = run('ihc-check-data', 'bci-typo', env=dict(IHC_NB_SETTINGS=str(tmp_path/'settings.ini')))
    assert r.returncode == 1 and 'Known datasets: bci' in r.stderr


def test_synthetic_generated_on_first_use(tmp_path):
    (tmp_path/'settings.ini').write_text('[synthetic]\npath = data/synthetic\nlayout = bci\n'
                                         'synth_n = 4\nsynth_size = 48\nsynth_seed = 2\n')
    r = run('ihc-check-data', 'synthetic', env=dict(IHC_NB_SETTINGS=str(tmp_path/'settings.ini')))
    assert r.returncode == 0, r.stderr
    assert 'generating 4 synthetic pairs' in r.stderr and '4 usable pairs of 4' in r.stdout
    assert (tmp_path/'data/synthetic/meta.csv').exists()


@pytest.fixture(scope='module')
def tiny_stainer(tmp_path_factory):
    "An untrained, tiny CUT generator saved as a stainer file"
    from ihc_nb.methods import METHODS
    from ihc_nb.stainer import Stainer
    opts, path = dict(ngf=4, ndf=4, n_blocks=1), tmp_path_factory.mktemp('stainer')/'tiny.stainer'
    Stainer(METHODS['cut'].build(**opts).G, dict(method='cut', options=opts, tile=64), device='cpu').save(path)
    return path


def test_stain_image_folder_and_refusals(synth, tiny_stainer, tmp_path):
    out, _ = synth
    he = sorted((out/'HE/test').iterdir())
    r = run('ihc-stain', he[0], tmp_path/'ihc.png', '--model', tiny_stainer, '--device', 'cpu')
    assert r.returncode == 0, r.stderr[-2000:]
    assert f'stained 1 file into {tmp_path}/ihc.png' in r.stdout
    assert Image.open(tmp_path/'ihc.png').size == Image.open(he[0]).size
    r = run('ihc-stain', he[0], tmp_path/'ihc.png', '--model', tiny_stainer, '--device', 'cpu')
    assert r.returncode == 1 and 'ihc.png exists: choose another output or pass --overwrite' in r.stderr
    r = run('ihc-stain', out/'HE/test', tmp_path/'stained', '--model', tiny_stainer, '--device', 'cpu')
    assert r.returncode == 0, r.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path/'stained').iterdir()) == [p.stem + '.png' for p in he]
    r = run('ihc-stain', he[0], tmp_path/'other.png')
    assert r.returncode == 2 and '--model is required' in r.stderr


def test_bench_prints_its_table():
    r = run('ihc-bench', '--methods', 'pix2pix,ceff', '--sizes', '128', '--repeat', '1', '--batch', '2', '--compare')
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.splitlines()
    assert lines[0].startswith('CPU, ') and 'peak' in lines[0]
    assert 'infer_tiles_s' in lines[1] and 'mfu' in lines[1] and 'memory_ratio' in lines[1]
    assert [l.split()[0] for l in lines[2:]] == ['pix2pix', 'ceff']


def test_stain_folder_goes_on_past_a_bad_image_and_resumes(synth, tiny_stainer, tmp_path):
    import shutil
    out, _ = synth
    src, dst = tmp_path/'he', tmp_path/'stained'
    shutil.copytree(out/'HE/test', src)
    names = sorted(p.name for p in src.iterdir())
    (src/names[0]).write_bytes(b'not a png')
    r = run('ihc-stain', src, dst, '--model', tiny_stainer, '--device', 'cpu')
    assert r.returncode == 1 and 'Traceback' not in r.stderr
    assert f'1 of {len(names)} images were not stained' in r.stderr and f'{names[0]} cannot be decoded' in r.stderr
    assert sorted(p.name for p in dst.iterdir()) == [Path(n).stem + '.png' for n in names[1:]]   # the others went on
    before = {p.name: p.stat().st_mtime_ns for p in dst.iterdir()}
    shutil.copy(out/'HE/test'/names[0], src/names[0])                                          # the image mended
    r = run('ihc-stain', src, dst, '--model', tiny_stainer, '--device', 'cpu')
    assert r.returncode == 0 and f'kept {len(names) - 1} images stained before' in r.stdout
    assert all(dst.joinpath(n).stat().st_mtime_ns == t for n, t in before.items())             # not stained again
    assert len(list(dst.iterdir())) == len(names)


def test_train_bsrgan_without_weights(synth, tmp_path):
    r = run('ihc-train', '--method', 'ammfi', '--dataset', synth[0], '--upscaler', 'bsrgan', '--run', 'no-bsrgan',
            env=dict(IHC_NB_WEIGHTS=str(tmp_path), TORCH_HOME=str(tmp_path)), cwd=tmp_path)
    assert r.returncode != 0 and 'Traceback' not in r.stderr, r.stderr[-2000:]
    assert 'BSRGAN.pth' in r.stderr and str(tmp_path) in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path/'runs/no-bsrgan').exists()


def test_stain_refuses_a_stainer_whose_options_do_not_fit_its_weights(synth, tiny_stainer, tmp_path):
    import json, torch
    ck = torch.load(tiny_stainer, weights_only=True)
    cfg = json.loads(ck['config'])
    cfg['options']['ngf'] = 8                                            # the weights are of ngf 4
    torch.save(dict(ck, config=json.dumps(cfg)), tmp_path/'edited.stainer')
    he = sorted((synth[0]/'HE/test').iterdir())[0]
    r = run('ihc-stain', he, tmp_path/'x.png', '--model', tmp_path/'edited.stainer', '--device', 'cpu')
    assert r.returncode == 1 and 'Traceback' not in r.stderr, r.stderr[-2000:]
    assert 'edited.stainer does not fit the cut generator its recorded options build' in r.stderr
    assert not (tmp_path/'x.png').exists()


def test_calibration_given_on_names_without_levels_is_not_asked_for_again(tmp_path):
    "Images whose names carry no HER2 level: `--calibration loo` was given, so the line says why no level is scored"
    rng = np.random.default_rng(0)
    for side in ('fake', 'real'):
        (tmp_path/side).mkdir()
        for i in range(3): Image.fromarray(rng.integers(0, 256, (32, 32, 3), np.uint8)).save(tmp_path/side/f'{i}.png')
    r = run('ihc-eval', tmp_path/'fake', tmp_path/'real', '--metrics', 'dab', '--calibration', 'loo',
            '--out', tmp_path/'e.csv')
    assert r.returncode == 0, r.stderr[-2000:]
    notes = [line for line in r.stdout.splitlines() if line.startswith('HER2 levels')]
    assert notes == ['HER2 levels not scored: no file name carries a level (BCI names end _0, _1+, _2+ or _3+)'], r.stdout
