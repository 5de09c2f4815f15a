"""The package's shape: imports run one way (settings/files -> data -> networks -> losses -> training -> evaluation
-> staining -> experiments), no module over 450 lines, and importing the training side pulls in no evaluation code."""
import ast, subprocess, sys
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent/'ihc_nb'
FLOORS = [  # from the bottom up; a module may import its own floor and those below
    ('settings/files', {'settings', 'files', 'stages', 'checks', 'progress', 'guards', 'weightfile'}),   # stages: the generic
    # concurrency kit; checks: values where they enter; guards: outputs never touch inputs, output locks, reopen checks;
    # weightfile: the one loader of weight files
    ('data', {'tissue', 'synth', 'data', 'loaders', 'measures', 'multimag', 'pyramid', 'splits', 'blending'}),
    ('networks', {'layers', 'vmfe', 'fusion', 'awl', 'ammfi'}),
    ('losses', {'gan', 'losses'}),           # the GAN losses, PatchNCE / ASP, and the models built on them
    ('training', {'training', 'learner', 'encoders', 'ceff', 'runs', 'methods'}),
    ('evaluation', {'metricbase', 'her2', 'features', 'stats', 'metrics', 'evaluation', 'stainmetrics'}),
    ('staining', {'modelfolder', 'stainer', 'hub', 'published', 'slidestate', 'wsi', 'cohort', 'usage', 'bench'}),   # bench times the slide pipeline too
    ('experiments', {'papers', 'experiments'}),   # the papers' tables: train, stain and evaluate every row
]
FLOOR = {m: i for i, (_, ms) in enumerate(FLOORS) for m in ms}


def imports(mod):
    "The ihc_nb modules that `mod` imports, at the top or inside functions"
    tree = ast.parse((PKG/f'{mod}.py').read_text())
    out = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom) and n.module:
            name = n.module.removeprefix('ihc_nb.').lstrip('.') if n.level or n.module.startswith('ihc_nb') else None
            if name: out.add(name.split('.')[0])
        elif isinstance(n, ast.ImportFrom) and n.level and not n.module: out |= {a.name for a in n.names}
    return out - {mod, 'ihc_nb', ''}


def test_every_module_has_a_floor():
    mods = {p.stem for p in PKG.glob('*.py')} - {'__init__', '_modidx'}
    assert mods == set(FLOOR), f'floors to assign: {mods - set(FLOOR)}; gone: {set(FLOOR) - mods}'


def test_imports_run_one_way():
    up = {(m, i) for m in FLOOR for i in imports(m) if i in FLOOR and FLOOR[i] > FLOOR[m]}
    assert not up, f'imports that run up a floor: {sorted(up)}'


def test_no_module_over_450_lines():
    assert {p.name: n for p in PKG.glob('*.py') if p.name != '_modidx.py'
            for n in [len(p.read_text().splitlines())] if n > 450} == {}


def test_training_pulls_in_no_evaluation():
    code = 'import sys, ihc_nb.methods; print(" ".join(m for m in sys.modules if m.startswith("ihc_nb.")))'
    loaded = {m.removeprefix('ihc_nb.') for m in subprocess.run([sys.executable, '-c', code], capture_output=True,
                                                                  text=True, check=True).stdout.split()}
    assert loaded and not loaded & (FLOORS[5][1] | FLOORS[6][1] | FLOORS[7][1]), loaded


def test_code_meets_its_shape_targets():
    "tools/code_measures.py: function and export-cell lengths, definitions per cell, long lines, boolean test_eq"
    root = PKG.parent
    r = subprocess.run([sys.executable, str(root/'tools'/'code_measures.py'), '--check'], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
