"""`stain_cohort` on a Dask cluster of 2 CPU worker processes, as a study would run it: one worker is SIGKILLed in the
middle of a slide, the cohort still completes, and its outputs are byte for byte those of a single-process
`stain_slide`; a corrupt file is reported failed with its reason; a rerun stains nothing; `ihc-cohort` refuses a bad
manifest in one line and exits 1 when a slide failed."""
import os, signal, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip('distributed')
pytest.importorskip('openslide')
import torch
from distributed import Client, LocalCluster

from ihc_nb.cohort import stain_cohort
from ihc_nb.methods import METHODS
from ihc_nb.slidestate import rows_done
from ihc_nb.stainer import Stainer
from ihc_nb.synth import synthetic_slide
from ihc_nb.wsi import stain_slide

NAMES = ['s0', 's1', 's2']
CLI = Path(sys.executable).parent/'ihc-cohort'


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    "A tiny random-init CUT stainer file, 3 synthetic slides (1536 x 1024), a truncated slide, and their manifest"
    root = tmp_path_factory.mktemp('cohort')
    torch.manual_seed(0)
    opts = dict(METHODS['cut'].options, ngf=16, n_blocks=2)
    G = METHODS['cut'].skeleton_model(opts).G
    Stainer(G, dict(method='cut', options=opts, tile=128), device='cpu').save(root/'tiny.stainer')
    for i, n in enumerate(NAMES): synthetic_slide(root/'slides'/f'{n}.tif', 1536, 1024, seed=i)
    (root/'slides/broken.tif').write_bytes((root/'slides/s0.tif').read_bytes()[:3000])   # corrupt: cut short
    (root/'slides/manifest.csv').write_text('slide\n' + ''.join(f'{n}.tif\n' for n in NAMES) + 'broken.tif\n')
    return root


@pytest.fixture(scope='module')
def reference(lab):
    "The slides stained by `stain_slide` in this process, on one thread (as a Dask worker runs), no cluster"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    st = Stainer.load(lab/'tiny.stainer', device='cpu')
    try: return {n: stain_slide(st, lab/'slides'/f'{n}.tif', lab/'ref'/f'{n}.tif', progress=False).read_bytes()
                 for n in NAMES}
    finally: torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def cluster():
    "The default cluster of `stain_cohort`, started here so that the test can find and kill its workers"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c, Client(c) as cl:
        yield c.scheduler_address, cl


def _rows(output:Path) -> int:
    try: return rows_done(output)
    except (OSError, ValueError): return 0   # the partial folder went away as we read it: the slide is done


def kill_mid_slide(client, out:Path, timeout:float=240) -> tuple[str, int]:
    "SIGKILL the worker process staining the first slide with finished tile rows; (that slide, its rows done then)"
    t0 = time.time()
    while time.time() - t0 < timeout:
        for n in NAMES:
            if (done := _rows(out/f'{n}.tif')) < 1: continue
            busy = [a for a, keys in client.processing().items() if any(f'stain-{n}.tif-' in str(k) for k in keys)]
            if busy:
                os.kill(client.run(os.getpid)[busy[0]], signal.SIGKILL)
                return n, done
        time.sleep(0.05)
    raise AssertionError(f'no slide had a finished tile row within {timeout} s')


@pytest.fixture(scope='module')
def run(lab, cluster):
    "The cohort stained on the cluster, one worker killed mid-slide: (the report, the killed slide, its rows done)"
    with ThreadPoolExecutor(1) as ex:
        fut = ex.submit(stain_cohort, lab/'slides/manifest.csv', lab/'tiny.stainer', lab/'out', scheduler=cluster[0],
                        device='cpu')
        killed, at = kill_mid_slide(cluster[1], lab/'out')
        df = fut.result(timeout=600)
    return df.set_index(df.slide.map(lambda s: Path(s).stem)), killed, at


def test_a_killed_worker_loses_nothing(lab, reference, run):
    df, killed, at = run
    assert list(df.status) == ['stained'] * 3 + ['failed']
    assert df.resumed_rows[killed] >= at >= 1                # its slide went on from the rows the dead worker finished
    assert (df.resumed_rows[[n for n in NAMES if n != killed]] == 0).all()
    for n in NAMES: assert (lab/'out'/f'{n}.tif').read_bytes() == reference[n], n   # as an uninterrupted run
    assert not [p.name for p in (lab/'out').iterdir() if p.name.startswith('.')]       # no partial folder left


def test_the_report(lab, run):
    df = pd.read_csv(lab/'out/cohort.csv', keep_default_na=False).set_index('slide')
    broken = str(lab/'slides/broken.tif')
    assert df.status[broken] == 'failed'
    assert df.reason[broken].startswith(f'{broken} is not a whole-slide image OpenSlide can read')
    ok = df[df.status == 'stained']
    assert len(ok) == 3 and (ok['size'] == '1536x1024').all() and (ok.tiles.astype(int) > 0).all()
    assert (ok.output == [str(lab/'out'/f'{n}.tif') for n in NAMES]).all() and ok.model_key.nunique() == 1
    assert {f'{n}.tif.json' for n in NAMES} <= {p.name for p in (lab/'out').iterdir()}
    assert (lab/'out/cohort.png').stat().st_size > 10_000


def test_a_rerun_stains_nothing(lab, cluster, run, capsys):
    before = {n: (lab/'out'/f'{n}.tif').stat().st_mtime_ns for n in NAMES}
    df = stain_cohort(lab/'slides/manifest.csv', lab/'tiny.stainer', lab/'out', scheduler=cluster[0], device='cpu')
    assert 'skipped 3, stained 0, failed 1 of 4 slides' in capsys.readouterr().out
    assert list(df.status) == ['skipped'] * 3 + ['failed']
    assert {n: (lab/'out'/f'{n}.tif').stat().st_mtime_ns for n in NAMES} == before


def cli(*args):
    return subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True, timeout=300)


def test_cli_refuses_a_bad_manifest(lab, tmp_path):
    (tmp_path/'m.csv').write_text('path\nslides/s0.tif\n')
    for manifest, msg in [(tmp_path/'m.csv', f'{tmp_path/"m.csv"} has no `slide` column (its columns: path): '
                                             f'name the column of slide paths `slide`'),
                          (tmp_path/'none.csv', f'{tmp_path/"none.csv"} does not exist: give a CSV manifest with a '
                                                f'`slide` column')]:
        r = cli(manifest, '--model', lab/'tiny.stainer', '--out', tmp_path/'out')
        assert (r.returncode, r.stderr.strip().splitlines()) == (1, [f'error: {msg}']), r.stderr[-2000:]
    assert not (tmp_path/'out').exists()


def test_cli_exits_1_when_a_slide_failed(lab, cluster, tmp_path):
    (tmp_path/'m.csv').write_text(f'slide\n{lab}/slides/broken.tif\nnothing.tif\n')
    r = cli(tmp_path/'m.csv', '--model', lab/'tiny.stainer', '--out', tmp_path/'out', '--scheduler', cluster[0],
            '--device', 'cpu')
    assert r.returncode == 1 and 'Traceback' not in r.stderr, r.stderr[-2000:]
    assert r.stderr.strip().splitlines()[-1].startswith(f'error: 2 of 2 slides failed (see {tmp_path}/out/cohort.csv)')
    df = pd.read_csv(tmp_path/'out/cohort.csv')
    assert list(df.status) == ['failed', 'failed'] and df.reason[1] == f'{tmp_path}/nothing.tif does not exist'
