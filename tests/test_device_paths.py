"""The GPU's code paths, exercised without a GPU (issue 20).

- bf16: one training step (D and G steps, optimizer updates) and one validation batch with the metrics, of every
  method, under `torch.autocast('cpu', torch.bfloat16)` and channels-last: the same `StainLearner` code the GPU
  runs (`bf16=True, channels_last=True`), catching dtype mismatches in losses, gradient penalties and metrics.
- fake CUDA: the stainer (model moved to `cuda`, channels-last, 8-bit tiles copied to the device, normalised,
  stained and rounded there), a tile row of a generated slide through the slide pipeline's device half, and one
  training forward (generate, D and G losses) of two methods, on `device='cuda'` under `FakeTensorMode`: fake
  CUDA tensors carry shapes, dtypes and devices without a GPU and raise on any host/device mix. Not covered
  there (only a GPU checks them): autocast on CUDA, backward, cuDNN, pinned-memory copies, the copy back to
  the host (`.cpu().numpy()` needs real data), NCCL, speed and memory.
- the cohort's cluster: with CUDA reported present by a test double, `local_cluster` starts dask-cuda's
  `LocalCUDACluster` (one single-threaded worker per GPU), or without dask-cuda one pinned worker per GPU id.
"""
import sys, types

import numpy as np
import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensorMode

from ihc_nb.bench import _learner, _method_model
from ihc_nb.methods import METHODS

SMALL = dict(ngf=8, ndf=8)   # the smallest models: the code path, not the capacity, is tested


def _small(name:str) -> dict:
    "Options that shrink `name`: narrow networks, one residual block where its generator has blocks"
    return dict(SMALL, **({'n_blocks': 1} if 'n_blocks' in METHODS[name].options else {}))


def _crop(name:str) -> int:
    "The smallest crop `name` takes: 128 px for the 5-layer discriminators of ASP and AMMFI, else 64"
    return 128 if METHODS[name].options.get('n_layers_d', 3) > 3 else 64


def _bf16_learner(name:str):
    "A `StainLearner` of a small `name` on the CPU with the GPU's settings: bf16 autocast, channels-last"
    torch.manual_seed(0)
    size = _crop(name)
    model, _ = _method_model(name, size, False, **_small(name))
    x = torch.rand(1, 3, size, size) * 2 - 1
    learn = _learner(model, x, torch.device('cpu'), fast=True)
    learn.xb, learn.yb = (x,), (x.flip(-1),)
    return learn


@pytest.mark.parametrize('name', list(METHODS))
def test_bf16_training_step(name):
    learn = _bf16_learner(name)
    assert learn.bf16 and learn.channels_last
    before = [p.detach().clone() for p in learn.model.G.parameters()]
    learn.model.train(); learn.training = True
    learn._do_one_batch()
    parts = {k: float(v) for k, v in learn.loss_parts.items()}
    assert parts and all(np.isfinite(v) for v in parts.values()), parts
    assert np.isfinite(float(learn.loss))
    assert any(not torch.equal(a, b) for a, b in zip(before, learn.model.G.parameters())), 'G not updated'
    learn.model.eval(); learn.training = False
    with torch.no_grad(): learn._do_one_batch()
    assert learn.pred.dtype == torch.float32 and np.isfinite(float(learn.loss))
    for m in learn.metrics[-2:]:                       # PSNR and SSIM on the bf16-autocast prediction
        m.reset(); m.accumulate(learn)
        assert np.isfinite(m.value), (m.name, m.value)


@pytest.fixture
def fake_cuda():
    "A `FakeTensorMode` in which tensors may claim `cuda` without a GPU; real tensors become fake ones"
    with FakeTensorMode(allow_non_fake_inputs=True) as mode: yield mode


def test_fake_cuda_catches_a_device_mix(fake_cuda):
    a = torch.zeros(4, 4, device='cuda')
    assert a.device.type == 'cuda' and (a + 1).device.type == 'cuda'
    with pytest.raises(Exception, match='device'): a @ torch.zeros(4, 4)


def _stain_on_device(make):
    "A stainer from `make`, 3 blank 8-bit tiles copied to its device, and their stained batch there"
    st = make()
    x = st._to_device([np.zeros((st.tile, st.tile, 3), np.uint8)] * 3)
    return st, x, st.stain_uint8(x)


