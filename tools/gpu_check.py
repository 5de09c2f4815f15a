"""The figures of `tools/gpu_check.sh`: every measurement a GPU machine owes us, printed as it comes and written
to one JSON file (rewritten after each step, so a run cut short keeps what it measured).

    python tools/gpu_check.py OUT.json                    # on a GPU: the sizes of issue 20
    python tools/gpu_check.py OUT.json --device cpu --tiny   # the dry run (tests/test_gpu_check.py)

Steps: the GPU cells of the notebooks (`pytest --flags gpu`), `ihc-bench --compare` of every method at 512
(bf16: inference tiles/s, MFU, training steps/s, peak memory), CEFF training at crop 1024 (peak memory), the slide
pipeline with a ResNet-6blocks stainer on a generated 20000 x 16000 slide (slide tiles/s against the model's own),
a 2-slide cohort on the local cluster (`LocalCUDACluster` where CUDA and dask-cuda are present)."""
import argparse, datetime, json, os, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FULL = dict(sizes=[512], methods=None, ceff_crop=1024, slide=(20000, 16000), tile=512, ngf=64, blocks=6,
            cohort=(4096, 3072), repeat=3, batch=8)
TINY = dict(sizes=[64], methods=['pix2pix'], ceff_crop=64, slide=(1024, 768), tile=128, ngf=8, blocks=1,
            cohort=(768, 512), repeat=1, batch=2)


def record(out:Path, figures:dict, step:str, value): # the JSON, what it holds, the step and its figures
    "Print `value` as step `step` and rewrite `out` with every figure so far"
    figures[step] = value
    print(f'[{step}] {json.dumps(value, default=str)}', flush=True)
    tmp = out.with_suffix('.tmp')
    tmp.write_text(json.dumps(figures, indent=1, default=str)); tmp.replace(out)


def gpu_cells(device:str) -> dict:
    "`pytest --flags gpu` on the notebooks that have `#| gpu` cells (on a GPU only)"
    nbs = [str(p) for p in sorted((ROOT/'nbs').glob('[0-9]*.ipynb')) if '#| gpu' in p.read_text()]
    if device != 'cuda': return dict(notebooks=nbs, skipped='no GPU: the cells need CUDA')
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, '-m', 'pytest', '-q', '--flags', 'gpu', *nbs], cwd=ROOT,
                       capture_output=True, text=True)
    return dict(notebooks=nbs, returncode=r.returncode, summary=r.stdout.strip().splitlines()[-1:],
                seconds=time.perf_counter() - t0)


def methods(device:str, s:dict) -> dict:
    "`ihc-bench --compare` of every method: bf16 inference tiles/s, MFU, training steps/s, peak memory"
    from ihc_nb.bench import bench_table
    df = bench_table(s['methods'], s['sizes'], device, compare=True, repeat=s['repeat'], batch=s['batch'])
    return dict(device=df.attrs['device'], peak=df.attrs['peak'], rows=df.round(4).to_dict('records'))


def ceff_crop(device:str, s:dict) -> dict:
    "CEFF training at the big crop: a step's peak memory (GiB) and steps/s"
    from ihc_nb.bench import bench_method
    r = bench_method('ceff', s['ceff_crop'], device, batch=1, repeat=1)
    return dict(crop=s['ceff_crop'], train_peak_gib=r['train_peak_gib'], train_steps_s=r['train_steps_s'])


def resnet_stainer(device:str, s:dict, tile:int):
    "A random-init ResNet generator stainer (`ngf`, `blocks`) for `tile` px tiles on `device`"
    import torch
    from ihc_nb.methods import METHODS
    from ihc_nb.stainer import Stainer
    torch.manual_seed(0)
    opts = dict(METHODS['cut'].options, ngf=s['ngf'], n_blocks=s['blocks'])
    G = METHODS['cut'].skeleton_model(opts).G
    return Stainer(G, dict(method='cut', options=opts, tile=tile), device=device, batch_size=s['batch'])


def model_rate(st) -> float:
    "The stainer's own tiles/s: 8-bit tiles already on the device, stained and rounded there"
    import torch
    from ihc_nb.usage import measure
    x = torch.randint(0, 256, (st.batch_size, st.tile, st.tile, 3), dtype=torch.uint8, device=st.device)
    return st.batch_size / measure(lambda: st.stain_uint8(x), st.device, repeat=3)['seconds']


