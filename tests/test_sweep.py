"""A sweep of bad command lines through every console script (and the experiment notebooks under papermill): each
ends in one line naming the option, file or key at fault, exits non-zero, prints no traceback, and leaves every
input and earlier output as it was (checksums). Each case carries its class, so that README can count them. The
cases of class 'logs' are good command lines whose output is a file: they succeed and write no progress frames."""
import hashlib, json, os, shutil, subprocess, sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
NBS = Path(__file__).resolve().parent.parent/'nbs'
CLASSES = ('input destroyed', 'concurrent writer', 'run record', 'bad value', 'model file', 'traceback', 'late',
           'unclear', 'logs', 'existing')
TINY = ('--method pix2pix --crop 32 --batch-size 4 --valid-n 2 --epochs 1 --epochs-decay 0 --num-workers 0 '
        '--options {{"ngf":8,"ndf":8,"num_downs":5}}')
WIDER = TINY.replace('"ngf":8', '"ngf":16')
SETTINGS = """[ihc_nb]
runs = runs

[DEFAULT]
lr = 2e-4
crop = 32
batch_size = 1

[ds]
path = ds
layout = bci

[nopath]
layout = bci

[badcrop]
path = ds
layout = bci
crop = abc

[negbatch]
path = ds
batch_size = -2

[neglr]
path = ds
lr = -1e-4

[negepochs]
path = ds
epochs = -5

[badbool]
path = ds
multimag = ture

[negvalid]
path = ds
valid_n = -1
"""


def sh(cmd, cwd, env=None, **kw):
    return subprocess.run([str(BIN/cmd[0]), *cmd[1:]], capture_output=True, text=True, cwd=cwd, timeout=600,
                          env={**os.environ, **(env or {})}, **kw)


def paired_with_splits(root):
    "A `paired` dataset with train/ test/ below HE/ and IHC/, matched by stem (H&E .png, IHC .jpg): BCI's folders"
    from PIL import Image
    for side, ext in (('HE', 'png'), ('IHC', 'jpg')):
        for split in ('train', 'test'):
            (root/side/split).mkdir(parents=True)
            for i in range(2): Image.new('RGB', (64, 64), (200, 100 + i, 150)).save(root/side/split/f'p{i}.{ext}')


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    "A tiny dataset and another, a finished run (`rec`), a settings.ini with good and broken sections"
    root = tmp_path_factory.mktemp('sweep')
    env = {'IHC_NB_SETTINGS': str(root/'settings.ini')}
    for name, n in (('ds', 6), ('ds2', 8)):
        r = sh(['ihc-synth', '--out', str(root/name), '--n', str(n), '--size', '64', '--workers', '1'], root)
        assert r.returncode == 0, r.stderr
    (root/'settings.ini').write_text(SETTINGS)
    (root/'broken.ini').write_text('[ds\npath = ds\n')
    (root/'notes.txt').write_text('not an image')
    (root/'one-test').mkdir()
    for side in ('HE', 'IHC'):        # a dataset with one test image: too few for the bootstrap of reproduce
        shutil.copytree(root/'ds'/side, root/'one-test'/side)
        for f in sorted((root/'one-test'/side/'test').iterdir())[1:]: f.unlink()
    paired_with_splits(root/'paired')
    r = sh(['ihc-train', '--dataset', 'ds', '--run', 'rec', *TINY.replace('{{', '{').replace('}}', '}').split()],
           root, env)
    assert r.returncode == 0, r.stderr[-2000:]
    return root


