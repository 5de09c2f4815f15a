"""README.md is the rendering of nbs/index.ipynb (nbdev's README source) by nbconvert's Markdown exporter, with the
tables that registries and measurements own filled in where index.ipynb marks them (`<!-- table:NAME -->`): the
notebooks with their modules and summaries, the method table from `ihc_nb.methods.METHODS`, the metric table from `ihc_nb.metrics.METRICS`, the code's shape from
tools/code_measures.py. Quarto, which nbdev-readme needs, cannot be installed offline, so we render it ourselves:

    python tools/readme.py          # write README.md
    python tools/readme.py --check  # exit 1 if README.md is not up to date (CI runs this)
"""
import json, re, sys
from importlib import import_module
from pathlib import Path

from nbconvert import MarkdownExporter

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT/'tools')]   # this checkout's ihc_nb and tools
TABLES = {'notebooks': ('readme', 'notebook_table'), 'methods': ('ihc_nb.methods', 'method_table'),
          'metrics': ('ihc_nb.metrics', 'metric_table'), 'code_measures': ('code_measures', 'measures_table'),
          'sweep': ('readme', 'sweep_table')}
SWEEP_CLASSES = ('input destroyed', 'concurrent writer', 'run record', 'bad value', 'model file', 'traceback', 'late',
                 'unclear', 'logs', 'existing')


def markdown_table(df) -> str:
    "A DataFrame as a Markdown table: its index as the first column"
    head = [df.index.name or '', *map(str, df.columns)]
    rows = [[str(i), *map(str, r)] for i, r in zip(df.index, df.values.tolist())]
    return '\n'.join('| ' + ' | '.join(r) + ' |' for r in [head, ['---'] * len(head), *rows])


def notebook_summary(nb:Path) -> tuple:
    "(the module a numbered notebook exports, its summary: the `> ` line under its title)"
    cells = json.loads(nb.read_text())['cells']
    src = lambda c: ''.join(c['source'])
    module = next(m[1] for c in cells if (m := re.search(r'#\|\s*default_exp\s+(\S+)', src(c))))
    return f'`ihc_nb.{module}`', next(l[2:] for l in src(cells[0]).splitlines() if l.startswith('> '))


def notebook_table():
    "The numbered notebooks in reading order: the module each exports and what it holds, from its own summary"
    import pandas as pd
    nbs = sorted(p for p in (ROOT/'nbs').glob('*.ipynb') if p.name[0].isdigit())
    rows = {f'`{p.stem}`': dict(zip(('module', 'what it holds'), notebook_summary(p))) for p in nbs}
    return pd.DataFrame.from_dict(rows, orient='index').rename_axis('notebook')


def _literal(path:Path, name:str):
    "The literal assigned to `name` at the top of the Python file `path` (its elements kept as AST nodes if not literal)"
    import ast
    if not path.exists(): return None
    return next((n.value for n in ast.parse(path.read_text()).body if isinstance(n, ast.Assign)
                 and any(getattr(t, 'id', None) == name for t in n.targets)), None)


def _case_classes(path:Path, name:str) -> list[str]:
    "The class of each case of the list `name` in `path`: its tuple's third string, 'existing' for a 2-tuple"
    import ast
    node = _literal(path, name)
    cls = lambda e: e.elts[2].value if isinstance(e, ast.Tuple) and len(e.elts) > 2 and isinstance(e.elts[2], ast.Constant) else 'existing'
    return [cls(e) for e in getattr(node, 'elts', [])]


def _function_classes(path:Path) -> list[str]:
    "The classes of the scenario tests of `path`'s `SWEEP_FUNCTIONS` ({test: (class, cases it tries)}), one per case"
    import ast
    node = _literal(path, 'SWEEP_FUNCTIONS')
    return [c for cls, n in (ast.literal_eval(node).values() if node is not None else ()) for c in [cls] * n]


def sweep_table():
    "How many faults the sweep tries, by class: command lines of tests/test_sweep.py and test_sweep_io.py, scenarios"
    import pandas as pd
    t = ROOT/'tests'
    cols = {'command lines (test_sweep.py)': _case_classes(t/'test_sweep.py', 'BAD'),
            'command lines (test_sweep_io.py)': _case_classes(t/'sweep_io_cases.py', 'BAD_IO'),
            'scenarios (two processes, Ctrl-C, damaged tile...)': _function_classes(t/'test_sweep.py') +
                                                                  _function_classes(t/'test_sweep_io.py')}
    df = pd.DataFrame({k: pd.Series(v, dtype=object).value_counts() for k, v in cols.items()})
    df = df.reindex([c for c in SWEEP_CLASSES if c in df.index] + sorted(set(df.index) - set(SWEEP_CLASSES)))
    df = df.fillna(0).astype(int)
    df['all'] = df.sum(axis=1)
    df.loc['all'] = df.sum()
    return df.rename_axis('class of fault')


def table(name:str) -> str:
    "The Markdown of the table `name` of `TABLES`, made afresh"
    module, fn = TABLES[name]
    return markdown_table(getattr(import_module(module), fn)())


def render() -> str:
    "README.md's text: the cells of nbs/index.ipynb as Markdown, the marked tables filled in"
    body, _ = MarkdownExporter().from_filename(str(ROOT/'nbs'/'index.ipynb'))
    body = re.sub(r'<!-- table:(\w+) -->', lambda m: table(m[1]), body)
    return body.strip().replace('](images/', '](nbs/images/') + '\n'   # pictures beside index.ipynb, seen from the top


if __name__ == '__main__':
    readme = ROOT/'README.md'
    if '--check' in sys.argv[1:]:
        if readme.read_text() != render():
            sys.exit('README.md is not the rendering of nbs/index.ipynb: run `python tools/readme.py`')
        print('README.md is up to date')
    else:
        readme.write_text(render())
