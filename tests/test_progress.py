"""A long run shows its progress: the README's papermill commands print one line per epoch, and the main command
redirected to a file (a Slurm log) keeps every line of every notebook it runs, with no carriage-return frames."""
import os, re, subprocess, sys
from pathlib import Path

from test_experiments import lab  # noqa: F401  (the tiny synthetic lab, a pytest fixture)

ROOT = Path(__file__).resolve().parent.parent
NBS, BIN = ROOT/'nbs', Path(sys.executable).parent


def readme_flags() -> str:
    "What README's main command passes to each papermill run after the output notebook (the same for each)"
    lines = (ROOT/'README.md').read_text().splitlines()
    cmd = lines[lines.index('<!-- ci:main -->') + 2]
    runs = re.findall(r'papermill \S+ \S+ (.*?)(?: &&|$)', cmd)
    assert runs and len(set(runs)) == 1 and '/dev/stdout' not in runs[0], cmd
    return runs[0]


def papermill(nb, out, *params) -> str:
    "A papermill command line as README's main command writes one"
    return ' '.join([str(BIN/'papermill'), str(NBS/nb), str(out), '--cwd', str(NBS), *params, readme_flags()])


def test_papermill_prints_every_epoch(lab, tmp_path):  # noqa: F811
    r = subprocess.run(papermill('pretrain_encoders.ipynb', tmp_path/'out.ipynb', '-p dataset tiny -p ngf 8 -p run enc-progress'),
                       shell=True, capture_output=True, text=True, timeout=900, env=os.environ)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [l for l in r.stdout.splitlines() if l.startswith('epoch ')]
    assert [l.split(':')[0] for l in lines] == ['epoch 1/2', 'epoch 2/2'], r.stdout[-2000:]
    assert all('train_loss' in l and 'retrieval_acc' in l and 'elapsed, ~' in l and 'left' in l for l in lines)


def random_stainer(path) -> Path:
    "A stainer file of a random-init CUT generator (ngf 8, 2 blocks) trained on nothing, at `path`"
    import torch
    from ihc_nb.methods import build_method
    from ihc_nb.stainer import Stainer
    torch.manual_seed(0)
    G = build_method('cut', ngf=8, n_blocks=2).G
    Stainer(G, dict(method='cut', options=dict(ngf=8, n_blocks=2), dataset='tiny', tile=32), device='cpu').save(path)
    return path


def test_main_command_redirected_keeps_every_line(lab, tmp_path):  # noqa: F811
    "Two notebooks in a row, as the main command runs them, into one file: every epoch line and the evaluation kept, no frames"
    log = tmp_path/'run.log'
    train = papermill('pretrain_encoders.ipynb', tmp_path/'out1.ipynb', '-p dataset tiny -p ngf 8 -p run enc-log')
    model = random_stainer(tmp_path/'cut.stainer')
    evaluate = papermill('evaluate.ipynb', tmp_path/'out2.ipynb', f'-p run {model} -p dataset tiny -p device cpu')
    r = subprocess.run(f'( {train} && {evaluate} ) > {log}', shell=True, capture_output=True, text=True, timeout=1800,
                       env=os.environ)
    assert r.returncode == 0, log.read_text()[-2000:]
    text = log.read_text()
    assert [l.split(':')[0] for l in text.splitlines() if l.startswith('epoch ')] == ['epoch 1/2', 'epoch 2/2'], text[-3000:]
    assert '\r' not in text and 'Traceback' not in text
    assert not [l for l in text.splitlines() if l.startswith('[') and not l.startswith('[IPKernelApp]')], 'a raw stats list: fastai logs where the epoch line should'
    assert '<progress' not in text and '<div' not in text, [l for l in text.splitlines() if '<' in l][:3]   # no HTML bars
    assert 'PSNR' in text and 'SSIM' in text and 'vs IHC' in text, text[-3000:]   # the evaluation's table