BAD = [  # (command line, what the one line must name, class)
    ('ihc-synth --out {lab}/syn2 --n -1', '--n -1', 'existing'),
    ('ihc-check-data nosuch-dataset', 'nosuch-dataset', 'existing'),
    ('ihc-check-data {lab}/missing-folder', 'missing-folder', 'existing'),
    ('ihc-check-data ds --layout weird', 'weird', 'existing'),
    ('ihc-check-data nopath', '[nopath]', 'existing'),
    ('ihc-check-data badcrop', 'crop', 'existing'),
    ('ihc-train --method pix2pixx --dataset ds', 'pix2pixx', 'existing'),
    ('ihc-train --method pix2pix --dataset ds --options {{bad', '--options', 'existing'),
    ('ihc-train --method pix2pix --dataset ds --options {{"nope":1}}', 'nope', 'existing'),
    ('ihc-train --method pix2pix --dataset ds --epochs -1', '--epochs', 'existing'),
    ('ihc-train --method pix2pix --dataset nosuch-dataset', 'nosuch-dataset', 'existing'),
    ('ihc-train --method pix2pix --dataset ds --run ..', 'run name', 'existing'),
    ('ihc-train --method pix2pix --dataset ds --crop 48', 'crops that work: 256', 'existing'),
    ('ihc-train --method asp --dataset ds --crop 64', '--crop 64', 'existing'),
    ('ihc-eval {lab}/nope {lab}/ds/IHC/test', 'nope', 'existing'),
    ('ihc-eval {lab}/ds/HE/test {lab}/ds/IHC/test --metrics nope', 'nope', 'existing'),
    ('ihc-eval {lab}/ds/IHC/test {lab}/ds/IHC/test', 'both the generated and the real folder', 'existing'),
    ('ihc-eval {lab}/ds/HE/test {lab}/ds/IHC/test --metrics dab_mask --mpp -1', '--mpp -1', 'bad value'),
    ('ihc-eval {lab}/ds/HE/test {lab}/ds/IHC/test --metrics dab_mask --dab-threshold brown', '--dab-threshold brown', 'bad value'),
    ('ihc-stain {lab}/ds/HE/test {lab}/out', '--model', 'existing'),
    ('ihc-stain {lab}/ds/HE/test {lab}/out --model {lab}/notes.txt', 'notes.txt', 'existing'),
    ('ihc-stain {lab}/nope.png {lab}/out.png --model {lab}/notes.txt', 'nope.png', 'existing'),
    ('ihc-stain {lab}/ds/HE/test {lab}/out3 --model {lab}/notes.txt --compression lzw', '--compression lzw', 'existing'),
    ('ihc-stain {lab}/ds/HE/test {lab}/out4 --model {lab}/notes.txt --tile -64', '--tile -64', 'existing'),
    ('ihc-bench --methods nope --sizes 64', 'nope', 'existing'),
    ('ihc-stain {lab}/ds/HE/test {lab}/out8 --model {lab}/notes.txt --workers 0', '--workers 0', 'bad value'),
    ('ihc-bench --pipeline --workers 0', '--workers 0', 'bad value'),
    ('ihc-cohort {lab}/nosuch.csv --model {lab}/notes.txt --out {lab}/c1', 'nosuch.csv', 'existing'),
    ('ihc-cohort {lab}/notes.txt --model {lab}/notes.txt --out {lab}/c2', 'no `slide` column', 'existing'),
    # values checked where they enter: options, settings.ini keys, papermill parameters, devices
    ('ihc-train --method pix2pix --dataset ds --batch-size -1', '--batch-size -1: give a whole number >= 1', 'bad value'),
    ('ihc-train --method pix2pix --dataset ds --lr -0.001', '--lr -0.001: give a number > 0', 'bad value'),
    ('ihc-train --method pix2pix --dataset ds --epochs two', '--epochs two: give a whole number', 'bad value'),
    ('ihc-train --method pix2pix --dataset ds --crop 100.5', '--crop 100.5: give a whole number', 'bad value'),
    ('ihc-train --method pix2pix --dataset ds --multimag ture', '--multimag ture: give True or False', 'bad value'),
    ('ihc-train --method pix2pix --dataset ds --augment flip', '--augment flip: give one of dihedral', 'bad value'),
    ('ihc-train --method ammfi --dataset ds --upscaler bicubic', '--upscaler bicubic', 'bad value'),
    ('ihc-train --method pix2pix --dataset ds --options {{"ngf":"wide"}}', '--options ngf wide', 'bad value'),
    ('ihc-train --method pix2pix --dataset negbatch', '[negbatch] batch_size = -2', 'bad value'),
    ('ihc-train --method pix2pix --dataset neglr', '[neglr] lr = -0.0001', 'bad value'),
    ('ihc-train --method pix2pix --dataset negepochs', '[negepochs] epochs = -5', 'bad value'),
    ('ihc-train --method pix2pix --dataset badbool', '[badbool] multimag = ture: give True or False', 'bad value'),
    ('ihc-check-data negvalid', '[negvalid] valid_n = -1', 'bad value'),
    ('ihc-synth --out {lab}/syn3 --n 4 --test-frac -0.2', '--test-frac -0.2: give a number >= 0 and < 1', 'bad value'),
    ('ihc-stain {lab}/ds/HE/test {lab}/out5 --model {lab}/notes.txt --batch-size -4', '--batch-size -4', 'bad value'),
    ('ihc-eval {lab}/ds/HE/test {lab}/ds/IHC/test --ci -5', '--ci -5', 'bad value'),
    ('papermill {nbs}/train.ipynb {lab}/pm1.ipynb --cwd {nbs} -p dataset {lab}/ds -p epochs two',
     'papermill -p epochs two: give a whole number', 'bad value'),
    ('papermill {nbs}/train.ipynb {lab}/pm2.ipynb --cwd {nbs} -p dataset {lab}/ds -p crop 100.5',
     'papermill -p crop 100.5: give a whole number', 'bad value'),
    ('papermill {nbs}/train.ipynb {lab}/pm3.ipynb --cwd {nbs} -p dataset {lab}/ds -p options ngf:_8',
     "papermill -p options 'ngf: 8': give a JSON object", 'bad value'),
    # faults that ended in a traceback
    ('ihc-train --method pix2pix --dataset ds --device gpu', '--device gpu: not a device', 'traceback'),
    ('ihc-train --method pix2pix --dataset ds --device gpu0', '--device gpu0: not a device', 'traceback'),
    ('ihc-train --method pix2pix --dataset ds --device cuda:99', '--device cuda:99: this machine has', 'traceback'),
    ('ihc-eval {lab}/ds/HE/test {lab}/ds/IHC/test --device gpu', '--device gpu: not a device', 'traceback'),
    ('ihc-stain {lab}/ds/HE/test {lab}/out6 --model {lab}/notes.txt --device gpu', '--device gpu', 'traceback'),
    ('ihc-train --method cut --dataset ds --options {{"ngf":0}}', '--options ngf 0: give a whole number >= 1', 'traceback'),
    ('ihc-train --method cut --dataset ds --options {{"n_blocks":0}}', '--options n_blocks 0', 'traceback'),
    ('ihc-train --method ceff --dataset ds --options {{"ngf":-8}}', '--options ngf -8', 'traceback'),
    # refused only after long work
    ('ihc-train --method ceff --dataset ds --augment flip', '--augment flip', 'late'),
    ('papermill {nbs}/reproduce.ipynb {lab}/pm4.ipynb --cwd {nbs} -p dataset {lab}/one-test -p out {lab}/rp',
     'one-test', 'late'),
    # messages that did not say what to fix
    ('ihc-stain {lab}/ds/HE/test {lab}/out7 --model {lab}/notes.txt --tile 0', '--tile 0: give a whole number >= 1', 'unclear'),
    ('ihc-check-data {lab}/paired', '--layout paired', 'unclear'),
    ('ulimit-f=40 ihc-synth --out {lab}/big --n 4 --size 256 --workers 1', 'big.partial/', 'unclear'),   # 'File too large'
    ('ihc-train --method pix2pix --dataset {lab}/paired', '--layout paired', 'unclear'),
    # run records that cannot lie: a finished run resumed with other settings
    (f'ihc-train --dataset ds --run rec {TINY} --seed 1', 'seed 0 -> 1', 'run record'),
    (f'ihc-train --dataset ds --run rec {TINY} --lr 0.001', 'lr 0.0002 -> 0.001', 'run record'),
    (f'ihc-train --dataset ds --run rec {TINY.replace("--crop 32", "--crop 64")}', 'crop 32 -> 64', 'run record'),
    (f'ihc-train --dataset ds --run rec {TINY.replace("--batch-size 4", "--batch-size 2")}', 'batch_size 4 -> 2',
     'run record'),
    (f'ihc-train --dataset ds2 --run rec {TINY}', 'data.path', 'run record'),
    (f'ihc-train --dataset ds --run rec {WIDER}',
     'options.ngf 8 -> 16', 'run record'),
    (f'ihc-train --dataset ds --run rec {TINY} --augment hflip', 'augment dihedral -> hflip', 'run record'),
    # logs: output that is not a terminal gets plain lines (these two succeed: their log is what is checked)
    (f'ihc-train --dataset ds --run logs {TINY.replace("--epochs 1", "--epochs 2")}', 'epoch 2/2', 'logs'),
    ('ihc-stain {lab}/ds/HE/test {lab}/stained --model {lab}/runs/rec', 'stained', 'logs'),
]
assert all(c in CLASSES for *_, c in BAD), [c for *_, c in BAD if c not in CLASSES]


