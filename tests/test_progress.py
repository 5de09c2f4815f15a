"""A long run shows its progress: the README's papermill commands print one line per epoch, and the main command
redirected to a file (a Slurm log) keeps every line of every notebook it runs, with no carriage-return frames."""
import os, re, subprocess, sys
from pathlib import Path

from test_cli import tiny_stainer  # noqa: F401  (an untrained tiny CUT stainer file, a pytest fixture)
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


def test_main_command_redirected_keeps_every_line(lab, tiny_stainer, tmp_path):  # noqa: F811
    "Two notebooks in a row, as the main command runs them, into one file: every epoch line and the evaluation kept, no frames"
    log = tmp_path/'run.log'
    train = papermill('pretrain_encoders.ipynb', tmp_path/'out1.ipynb', '-p dataset tiny -p ngf 8 -p run enc-log')
    evaluate = papermill('evaluate.ipynb', tmp_path/'out2.ipynb', f'-p run {tiny_stainer} -p dataset tiny -p device cpu')
    r = subprocess.run(f'( {train} && {evaluate} ) > {log}', shell=True, capture_output=True, text=True, timeout=1800,
                       env=os.environ)
    assert r.returncode == 0, log.read_text()[-2000:]
    text = log.read_text()
    assert [l.split(':')[0] for l in text.splitlines() if l.startswith('epoch ')] == ['epoch 1/2', 'epoch 2/2'], text[-3000:]
    assert '\r' not in text and 'Traceback' not in text
    stats = [l for l in text.splitlines() if l.startswith('[') and not l.startswith('[IPKernelApp]')]
    assert not stats, stats[:3]   # fastai's raw list of an epoch's values, where the epoch line should stand alone
    assert '<progress' not in text and '<div' not in text, [l for l in text.splitlines() if '<' in l][:3]   # no HTML bars
    assert 'PSNR' in text and 'SSIM' in text and 'vs IHC' in text, text[-3000:]   # the evaluation's table
