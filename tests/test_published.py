"""Every published configuration of the reference codes imports exactly: a checkpoint the reference code saved
(its own generator, options, `save_networks`; fixed random weights, moved by training-mode forwards) becomes a
stainer whose output equals the reference's, to 1e-5 (fp32, max absolute difference), at 256 and 1024 px, in both
test-time behaviours: `test.py` (norm_stats 'image') and `test.py --eval` (norm_stats 'running'), dropout off.

The fixtures (`fixtures/published/<config>/`, made by running the reference codes; see nbs/17d_published.ipynb)
hold the key list, the tensors that moved, the run's train_opt.txt and the outputs (subsampled 64 x 64, with the
full output's mean and std). CEFF's is also at 512 px; its reference attention over every position needs about 50 GB
at 1024 px, so its 1024 px output was made with that attention taken 4096 query rows at a time (the same arithmetic
per row: at 256 and 512 px the blocked reference gives the unblocked one's output bit for bit). ASP's BCI and MIST
releases share one generator (and its fixture), as do CUT and FastCUT.
"""
from pathlib import Path

import pytest
import torch

from ihc_nb.published import fixed_state, import_checkpoint

FIX = Path(__file__).parent/'fixtures'
PUB = FIX/'published'
CONFIGS = {  # config: (--code, the fixture holding its generator, method, sizes)
    'asp_mist': ('asp', 'asp_mist', 'asp', (256, 1024)),
    'asp_bci': ('asp', 'asp_mist', 'asp', (256, 1024)),
    'pyramidp2p_bci': ('bci', 'pyramidp2p_bci', 'pyramidp2p', (256, 1024)),
    'cut': ('cut', 'cut', 'cut', (256, 1024)),
    'fastcut': ('cut', 'cut', 'fastcut', (256, 1024)),
    'cyclegan': ('cyclegan', 'cyclegan', 'cyclegan', (256, 1024)),
    'pix2pix': ('pix2pix', 'pix2pix', 'pix2pix', (256, 1024)),
    'ceff': ('ceff', 'ceff', 'ceff', (256, 512, 1024)),
}
CASES = [(c, ns, S) for c, v in CONFIGS.items() for S in v[3] for ns in ('image', 'running')]


def reference_run(config, root):
    "A reference run folder: the checkpoint as the reference saved it, its train_opt.txt beside it"
    code, same = CONFIGS[config][:2]
    keys = FIX/'ceff_official_G_keys.tsv' if config == 'ceff' else PUB/same/'keys.tsv'
    run = root/config
    if not run.exists():
        run.mkdir(parents=True)
        name = 'latest_net_G_A.pth' if code == 'cyclegan' else 'latest_net_G.pth'
        torch.save(fixed_state(keys, PUB/same/'moved.pt'), run/name)
        (run/'train_opt.txt').write_text((PUB/config/'train_opt.txt').read_text())
    return run


def ref_input(S):
    g = torch.Generator().manual_seed(0)
    return torch.rand(1, 3, S, S, generator=g) * 2 - 1


@pytest.fixture(scope='module')
def runs(tmp_path_factory): return tmp_path_factory.mktemp('reference_runs')


@pytest.mark.parametrize('config,norm_stats,S', CASES)
def test_import_reproduces_reference(config, norm_stats, S, runs):
    code, same, method = CONFIGS[config][:3]
    st = import_checkpoint(reference_run(config, runs), code, norm_stats=norm_stats, tile=S, device='cpu')
    assert (st.config['method'], st.config['norm_stats'], st.config['dropout']) == (method, norm_stats, 'off')
    ref = torch.load(PUB/same/'out.pt', weights_only=True)[f"{'train' if norm_stats == 'image' else 'eval'}_{S}"]
    y = st.stain_tensor(ref_input(S))
    assert y.shape == (1, 3, S, S) and float(y.std()) > 0.1
    step = S // 64
    assert float((y[..., ::step, ::step] - ref['y_sub']).abs().max()) <= 1e-5
    assert abs(float(y.mean() - ref['mean'])) <= 1e-5 and abs(float(y.std() - ref['std'])) <= 1e-5


@pytest.mark.parametrize('config', ['asp_mist', 'pyramidp2p_bci', 'pix2pix', 'ceff'])
def test_the_two_behaviours_differ_beyond_the_tolerance(config):
    "Where the reference's two test-time behaviours differ, 1e-5 tells them apart: each test pins one"
    out = torch.load(PUB/CONFIGS[config][1]/'out.pt', weights_only=True)
    assert float((out['train_256']['y_sub'] - out['eval_256']['y_sub']).abs().max()) > 1e-4


def test_releases_named_by_their_runs(runs):
    "ASP's two releases share a generator; the run's name in train_opt.txt finds its release and its numbers"
    ids = {c: import_checkpoint(reference_run(c, runs), 'asp', tile=256, device='cpu').config['name']
           for c in ('asp_mist', 'asp_bci')}
    assert ids == {'asp_mist': 'asp-mist-her2', 'asp_bci': 'asp-bci'}
