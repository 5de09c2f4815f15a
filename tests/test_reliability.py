"""A bad day is handled: a run folder in use is refused, a corrupt checkpoint costs one epoch, a misspelt notebook
parameter stops before any work. Each asserts the exit code, the absence of a traceback, the named file or option,
and that nothing was lost."""
import json, os, signal, subprocess, sys, time
from pathlib import Path

import pandas as pd
import pytest

BIN = Path(sys.executable).parent
NBS = Path(__file__).resolve().parent.parent/'nbs'
TINY = ['--method', 'pix2pix', '--crop', '32', '--batch-size', '4', '--valid-n', '2', '--epochs-decay', '0', '--num-workers', '0',
        '--options', json.dumps(dict(ngf=8, ndf=8, num_downs=5))]


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp('bad-day')
    r = subprocess.run([str(BIN/'ihc-synth'), '--out', str(root/'ds'), '--n', '16', '--size', '64', '--workers', '1'],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    (root/'settings.ini').write_text('[ihc_nb]\nruns = runs\n\n[DEFAULT]\nlr = 2e-4\n')
    return root


def ihc_train(lab, *args, wait=True):
    cmd = [str(BIN/'ihc-train'), '--dataset', str(lab/'ds'), *TINY, *map(str, args)]
    env = {**os.environ, 'IHC_NB_SETTINGS': str(lab/'settings.ini')}
    if not wait: return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=lab)
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=lab, timeout=600)


def epochs_done(run):
    f = run/'history.csv'
    return len(pd.read_csv(f)) if f.exists() and f.stat().st_size else 0


def test_run_in_use_is_refused_and_a_corrupt_checkpoint_costs_one_epoch(lab):
    run = lab/'runs/dup'
    first = ihc_train(lab, '--run', 'dup', '--seed', 0, '--epochs', 200, wait=False)
    t0 = time.time()
    while epochs_done(run) < 2:                        # two epochs saved: last.pth and the one before it
        assert first.poll() is None and time.time() - t0 < 400, 'the first run did not start training'
        time.sleep(0.5)
    second = ihc_train(lab, '--run', 'dup', '--seed', 1, '--lr', 0.001, '--epochs', 200)
    assert second.returncode == 1 and 'Traceback' not in second.stderr
    assert f'is in use by process {first.pid}' in second.stderr and str(run) in second.stderr
    first.send_signal(signal.SIGKILL); first.wait()
    assert json.loads((run/'run.json').read_text())['seed'] == 0          # the first run's record is intact
    h = pd.read_csv(run/'history.csv')
    assert list(h.epoch) == list(range(len(h)))                          # one run's epochs, each once
    last = run/'checkpoints/last.pth'
    last.write_bytes(last.read_bytes()[:last.stat().st_size // 2])        # the last checkpoint cut in half
    again = ihc_train(lab, '--run', 'dup', '--seed', 0, '--epochs', 1)     # a killed process leaves no lock behind
    assert again.returncode == 0, again.stderr[-2000:]
    assert 'last.pth is truncated' in again.stdout and 'resuming from the checkpoint before it, last.prev.pth' in again.stdout
    assert 'Traceback' not in again.stderr


def test_misspelt_notebook_parameter_stops_before_work(lab, tmp_path):
    r = subprocess.run([str(BIN/'papermill'), str(NBS/'pretrain_encoders.ipynb'), str(tmp_path/'out.ipynb'), '--cwd', str(NBS),
                        '-p', 'dataset', str(lab/'ds'), '-p', 'epoch', '1', '-p', 'run', 'enc-typo'],
                       capture_output=True, text=True, timeout=600, env={**os.environ, 'IHC_NB_SETTINGS': str(lab/'settings.ini')})
    assert r.returncode != 0
    assert 'unknown parameter epoch (papermill -p): out.ipynb takes dataset, crop, batch_size, epochs,' in r.stderr
    assert not (lab/'runs/enc-typo').exists()                             # stopped before the run folder was made
