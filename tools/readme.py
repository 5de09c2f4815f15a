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
          'metrics': ('ihc_nb.metrics', 'metric_table'), 'code_measures': ('code_measures', 'measures_table')}


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
