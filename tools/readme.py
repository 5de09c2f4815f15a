"""README.md is the rendering of nbs/index.ipynb (nbdev's README source) by nbconvert's Markdown exporter.
Quarto, which nbdev-readme needs, cannot be installed offline, so we render it ourselves:

    python tools/readme.py          # write README.md
    python tools/readme.py --check  # exit 1 if README.md is not up to date (CI runs this)
"""
import sys
from pathlib import Path

from nbconvert import MarkdownExporter

ROOT = Path(__file__).resolve().parent.parent


def render() -> str:
    "README.md's text: the cells of nbs/index.ipynb as Markdown"
    body, _ = MarkdownExporter().from_filename(str(ROOT/'nbs'/'index.ipynb'))
    return body.strip().replace('](images/', '](nbs/images/') + '\n'   # pictures beside index.ipynb, seen from the top


if __name__ == '__main__':
    readme = ROOT/'README.md'
    if '--check' in sys.argv[1:]:
        if readme.read_text() != render():
            sys.exit('README.md is not the rendering of nbs/index.ipynb: run `python tools/readme.py`')
        print('README.md is up to date')
    else:
        readme.write_text(render())
