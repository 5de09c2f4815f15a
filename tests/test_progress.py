"""A long run shows its progress: the README's papermill commands print one line per epoch to the terminal."""
import os, subprocess, sys
from pathlib import Path

from test_experiments import lab  # noqa: F401  (the tiny synthetic lab, a pytest fixture)

NBS = Path(__file__).resolve().parent.parent/'nbs'
BIN = Path(sys.executable).parent


def test_papermill_prints_every_epoch(lab, tmp_path):  # noqa: F811
    r = subprocess.run([str(BIN/'papermill'), str(NBS/'pretrain_encoders.ipynb'), str(tmp_path/'out.ipynb'), '--cwd', str(NBS),
                        '-p', 'dataset', 'tiny', '-p', 'ngf', '8', '-p', 'run', 'enc-progress', '--stdout-file', '/dev/stdout'],
                       capture_output=True, text=True, timeout=900, env=os.environ)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [l for l in r.stdout.splitlines() if l.startswith('epoch ')]
    assert [l.split(':')[0] for l in lines] == ['epoch 1/2', 'epoch 2/2'], r.stdout[-2000:]
    assert all('train_loss' in l and 'retrieval_acc' in l and 'elapsed, ~' in l and 'left' in l for l in lines)
