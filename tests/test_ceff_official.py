"""A user with the authors' CEFF weights gets the official code's outputs from ours.

The fixture `ceff_official_64.pt` was made by running the official CEFF code (github babyinsunshine/CEFF,
commit 4ca871a, eval mode, CPU) with the weights `official_like_state` builds from the official key list:
its output on a 64x64 input and its AWL similarities. The official code is not part of this repository.

`ceff_official_256.pt` comes from the same code, commit and weights, built as the official test script builds it
(`networks.define_G(3, 3, 64, 'CEFF', 'batch', ..., gpu_ids=[], dataset_name='BCI')`, then `load_state_dict`),
in eval mode on CPU, on the 256x256 input `inputs(256)` makes: to keep the repository light it stores the output
subsampled, `y[..., ::4, ::4]` (float32, 1x3x64x64), plus the full output's mean and std.
"""
import ast, math, zlib
from pathlib import Path

import torch

from ihc_nb.ceff import CEFFGenerator, load_official_ceff, official_ceff_state, official_encoder_state
from ihc_nb.awl import AdaptiveL1
from ihc_nb.encoders import DualEncoder, ResNetEncoder
from ihc_nb.vmfe import wavelet_filters

FIX = Path(__file__).parent/'fixtures'


def shapes(name):
    return {k: ast.literal_eval(s) for k, s in (l.split('\t') for l in (FIX/name).read_text().splitlines())}


def official_like_state(shapes:dict) -> dict:
    "Deterministic, well-conditioned weights for a state dict with the official key names and shapes"
    haar = wavelet_filters('db1')[0][:, None]
    sd = {}
    for k, shape in shapes.items():
        g = torch.Generator().manual_seed(zlib.crc32(k.encode()))
        rnd = lambda: torch.randn(shape, generator=g)
        if k.endswith('num_batches_tracked'): sd[k] = torch.tensor(0)
        elif k.endswith('wt_filter'): sd[k] = haar.repeat(shape[0] // 4, 1, 1, 1)
        elif k.endswith('running_var'): sd[k] = 0.5 + torch.rand(shape, generator=g)
        elif k.endswith('running_mean'): sd[k] = 0.1 * rnd()
        elif 'scale' in k: sd[k] = 0.5 + 0.1 * rnd()
        elif len(shape) == 1: sd[k] = (1. if k.endswith('weight') else 0.) + 0.1 * rnd()
        else: sd[k] = rnd() / math.sqrt(math.prod(shape[1:]))
    return sd


def inputs(size=64):
    g = torch.Generator().manual_seed(0)
    return torch.rand(1, 3, size, size, generator=g) * 2 - 1, torch.rand(1, 3, size, size, generator=g) * 2 - 1


def test_generator_and_awl_match_official_code():
    ref = torch.load(FIX/'ceff_official_64.pt', weights_only=True)
    g_sd, ihc_sd = official_ceff_state(official_like_state(shapes('ceff_official_G_keys.tsv')))
    G = CEFFGenerator(ResNetEncoder())
    G.load_state_dict(g_sd)
    x, real = inputs()
    with torch.no_grad(): y = G.eval()(x)
    assert y.shape == ref['y'].shape and y.std() > 0.1          # a non-trivial output...
    torch.testing.assert_close(y, ref['y'], atol=2e-5, rtol=0)   # ...equal to the official one
    E = ResNetEncoder(); E.load_state_dict(ihc_sd)
    w = AdaptiveL1(E).weights(y, real)
    torch.testing.assert_close(w[0], 100 * ref['sims'], atol=1e-3, rtol=0)   # official s = (1 + cos) / 2, ours 50 + 50 cos


def test_official_encoder_checkpoint_loads():
    sd = official_like_state(shapes('ceff_official_Encoder_keys.tsv'))
    m = DualEncoder(init=False)
    m.load_state_dict(official_encoder_state(sd))
    torch.testing.assert_close(m.he.fc.weight, sd['encoder1.fc.weight'])
    torch.testing.assert_close(m.ihc.body[10].conv[5].weight, sd['encoder2.conv.10.conv_block.5.weight'])


def test_official_checkpoint_file_matches_official_code_at_256(tmp_path):
    "The user's path: the authors' `latest_net_G.pth` through `load_official_ceff`, at the official 256x256 crop"
    ref = torch.load(FIX/'ceff_official_256.pt', weights_only=True)
    path = tmp_path/'latest_net_G.pth'
    # the official save_networks writes `net.module.cpu().state_dict()` on GPU, `net.cpu().state_dict()` on CPU: no 'module.' prefix
    torch.save(official_like_state(shapes('ceff_official_G_keys.tsv')), path)
    G = load_official_ceff(path)
    assert not G.training
    x, _ = inputs(256)
    with torch.no_grad(): y = G(x)
    assert y.shape == (1, 3, 256, 256) and y.std() > 0.1         # a non-trivial output...
    torch.testing.assert_close(y[..., ::4, ::4], ref['y_sub'], atol=2e-5, rtol=0)   # ...equal to the official one
    torch.testing.assert_close(y.mean(), ref['mean'], atol=1e-5, rtol=0)
    torch.testing.assert_close(y.std(), ref['std'], atol=1e-5, rtol=0)
