"""The shape of the code, measured as in fastai's course22p2 `miniai` and fastcore: the same script runs over any
nbdev repository's notebooks, so ours can be held against theirs.

    python tools/code_measures.py                     # ihc_nb's nbs/, with the targets
    python tools/code_measures.py --by-notebook       # ...and a line per notebook
    python tools/code_measures.py PATH/nbs PATH/nbs   # other repositories' notebooks, side by side
    python tools/code_measures.py --check             # exit 1 if a target is missed (tests/test_structure.py)

What is measured, over the notebooks' export cells (`#| export`, `#| exports`): every function's length (its `def`
line to its last line), every export cell's length (non-blank lines, directives left out), the share of export cells
defining three or more top-level functions or classes, the share of their non-blank lines over 100 characters;
over every code cell: the share of `test_eq` calls that compare with a literal `True` or `False` (a test that shows
no values); and the package modules at the structure test's line cap.
"""
import argparse, ast, json, re, sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {   # measure: (largest value allowed, strictly below it?)
    'function p90': (12, False), 'export cell p90': (20, False), 'cells >= 3 definitions %': (5, True),
    'lines > 100 chars %': (7, True), 'boolean test_eq %': (3, True), 'modules at the line cap': (0, False)}
LINE_CAP = 450   # tests/test_structure.py


def code_cells(nb:Path):
    "The source of every code cell of notebook `nb`"
    for c in json.loads(nb.read_text()).get('cells', []):
        if c['cell_type'] == 'code': yield ''.join(c['source']) if isinstance(c['source'], list) else c['source']


def is_export(src:str) -> bool: return any(re.match(r'#\s*\|\s*exports?\b', l) for l in src.splitlines())
def body_lines(src:str) -> list: return [l for l in src.splitlines() if l.strip() and not re.match(r'#\s*\|', l)]


def parse(src:str):
    "The cell's syntax tree (IPython magics and shell lines blanked), or None"
    try: return ast.parse('\n'.join('' if l.lstrip()[:1] in '%!' else l for l in src.splitlines()))
    except SyntaxError: return None


def n_definitions(tree) -> int:
    return sum(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in tree.body)


def function_lengths(tree) -> list:
    return [n.end_lineno - n.lineno + 1 for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def test_eqs(tree) -> tuple:
    "(test_eq calls, those comparing with a literal True or False)"
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, 'id', None) == 'test_eq']
    return len(calls), sum(any(isinstance(a, ast.Constant) and isinstance(a.value, bool) for a in c.args) for c in calls)


def raw(nbs:list) -> dict:
    "The counts behind the measures, over notebooks `nbs`"
    r = dict(functions=[], cells=[], defs3=0, lines=0, long=0, teq=0, bool_teq=0)
    for nb in nbs:
        for src in code_cells(nb):
            tree = parse(src)
            if tree is not None: r['teq'], r['bool_teq'] = (a + b for a, b in zip((r['teq'], r['bool_teq']), test_eqs(tree)))
            if not is_export(src): continue
            body = body_lines(src)
            r['cells'].append(len(body)); r['lines'] += len(body); r['long'] += sum(len(l) > 100 for l in body)
            if tree is not None: r['functions'] += function_lengths(tree); r['defs3'] += n_definitions(tree) >= 3
    return r


def at_cap(lib:Path) -> list:
    return [p.name for p in sorted(lib.glob('*.py')) if p.name != '_modidx.py' and len(p.read_text().splitlines()) >= LINE_CAP]


def pct(a, b): return round(100 * a / b, 1) if b else 0.


def q(xs): return (float(np.median(xs)), round(float(np.percentile(xs, 90)), 1), max(xs)) if xs else (0, 0, 0)


def measures(nbs:list, lib:Path|None=None) -> dict:
    "The measures of notebooks `nbs` (and of package folder `lib`)"
    r = raw(nbs)
    (fm, f90, fmax), (cm, c90, cmax) = q(r['functions']), q(r['cells'])
    return {'export cells': len(r['cells']), 'function median': fm, 'function p90': f90, 'function max': fmax,
            'export cell median': cm, 'export cell p90': c90, 'export cell max': cmax,
            'cells >= 3 definitions %': pct(r['defs3'], len(r['cells'])), 'lines > 100 chars %': pct(r['long'], r['lines']),
            'boolean test_eq %': pct(r['bool_teq'], r['teq']),
            'modules at the line cap': len(at_cap(lib)) if lib else None}


def missed(m:dict) -> list:
    "The targets measures `m` miss, as lines"
    return [f'{k} = {m[k]} (target {"<" if strict else "<="} {lim})' for k, (lim, strict) in TARGETS.items()
            if m[k] is not None and (m[k] >= lim if strict else m[k] > lim)]


def table(cols:dict) -> str:
    "A Markdown table: a row per measure, a column per measured folder"
    keys = list(next(iter(cols.values())))
    head = '| measure | ' + ' | '.join(cols) + ' | target |\n|---|' + '---|' * (len(cols) + 1)
    tgt = lambda k: (f'{"<" if TARGETS[k][1] else "<="} {TARGETS[k][0]}' if k in TARGETS else '')
    fmt = lambda v: '-' if v is None else (f'{v:g}' if isinstance(v, float) else str(v))
    return head + ''.join(f'\n| {k} | ' + ' | '.join(fmt(c[k]) for c in cols.values()) + f' | {tgt(k)} |' for k in keys)


def measures_table():
    "ihc_nb's measures beside the targets, as a DataFrame (README's development section)"
    import pandas as pd
    m = measures(sorted((ROOT/'nbs').glob('*.ipynb')), ROOT/'ihc_nb')
    tgt = lambda k: f'{"<" if TARGETS[k][1] else "<="} {TARGETS[k][0]}' if k in TARGETS else ''
    return pd.DataFrame({'ihc_nb': {k: f'{v:g}' if isinstance(v, float) else v for k, v in m.items()},
                         'target': {k: tgt(k) for k in m}}).rename_axis('measure')


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('folders', nargs='*', help='notebook folders (default: this repository\'s nbs/)')
    ap.add_argument('--by-notebook', action='store_true', help='also a line per notebook')
    ap.add_argument('--check', action='store_true', help='exit 1 if ihc_nb misses a target')
    a = ap.parse_args(argv)
    folders = [Path(f) for f in a.folders] or [ROOT/'nbs']
    ours = lambda f: f.resolve() == (ROOT/'nbs').resolve()
    cols = {str(f): measures(sorted(f.glob('*.ipynb')), ROOT/'ihc_nb' if ours(f) else None) for f in folders}
    print(table(cols))
    if a.by_notebook:
        for f in folders:
            for nb in sorted(f.glob('*.ipynb')):
                m = measures([nb])
                if m['export cells']: print(f'{nb.name:28s}', ', '.join(missed(m)) or 'meets the targets')
    bad = missed(measures(sorted((ROOT/'nbs').glob('*.ipynb')), ROOT/'ihc_nb')) if a.check else []
    if bad: sys.exit('missed: ' + '; '.join(bad))


if __name__ == '__main__': main()
