"""A sweep of bad command lines through every console script: each ends in one line naming the option, file or key
at fault, exits non-zero, and prints no traceback. The table grows with every new option."""
import os, subprocess, sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    "A tiny dataset, a settings.ini with good and broken sections, an image claiming 20000 x 20000 pixels"
    root = tmp_path_factory.mktemp('sweep')
    r = subprocess.run([str(BIN/'ihc-synth'), '--out', str(root/'ds'), '--n', '6', '--size', '64', '--workers', '1'],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    (root/'settings.ini').write_text('[ihc_nb]\nruns = runs\n\n[DEFAULT]\nlr = 2e-4\ncrop = 32\nbatch_size = 1\n\n[ds]\npath = ds\nlayout = bci\n\n'
                                     '[nopath]\nlayout = bci\n\n[badcrop]\npath = ds\nlayout = bci\ncrop = abc\n')
    (root/'broken.ini').write_text('[ds\npath = ds\n')
    (root/'notes.txt').write_text('not an image')
    return root


BAD = [  # (command line, what the one line must name)
    ('ihc-synth --out {lab}/syn2 --n -1', 'n=-1'),
    ('ihc-check-data nosuch-dataset', 'nosuch-dataset'),
    ('ihc-check-data {lab}/missing-folder', 'missing-folder'),
    ('ihc-check-data ds --layout weird', 'weird'),
    ('ihc-check-data nopath', '[nopath]'),
    ('ihc-check-data badcrop', 'crop'),
    ('ihc-train --method pix2pixx --dataset ds', 'pix2pixx'),
    ('ihc-train --method pix2pix --dataset ds --options {{bad', '--options'),
    ('ihc-train --method pix2pix --dataset ds --options {{"nope":1}}', 'nope'),
    ('ihc-train --method pix2pix --dataset ds --epochs -1', '--epochs'),
    ('ihc-train --method pix2pix --dataset nosuch-dataset', 'nosuch-dataset'),
    ('ihc-train --method pix2pix --dataset ds --run ..', 'run name'),
    ('ihc-train --method pix2pix --dataset ds --crop 48', 'crops that work: 256'),
    ('ihc-train --method asp --dataset ds --crop 64', '--crop 64'),
    ('ihc-eval {lab}/nope {lab}/ds/IHC/test', 'nope'),
    ('ihc-eval {lab}/ds/HE/test {lab}/ds/IHC/test --metrics nope', 'nope'),
    ('ihc-eval {lab}/ds/IHC/test {lab}/ds/IHC/test', 'both the generated and the real folder'),
    ('ihc-stain {lab}/ds/HE/test {lab}/out', '--model'),
    ('ihc-stain {lab}/ds/HE/test {lab}/out --model {lab}/notes.txt', 'notes.txt'),
    ('ihc-stain {lab}/nope.png {lab}/out.png --model {lab}/notes.txt', 'nope.png'),
    ('ihc-stain {lab}/ds/HE/test {lab}/out3 --model {lab}/notes.txt --compression lzw', '--compression lzw'),
    ('ihc-stain {lab}/ds/HE/test {lab}/out4 --model {lab}/notes.txt --tile -64', '--tile -64'),
    ('ihc-bench --methods nope --sizes 64', 'nope'),
    ('ihc-stain {lab}/ds/HE/test {lab}/out5 --model {lab}/notes.txt --workers 0', '--workers 0'),
    ('ihc-bench --pipeline --workers 0', '--workers 0'),
    ('ihc-cohort {lab}/nosuch.csv --model {lab}/notes.txt --out {lab}/c1', 'nosuch.csv'),
    ('ihc-cohort {lab}/notes.txt --model {lab}/notes.txt --out {lab}/c2', 'no `slide` column'),
]


@pytest.mark.parametrize('line,names', BAD, ids=[b[0].split(' ', 2)[0] + ': ' + b[0].split(' ', 1)[1][:40] for b in BAD])
def test_bad_command_line(lab, line, names):
    args = line.format(lab=lab).split()
    r = subprocess.run([str(BIN/args[0]), *args[1:]], capture_output=True, text=True, cwd=lab, timeout=300,
                       env={**os.environ, 'IHC_NB_SETTINGS': str(lab/'settings.ini')})
    assert r.returncode != 0, r.stdout[-500:]
    assert 'Traceback' not in r.stderr + r.stdout, r.stderr[-3000:]
    assert names in r.stderr, r.stderr[-1000:]


def test_malformed_settings_file(lab):
    r = subprocess.run([str(BIN/'ihc-check-data'), 'ds'], capture_output=True, text=True, cwd=lab,
                       env={**os.environ, 'IHC_NB_SETTINGS': str(lab/'broken.ini')})
    assert r.returncode == 1 and 'Traceback' not in r.stderr and 'broken.ini' in r.stderr