def checksums(root:Path) -> dict:
    "sha256 of every file under `root` (lock files left out: a refused writer may take and drop a lock)"
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob('*'))
            if p.is_file() and p.name != '.lock'}


def file_size_limit(blocks:int):
    "A `preexec_fn` limiting the size of every file the command writes (`ulimit -f`, in 512-byte blocks)"
    import resource
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (blocks * 512, resource.RLIM_INFINITY))


def run_line(lab, line):
    "Run a line of `BAD` in `lab` (`ulimit-f=N ` before it: with files limited to N blocks)"
    limit = int(line.split()[0].split('=')[1]) if line.startswith('ulimit-f=') else None
    args = [a.replace('_', ' ') if a.startswith('ngf:_') else a
            for a in line.format(lab=lab, nbs=NBS).split()[1 if limit else 0:]]
    return sh(args, lab, {'IHC_NB_SETTINGS': str(lab/'settings.ini')},
              preexec_fn=file_size_limit(limit) if limit else None)


def one_line(r) -> str:
    "The fault line: the one line of stderr (papermill: the line of the error it reports)"
    lines = [l for l in r.stderr.strip().splitlines() if l.strip()]
    if r.args[0].endswith('papermill'): lines = [l for l in lines if 'give' in l or 'error' in l.lower()][-1:]
    return lines[0] if len(lines) == 1 else '\n'.join(lines)


