"""README.md is the rendering of nbs/index.ipynb (nbdev's README source) by nbconvert's Markdown exporter, with the
tables that registries and measurements own filled in where index.ipynb marks them (`<!-- table:NAME -->`): the
method table from `ihc_nb.methods.METHODS`, the metric table from `ihc_nb.metrics.METRICS`, the code's shape from
tools/code_measures.py. Quarto, which nbdev-readme needs, cannot be installed offline, so we render it ourselves:

    python tools/readme.py          # write README.md
    python tools/readme.py --check  # exit 1 if README.md is not up to date (CI runs this)
"""
import re, sys
from importlib import import_module
from pathlib import Path

from nbconvert import MarkdownExporter

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT/'tools')]   # this checkout's ihc_nb and tools
TABLES = {'methods': ('ihc_nb.methods', 'method_table'), 'metrics': ('ihc_nb.metrics', 'metric_table'),
          'code_measures': ('code_measures', 'measures_table')}


def markdown_table(df) -> str:
    "A DataFrame as a Markdown table: its index as the first column"
    head = [df.index.name or '', *map(str, df.columns)]
    rows = [[str(i), *map(str, r)] for i, r in zip(df.index, df.values.tolist())]
    return '\n'.join('| ' + ' | '.join(r) + ' |' for r in [head, ['---'] * len(head), *rows])


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