def _stainer(tile:int=64):
    "A small CUT stainer on the (fake) CUDA device: made on the CPU, moved there as `Stainer` moves it"
    from ihc_nb.stainer import Stainer
    opts = dict(METHODS['cut'].options, **_small('cut'))
    G = METHODS['cut'].skeleton_model(opts).G
    return lambda device='cuda': Stainer(G, dict(method='cut', options=opts, tile=tile), device=device, bf16=False)


def test_stainer_on_fake_cuda():
    make = _stainer()                                   # real CPU weights, moved to fake CUDA by `Stainer`
    with FakeTensorMode(allow_non_fake_inputs=True): st, x, y = _stain_on_device(make)
    w = next(st.G.parameters())
    assert w.device.type == 'cuda' and w.is_contiguous(memory_format=torch.channels_last)
    assert (x.device.type, x.dtype, tuple(x.shape)) == ('cuda', torch.uint8, (3, 64, 64, 3))
    assert (y.device.type, y.dtype, tuple(y.shape)) == ('cuda', torch.uint8, (3, 64, 64, 3))


def test_slide_row_on_fake_cuda(tmp_path):
    "A tile row of a generated slide, read as the pipeline reads it, through the stainer's device half"
    pytest.importorskip('openslide')
    from concurrent.futures import ThreadPoolExecutor
    from ihc_nb.blending import RowBlender
    from ihc_nb.synth import synthetic_slide
    from ihc_nb.wsi import open_job, read_row
    make = _stainer(128)
    job = open_job(make('cpu'), synthetic_slide(tmp_path/'he.tif', 600, 400))   # the fingerprint reads bytes
    b = RowBlender(job.height, job.width, 128, 16)
    with ThreadPoolExecutor(2) as pool: tiles = read_row(job, b, 1, pool)
    with FakeTensorMode(allow_non_fake_inputs=True):
        st = make()
        y = st.stain_uint8(st._to_device(tiles))
    assert (y.device.type, y.dtype, tuple(y.shape)) == ('cuda', torch.uint8, (len(b.xs), 128, 128, 3))


@pytest.mark.parametrize('name', ['pix2pix', 'ceff'])
def test_training_forward_on_fake_cuda(name):
    "Generate, the D loss and the G loss of `name` on fake CUDA tensors: no tensor left on the host"
    torch.manual_seed(0)
    model, _ = _method_model(name, 128, False, **_small(name))
    with FakeTensorMode(allow_non_fake_inputs=True):
        model = model.to('cuda').train()
        he, ihc = torch.rand(1, 3, 128, 128, device='cuda'), torch.rand(1, 3, 128, 128, device='cuda')
        out = model.generate(he, ihc)
        losses = {**model.d_loss(he, ihc, out), **model.g_loss(he, ihc, out)}
    first = out[0] if isinstance(out, tuple) else out
    assert first.device.type == 'cuda' and tuple(first.shape) == (1, 3, 128, 128)
    assert losses and all(v.device.type == 'cuda' for v in losses.values()), losses


class _Recorder:
    "A test double of a cluster class: records how it was made"
    made = []
    def __init__(self, *args, **kwargs): _Recorder.made.append((args, kwargs))


def test_cohort_uses_local_cuda_cluster(monkeypatch):
    from ihc_nb.cohort import local_cluster
    _Recorder.made = []
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)
    monkeypatch.setitem(sys.modules, 'dask_cuda', types.SimpleNamespace(LocalCUDACluster=_Recorder))
    assert isinstance(local_cluster(workers=5), _Recorder)
    assert _Recorder.made == [((), dict(threads_per_worker=1, dashboard_address=None))]
    monkeypatch.setattr('distributed.LocalCluster', _Recorder)
    local_cluster(workers=3, device='cpu')               # --device cpu keeps to CPU processes
    assert _Recorder.made[-1][1] == dict(n_workers=3, threads_per_worker=1, processes=True,
                                         dashboard_address=None)


def test_cohort_pins_a_worker_per_gpu_without_dask_cuda(monkeypatch):
    from ihc_nb.cohort import local_cluster
    _Recorder.made = []
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)
    monkeypatch.setitem(sys.modules, 'dask_cuda', None)   # import fails
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '3,5,7')
    monkeypatch.setattr('distributed.SpecCluster', _Recorder)
    local_cluster()
    (_, kw), = _Recorder.made
    spec = {i: (w['options']['env'], w['options']['nthreads']) for i, w in kw['workers'].items()}
    assert spec == {0: ({'CUDA_VISIBLE_DEVICES': '3'}, 1), 1: ({'CUDA_VISIBLE_DEVICES': '5'}, 1)}