@pytest.mark.parametrize('line,names,cls', BAD, ids=[f'{c}: ' + b.split(' ', 1)[1][:60] for b, _, c in BAD])
def test_bad_command_line(lab, line, names, cls):
    before = checksums(lab)
    r = run_line(lab, line)
    if cls == 'logs': return check_log(r, names, before, checksums(lab))
    assert r.returncode != 0, r.stdout[-500:]
    if not r.args[0].endswith('papermill'): assert 'Traceback' not in r.stderr + r.stdout, r.stderr[-3000:]
    line_said = one_line(r)
    assert '\n' not in line_said, r.stderr[-2000:]
    assert names in line_said, r.stderr[-1000:]
    after = checksums(lab)
    assert {k: v for k, v in after.items() if k in before} == before, 'an input or an earlier output changed'


def check_log(r, names, before, after):
    "A command whose output is a file (not a terminal): exit 0, `names` said, no carriage-return frames"
    assert r.returncode == 0, r.stderr[-2000:]
    assert names in r.stdout + r.stderr and '\r' not in r.stdout + r.stderr, (r.stdout + r.stderr)[-2000:]
    assert {k: v for k, v in after.items() if k in before} == before, 'an input or an earlier output changed'


def test_malformed_settings_file(lab):
    r = subprocess.run([str(BIN/'ihc-check-data'), 'ds'], capture_output=True, text=True, cwd=lab,
                       env={**os.environ, 'IHC_NB_SETTINGS': str(lab/'broken.ini')})
    assert r.returncode == 1 and 'Traceback' not in r.stderr and 'broken.ini' in r.stderr
