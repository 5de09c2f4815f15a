"""The cases of the inputs-and-outputs sweep (tests/test_sweep_io.py): command lines that would destroy an input,
write a slide into a folder, or read a broken model or weight file. Each ends in one line naming the file and the
fix, exits non-zero, prints no traceback, and changes nothing on disk. `make_lab` builds what they run on."""
import argparse, json, os, shutil, subprocess, sys, zipfile
from pathlib import Path

import numpy as np

BIN = Path(sys.executable).parent

BAD_IO = [  # (command line, what the one line must name, class)
    # an output that is, contains or lies inside an input: refused even with --overwrite
    ('ihc-stain {lab}/he.png {lab}/he.png --model {lab}/tiny.stainer --overwrite', 'is the input', 'input destroyed'),
    ('ihc-stain {lab}/he.png {lab}/hard.png --model {lab}/tiny.stainer --overwrite', 'is the input', 'input destroyed'),
    ('ihc-stain {lab}/he.png {lab}/soft.png --model {lab}/tiny.stainer --overwrite', 'is the input', 'input destroyed'),
    ('ihc-stain {lab}/ds/HE/test {lab}/ds/HE/test --model {lab}/tiny.stainer', 'is the input', 'input destroyed'),
    ('ihc-stain {lab}/ds/HE/test {lab}/ds/HE/test --model {lab}/tiny.stainer --overwrite', 'is the input',
     'input destroyed'),
    ('ihc-stain {lab}/ds/HE/test {lab}/ds/HE/test/ihc --model {lab}/tiny.stainer', 'lies inside the input',
     'input destroyed'),
    ('ihc-stain {lab}/ds/HE/test {lab}/ds --model {lab}/tiny.stainer', 'contains the input', 'input destroyed'),
    ('ihc-stain {lab}/slide.tif {lab}/slide.tif --model {lab}/tiny.stainer --overwrite', 'is the input',
     'input destroyed'),
    ('ihc-cohort {lab}/self.csv --model {lab}/tiny.stainer --out {lab}/cohort', 'row 1: the output',
     'input destroyed'),
    ('ihc-cohort {lab}/default.csv --model {lab}/tiny.stainer --out {lab} --overwrite', 'is its slide',
     'input destroyed'),
    ('ihc-cohort {lab}/cross.csv --model {lab}/tiny.stainer --out {lab}/cohort --overwrite', 'is the slide of row 2',
     'input destroyed'),
    ('ihc-eval {lab}/ds/HE/test {lab}/ds/IHC/test --out {lab}/ds/HE/test/m.csv', 'lies inside the generated folder',
     'input destroyed'),
    ('ihc-eval {lab}/ds/HE/test {lab}/ds/IHC/test --out {lab}/ds/IHC/test/m.csv --overwrite',
     'lies inside the real folder', 'input destroyed'),
    ('ihc-eval {lab}/ds/HE/test {lab}/ds/IHC/test --out {lab}/cal.csv --calibration {lab}/cal.json --overwrite',
     'its summary', 'input destroyed'),
    # refused before the work, not after it
    ('ihc-stain {lab}/slide.tif {lab}/ds --model {lab}/tiny.stainer', 'is a folder: slide.tif is stained into a file',
     'late'),
    ('ihc-stain {lab}/slide.tif {lab}/ds --model {lab}/tiny.stainer --overwrite', 'is a folder', 'late'),
    ('ihc-stain {lab}/he.png {lab}/ds --model {lab}/tiny.stainer', 'is a folder: he.png is stained into a file',
     'late'),
    ('ihc-stain {lab}/ds/HE/test {lab}/he.png --model {lab}/tiny.stainer', 'is a file', 'late'),
    ('ihc-cohort {lab}/dir.csv --model {lab}/tiny.stainer --out {lab}/cohort', 'is a folder', 'late'),
    # inputs decoded as a viewer shows them, or refused
    ('ihc-stain {lab}/wild.tif {lab}/wild.png --model {lab}/tiny.stainer', 'holds floats in -5..', 'bad value'),
    # model and weight files: one line naming the file, what it holds and what was expected
    ('ihc-stain {lab}/he.png {lab}/o1.png --model {lab}/bad/empty.stainer', 'empty.stainer holds nothing',
     'model file'),
    ('ihc-stain {lab}/he.png {lab}/o2.png --model {lab}/bad/cut.stainer', 'cut.stainer is truncated', 'model file'),
    ('ihc-stain {lab}/he.png {lab}/o3.png --model {lab}/bad/pickled.stainer', 'holds pickled Python objects',
     'model file'),
    ('ihc-stain {lab}/he.png {lab}/o4.png --model {lab}/bad/text.stainer', 'text.stainer holds text', 'model file'),
    ('ihc-stain {lab}/he.png {lab}/o5.png --model {lab}/bad/newer.stainer', 'written by a newer PyTorch',
     'model file'),
    ('ihc-stain {lab}/he.png {lab}/o6.png --model {lab}/bad/foreign.stainer',
     'foreign.stainer holds 1 tensors (w, ...): expected an ihc_nb stainer file', 'model file'),
    ('ihc-stain {lab}/he.png {lab}/o7.png --model {lab}/bad/future.stainer', 'unknown stainer format', 'model file'),
    ('ihc-stain {lab}/he.png {lab}/o8.png --model {lab}/bad/method.stainer',
     "cannot build (ValueError: unknown method 'cutt'", 'model file'),
    ('ihc-stain {lab}/he.png {lab}/o9.png --model {lab}/bad/option.stainer', 'asks for a model this ihc_nb cannot build',
     'model file'),
    ('ihc-stain {lab}/he.png {lab}/o10.png --model {lab}/bad/edited.stainer',
     'edited.stainer does not fit the cut generator', 'model file'),
    ('ihc-stain {lab}/he.png {lab}/o11.png --model {lab}/bad/image.stainer', 'image.stainer holds a PNG image',
     'model file'),
    ('ihc-stain {lab}/he.png {lab}/o12.png --model {lab}/badrun', 'last.pth is truncated', 'model file'),
    ('ihc-stain {lab}/he.png {lab}/o13.png --model {lab}/otherrun', 'does not fit a cut model', 'model file'),
    ('ihc-eval {lab}/ds/HE/test {lab}/ds/IHC/test --out {lab}/fid.csv --metrics fid --weights {lab}/badweights',
     'pt_inception-2015-12-05-6726825d.pth holds nothing', 'model file'),
]


