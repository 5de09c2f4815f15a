"""Training in two processes (torchrun, Gloo on the CPU): each trains on its half of the data, the gradients
of both steps are averaged, the weights stay identical, and only the main process writes the run."""
import os, re, subprocess, sys
from pathlib import Path

import pandas as pd

from ihc_nb.synth import make_synthetic


def test_two_processes_stay_in_sync(tmp_path):
    make_synthetic(tmp_path/'tiny', n=12, size=64, seed=0, progress=False, n_workers=0)
    (tmp_path/'settings.ini').write_text('[ihc_nb]\nruns = runs\n\n[tiny]\npath = tiny\nlayout = bci\nvalid_n = 2\n')
    env = {**os.environ, 'IHC_NB_SETTINGS': str(tmp_path/'settings.ini'), 'OMP_NUM_THREADS': '1'}
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', '--no-python',
           str(Path(sys.executable).parent/'ihc-train'), '--method', 'pix2pix', '--dataset', 'tiny', '--crop', '32', '--batch-size', '2',
           '--epochs', '1', '--epochs-decay', '1', '--lr', '1e-3', '--num-workers', '0', '--device', 'cpu',
           '--options', '{"ngf": 8, "ndf": 8, "num_downs": 5}']
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    sums = dict(re.findall(r'rank (\d): weights checksum (-?\d+\.\d{6})', r.stdout))
    assert set(sums) == {'0', '1'} and sums['0'] == sums['1'], r.stdout[-2000:]
    run = tmp_path/'runs/pix2pix-tiny'
    assert list(pd.read_csv(run/'history.csv').epoch) == [0, 1]
    assert {'run.json', 'results.csv', 'samples.png', 'losses.png'} <= {p.name for p in run.iterdir()}