def slide(device:str, s:dict, work:Path) -> dict:
    "The slide pipeline on a generated slide: its tissue tiles/s against the model's own tiles/s"
    from ihc_nb.synth import synthetic_slide
    from ihc_nb.wsi import open_job, stain_slide
    from ihc_nb.blending import tile_starts
    st, (w, h) = resnet_stainer(device, s, s['tile']), s['slide']
    t0 = time.perf_counter(); src = synthetic_slide(work/'he.tif', w, h); made = time.perf_counter() - t0
    job = open_job(st, src)
    xs, ys = tile_starts(job.width, st.tile, st.overlap), tile_starts(job.height, st.tile, st.overlap)
    tissue = sum(job.is_tissue(x, y, st.tile) for y in ys for x in xs)
    t0 = time.perf_counter(); stain_slide(st, src, work/'ihc.tif', progress=False)
    secs, own = time.perf_counter() - t0, model_rate(st)
    return dict(slide=f'{w}x{h}', tile=st.tile, tiles=len(xs) * len(ys), tissue_tiles=tissue, seconds=secs,
                slide_tiles_s=tissue / secs, model_tiles_s=own, slide_over_model=tissue / secs / own,
                generate_seconds=made)


def cohort(device:str, s:dict, work:Path) -> dict:
    "A 2-slide cohort on the local cluster (one worker per GPU with CUDA): its report and the cluster's kind"
    import torch
    from ihc_nb.cohort import stain_cohort
    from ihc_nb.synth import synthetic_slide
    resnet_stainer('cpu', s, s['tile']).save(work/'model.stainer')
    for i in range(2): synthetic_slide(work/f'c{i}.tif', *s['cohort'], seed=i)
    (work/'manifest.csv').write_text('slide\nc0.tif\nc1.tif\n')
    gpus = torch.cuda.device_count() if device == 'cuda' else 0
    try: import dask_cuda; kind = 'LocalCUDACluster' if gpus else 'LocalCluster'  # noqa: F401
    except ImportError: kind = 'a pinned worker per GPU' if gpus else 'LocalCluster'
    t0 = time.perf_counter()
    rep = stain_cohort(work/'manifest.csv', work/'model.stainer', work/'out', device=device)
    return dict(cluster=kind, gpus=gpus, seconds=time.perf_counter() - t0,
                rows=rep[['slide', 'status', 'tiles', 'seconds', 'tiles_per_s']].to_dict('records'))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('out'); p.add_argument('--device', default='cuda'); p.add_argument('--tiny', action='store_true')
    a = p.parse_args(argv)
    import torch
    if a.device == 'cuda' and not torch.cuda.is_available():
        sys.exit('error: --device cuda: no CUDA device here; give --device cpu (with --tiny) for the dry run')
    out, s, figures = Path(a.out), TINY if a.tiny else FULL, {}
    record(out, figures, 'machine', dict(date=datetime.datetime.now(datetime.UTC).isoformat(timespec='seconds'),
           device=torch.cuda.get_device_name() if a.device == 'cuda' else f'CPU, {os.cpu_count()} cores',
           torch=torch.__version__, tiny=a.tiny))
    with tempfile.TemporaryDirectory() as d:
        steps = dict(gpu_cells=lambda: gpu_cells(a.device), methods=lambda: methods(a.device, s),
                     ceff_crop=lambda: ceff_crop(a.device, s), slide=lambda: slide(a.device, s, Path(d)),
                     cohort=lambda: cohort(a.device, s, Path(d)/'cohort'))
        for name, fn in steps.items():
            if name == 'cohort': (Path(d)/'cohort').mkdir()
            t0 = time.perf_counter()
            try: record(out, figures, name, dict(fn(), step_seconds=time.perf_counter() - t0))
            except Exception as e: record(out, figures, name, dict(error=f'{type(e).__name__}: {e}'))
    failed = [k for k, v in figures.items() if 'error' in v]
    print(f'figures in {out}' + (f'; failed: {", ".join(failed)}' if failed else ''))
    return 1 if failed else 0


if __name__ == '__main__': sys.exit(main())