def run(*args, cwd=None, env=None, **kw):
    "Run a console script of this environment"
    return subprocess.run([str(BIN/str(args[0])), *map(str, args[1:])], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})}, timeout=600, **kw)


def _stainers(lab:Path):
    "A tiny random CUT stainer file, and stainer files broken every way a user meets"
    import torch
    from ihc_nb.methods import METHODS
    from ihc_nb.stainer import Stainer
    opts = dict(ngf=4, ndf=4, n_blocks=1)
    Stainer(METHODS['cut'].build(**opts).G, dict(method='cut', options=opts, tile=64), device='cpu').save(lab/'tiny.stainer')
    bad, good = lab/'bad', (lab/'tiny.stainer').read_bytes()
    bad.mkdir()
    ck = torch.load(lab/'tiny.stainer', weights_only=True)
    cfg = json.loads(ck['config'])
    (bad/'empty.stainer').write_bytes(b'')
    (bad/'cut.stainer').write_bytes(good[:len(good) // 2])
    torch.save(dict(config=ck['config'], state=argparse.Namespace(x=1)), bad/'pickled.stainer')
    (bad/'text.stainer').write_text('model: cut\nweights: elsewhere\n')
    with zipfile.ZipFile(lab/'tiny.stainer') as zi, zipfile.ZipFile(bad/'newer.stainer', 'w') as zo:
        for n in zi.namelist(): zo.writestr(zi.getinfo(n), b'99\n' if n.endswith('/version') else zi.read(n))
    torch.save({'w': torch.zeros(3)}, bad/'foreign.stainer')
    for name, c in dict(future=dict(cfg, format='ihc_nb-stainer/99'), method=dict(cfg, method='cutt'),
                        option=dict(cfg, options=dict(opts, nope=1)),
                        edited=dict(cfg, options=dict(opts, ngf=8))).items():
        torch.save(dict(ck, config=json.dumps(c)), bad/f'{name}.stainer')
    (bad/'image.stainer').write_bytes((lab/'he.png').read_bytes())


def _runs(lab:Path):
    "Run folders whose checkpoint is cut short, or of another network"
    import torch
    from ihc_nb.methods import METHODS
    for name in ('badrun', 'otherrun'):
        (lab/name/'checkpoints').mkdir(parents=True)
        info = dict(method='cut', options=dict(ngf=4, ndf=4, n_blocks=1), dataset='ds', settings=dict(crop=64))
        (lab/name/'run.json').write_text(json.dumps(info))
    model = METHODS['cut'].build(ngf=8, ndf=4, n_blocks=1)
    torch.save(dict(model=model.state_dict(), epoch=1), lab/'otherrun/checkpoints/last.pth')
    good = (lab/'otherrun/checkpoints/last.pth').read_bytes()
    (lab/'badrun/checkpoints/last.pth').write_bytes(good[:len(good) // 2])


def _manifests(lab:Path):
    "Manifests whose output is a slide of theirs, by name or by default, or a folder"
    (lab/'self.csv').write_text('slide,output\nslide.tif,../slide.tif\n'.replace('../', str(lab) + '/'))
    (lab/'default.csv').write_text('slide\nslide.tif\n')          # --out {lab}: the default output is slide.tif
    (lab/'cross.csv').write_text(f'slide,output\nslide.tif,{lab}/slide2.tif\nslide2.tif,x.tif\n')
    (lab/'dir.csv').write_text(f'slide,output\nslide.tif,{lab}/ds\n')


def make_lab(root:Path) -> Path:
    "A dataset, an H&E image and its links, two small slides, stainers, runs, manifests, broken weights"
    from PIL import Image
    import tifffile
    from ihc_nb.synth import synthetic_slide
    r = run('ihc-synth', '--out', root/'ds', '--n', 6, '--size', 64, '--workers', 1)
    assert r.returncode == 0, r.stderr
    shutil.copy(sorted((root/'ds/HE/test').iterdir())[0], root/'he.png')
    os.link(root/'he.png', root/'hard.png'); (root/'soft.png').symlink_to(root/'he.png')
    for i, name in enumerate(('slide.tif', 'slide2.tif')): synthetic_slide(root/name, 1024, 768, seed=i)
    tifffile.imwrite(root/'wild.tif', np.linspace(-5, 2540, 64 * 64, dtype=np.float32).reshape(64, 64))
    (root/'cal.json').write_text('{"thresholds": [0.1, 0.2, 0.3]}')
    (root/'badweights').mkdir(); (root/'badweights/pt_inception-2015-12-05-6726825d.pth').write_bytes(b'')
    _stainers(root); _runs(root); _manifests(root)
    return root


def snapshot(root:Path) -> dict:
    "{path: bytes digest} of every file under `root` (links as links)"
    import hashlib
    out = {}
    for p in sorted(root.rglob('*')):
        if p.is_symlink(): out[str(p)] = 'link:' + os.readlink(p)
        elif p.is_file(): out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out
