"""`ihc-import` from the shell, and a published model used the way users use it: a checkpoint saved by a reference
code becomes a model folder; the folder stains with `ihc-stain`, also as a Hugging Face repo id from a prepared
local cache with the network off; every fault (a wrong --code, a checkpoint of another architecture, no
train_opt.txt and no options, a weights file of the wrong shape, a config.json naming an unknown method) ends in
one line, with a non-zero exit and no traceback."""
import json, os, shutil, subprocess, sys, tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ihc_nb.published import fixed_state

BIN = Path(sys.executable).parent
PUB = Path(__file__).parent/'fixtures'/'published'
SHIMS = Path(tempfile.mkdtemp(prefix='ihc-scripts-'))
SCRIPTS = {'ihc-import': ('ihc_nb.published', 'ihc_import'), 'ihc-stain': ('ihc_nb.wsi', 'ihc_stain')}


def script(name, folder):
    "Console script `name`, or (where this environment has not installed it yet) a script file calling it"
    if (BIN/name).exists(): return [str(BIN/name)]
    mod, fn = SCRIPTS[name]
    (folder/f'{name}.py').write_text(f'import sys\nfrom {mod} import {fn}\nsys.exit({fn}())\n')
    return [sys.executable, str(folder/f'{name}.py')]


def cli(name, *args, env=None):
    "Run console script `name` with `args`"
    return subprocess.run(script(name, SHIMS) + [str(a) for a in args],
                          capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


def one_line_error(r, *names):
    "A refusal: non-zero exit, one line on stderr naming each of `names`, no traceback"
    lines = r.stderr.strip().splitlines()
    assert r.returncode != 0 and 'Traceback' not in r.stderr and len(lines) == 1, r.stderr
    assert all(n in lines[0] for n in names), lines[0]


def reference_run(root, config, opts=True):
    "A reference run folder: the fixture's checkpoint (as the reference saved it) and its train_opt.txt"
    run = root/config
    run.mkdir(parents=True)
    torch.save(fixed_state(PUB/config/'keys.tsv', PUB/config/'moved.pt'), run/'latest_net_G.pth')
    if opts: shutil.copy(PUB/config/'train_opt.txt', run)
    return run


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    "A CUT reference run, imported once as a model folder, and an H&E image"
    root = tmp_path_factory.mktemp('import')
    run = reference_run(root, 'cut')
    r = cli('ihc-import', run, '--code', 'cut', '--out', root/'models/cut-grumpycat')
    assert r.returncode == 0, r.stderr
    assert 'instance norm, dropout off' in r.stdout and 'imported cut from latest_net_G.pth' in r.stdout
    he = np.random.default_rng(0).integers(0, 256, (80, 96, 3), np.uint8)
    Image.fromarray(he).save(root/'he.png')
    return root


def test_import_writes_a_model_folder_that_stains_as_the_checkpoint(lab):
    from ihc_nb.published import import_checkpoint
    from ihc_nb.stainer import Stainer
    folder = lab/'models/cut-grumpycat'
    assert sorted(p.name for p in folder.iterdir()) == ['README.md', 'config.json', 'model.safetensors']
    cfg = json.loads((folder/'config.json').read_text())
    assert (cfg['method'], cfg['norm_stats'], cfg['source']['file']) == ('cut', 'image', 'latest_net_G.pth')
    card = (folder/'README.md').read_text()
    assert card.startswith('---\n') and 'license: bsd-2-clause' in card and cfg['source']['sha256'] in card
    he = np.asarray(Image.open(lab/'he.png'))
    direct = import_checkpoint(lab/'cut', 'cut', device='cpu')
    assert (Stainer.from_pretrained(folder, device='cpu')(he) == direct(he)).all()


def test_stain_from_a_repo_id_in_the_local_hub_cache_offline(lab, tmp_path):
    "ihc-stain --model ORG/NAME with HF_HUB_OFFLINE=1: the model comes from the cache, nothing is downloaded"
    home, commit = tmp_path/'hf', '0123456789abcdef0123456789abcdef01234567'
    repo = home/'hub'/'models--ihc-nb-test--cut-grumpycat'
    shutil.copytree(lab/'models/cut-grumpycat', repo/'snapshots'/commit)
    (repo/'refs').mkdir(); (repo/'refs'/'main').write_text(commit)
    env = dict(HF_HOME=str(home), HF_HUB_OFFLINE='1')
    r = cli('ihc-stain', lab/'he.png', tmp_path/'out.png', '--model', 'ihc-nb-test/cut-grumpycat', '--device', 'cpu',
            env=env)
    assert r.returncode == 0, r.stderr
    from ihc_nb.stainer import Stainer
    want = Stainer.from_pretrained(lab/'models/cut-grumpycat', device='cpu')(np.asarray(Image.open(lab/'he.png')))
    assert (np.asarray(Image.open(tmp_path/'out.png').convert('RGB')) == want).all()
    r = cli('ihc-stain', lab/'he.png', tmp_path/'out2.png', '--model', 'ihc-nb-test/not-cached', env=env)
    one_line_error(r, 'ihc-nb-test/not-cached', 'Hugging Face')


def test_a_wrong_code_lists_the_known_ones(lab, tmp_path):
    one_line_error(cli('ihc-import', lab/'cut', '--code', 'cutt', '--out', tmp_path/'m'),
                   "--code 'cutt'", 'cut, asp, pix2pix, cyclegan, bci, ceff')


def test_a_checkpoint_of_another_architecture_is_refused(tmp_path):
    unet = reference_run(tmp_path, 'pix2pix', opts=False)
    shutil.copy(PUB/'cut'/'train_opt.txt', unet)             # a pix2pix U-Net checkpoint, CUT's options
    one_line_error(cli('ihc-import', unet, '--code', 'cut', '--out', tmp_path/'m1'),
                   'holds a U-Net generator, not the ResNet')
    cut = reference_run(tmp_path/'x', 'cut')                  # CUT's 9 blocks, imported as 6
    one_line_error(cli('ihc-import', cut, '--code', 'cut', '--options', '--netG resnet_6blocks', '--out', tmp_path/'m2'),
                   'does not fit its options', 'unexpected', '--netG resnet_9blocks')
    asp = reference_run(tmp_path/'y', 'asp_mist', opts=False)  # ASP's spectral norm, imported with CUT's options
    shutil.copy(PUB/'cut'/'train_opt.txt', asp)
    one_line_error(cli('ihc-import', asp, '--code', 'cut', '--options', '--netG resnet_6blocks', '--out', tmp_path/'m3'),
                   '--weight_norm spectral')


def test_no_train_opt_and_no_options(tmp_path):
    run = reference_run(tmp_path, 'cut', opts=False)
    one_line_error(cli('ihc-import', run, '--code', 'cut', '--out', tmp_path/'m'), 'no train_opt.txt beside', '--options')
    r = cli('ihc-import', run, '--code', 'cut', '--options', '--netG resnet_9blocks', '--out', tmp_path/'m.stainer')
    assert r.returncode == 0 and (tmp_path/'m.stainer').is_file(), r.stderr


def test_a_named_release_supplies_options_and_card(tmp_path):
    "A downloaded release without train_opt.txt: --release gives its options, data and published numbers"
    run = reference_run(tmp_path, 'asp_mist', opts=False)
    r = cli('ihc-import', run, '--code', 'asp', '--release', 'asp-mist-er', '--out', tmp_path/'asp-mist-er')
    assert r.returncode == 0 and 'spectral norm' in r.stdout, r.stderr
    cfg = json.loads((tmp_path/'asp-mist-er'/'config.json').read_text())
    assert (cfg['method'], cfg['name'], cfg['dataset'], cfg['options']['n_blocks']) == ('asp', 'asp-mist-er', 'mist-er', 6)
    assert '| 13.89 | 0.206 | 41.2 |' in (tmp_path/'asp-mist-er'/'README.md').read_text()
    one_line_error(cli('ihc-import', run, '--code', 'asp', '--release', 'asp-mist', '--out', tmp_path/'m'),
                   "unknown --release 'asp-mist'")


def test_a_broken_model_folder_is_refused_in_one_line(lab, tmp_path):
    from ihc_nb.modelfolder import save_weights
    from ihc_nb.methods import build_method
    wrong = shutil.copytree(lab/'models/cut-grumpycat', tmp_path/'wrong-shape')
    save_weights(build_method('cut', ngf=8, n_blocks=2).G, wrong/'model.safetensors')
    one_line_error(cli('ihc-stain', lab/'he.png', tmp_path/'o1.png', '--model', wrong), 'does not fit the cut generator')
    unknown = shutil.copytree(lab/'models/cut-grumpycat', tmp_path/'unknown-method')
    cfg = json.loads((unknown/'config.json').read_text())
    (unknown/'config.json').write_text(json.dumps(dict(cfg, method='cutx')))
    one_line_error(cli('ihc-stain', lab/'he.png', tmp_path/'o2.png', '--model', unknown), "unknown method 'cutx'")
