"""Adding a method, worked through: a toy method registered (one `Method` entry), then trained, stained, benchmarked,
tabled and put in an experiment's row like every other, and removed again. Nothing else is edited for it."""
import numpy as np
import pytest
import torch.nn as nn

from ihc_nb.bench import bench_method
from ihc_nb.experiments import profile_settings, row_options
from ihc_nb.gan import PatchDiscriminator, Pix2Pix
from ihc_nb.layers import init_weights
from ihc_nb.methods import METHODS, Method, method_table, register_method, train
from ihc_nb.runs import check_crop
from ihc_nb.papers import Row, method_rows
from ihc_nb.stainer import Stainer
from ihc_nb.synth import make_synthetic


def toy_generator(ngf:int=8) -> nn.Module:
    "Three stride-2 convolutions down, x8 up: it takes inputs of multiples of 8 only"
    down = [m for i, o in [(3, ngf), (ngf, ngf), (ngf, ngf)] for m in (nn.Conv2d(i, o, 3, 2, 1), nn.ReLU())]
    return nn.Sequential(*down, nn.Upsample(scale_factor=8), nn.Conv2d(ngf, 3, 3, 1, 1), nn.Tanh())


def build_toy(ngf:int=8, ndf:int=8, lambda_l1:float=100.) -> Pix2Pix:
    return Pix2Pix(init_weights(toy_generator(ngf), 'normal'), PatchDiscriminator(6, ndf, 2, 'batch'), 'vanilla', lambda_l1)


@pytest.fixture
def toy():
    "The toy method, registered for the test and removed after it"
    register_method(Method('toy', 'Toy', 'nobody, 2026', 'paired', 'three convolutions down, x8 up, L1 x 100',
                           build_toy, (1, 0), dict(ngf=8, ndf=8), multiple=lambda options: 8))
    yield METHODS['toy']
    del METHODS['toy']


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp('toy')
    make_synthetic(root/'syn', n=8, size=64, seed=0, progress=False, n_workers=0)
    return root


def test_toy_method_trains_stains_and_benchmarks(toy, tiny):
    assert list(METHODS)[-1] == 'toy' and method_table().loc['toy', 'paper'] == 'nobody, 2026'
    check_crop(toy, {}, 32)
    r = train('toy', tiny/'syn', run='toy', root=tiny/'runs', crop=32, batch_size=2, epochs=1, epochs_decay=0,
              num_workers=0)
    assert list(r['history'].epoch) == [0]
    st = Stainer.from_run(r['run'])
    assert (st.multiple, st.config['method']) == (8, 'toy')   # from its entry: inputs padded to multiples of 8
    he = np.random.default_rng(0).integers(0, 255, (36, 45, 3), np.uint8)
    assert st(he).shape == he.shape
    row = bench_method('toy', 32, repeat=1, batch=1)
    assert row['method'] == 'toy' and row['infer_tiles_s'] > 0 and row['config'] == 'fp32'


def test_toy_method_in_the_papers_tables(toy):
    assert method_rows('toy') == [Row('Toy', 'toy')]
    assert row_options(Row('Toy', 'toy'), profile_settings('quick')) == dict(ngf=16, ndf=16)


def test_removed_method_is_gone():
    assert 'toy' not in METHODS
    with pytest.raises(ValueError, match="unknown method 'toy'"): train('toy', 'synthetic')
