"""pytest configuration for ihc_nb: the numbered notebooks in `nbs/` run as tests through nbval
(lax mode: a cell passes when it runs without error; its inline `fastcore.test` asserts are the
tests), and the cells nbdev would skip are skipped here too.

- Cells flagged with a `[tool.nbdev] tst_flags` flag (`#| slow`, `#| gpu`) are skipped unless asked
  for with `--flags "slow gpu"` (or `IHC_NB_FLAGS`); `#| gpu` cells also need CUDA.
- `#| eval: false` cells and notebooks with `skip_exec: true` front matter are skipped, as by nbdev-test.
- `#| shared` cells read the real BCI sample in `../shared` and are skipped, with the reason, where it is absent.
- Stored outputs of cells without an execution count (nbdev-clean removes the counts, keeps the
  figures) are ignored: nbval would otherwise fail them as 'unrun reference cell has outputs'.
- The experiment notebooks (`nbs/` names that do not start with a digit, except `index.ipynb`) are
  run by `tests/test_experiments.py` through papermill with tiny parameters, not here.
"""
import os
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
if os.environ.get('PYTEST_XDIST_WORKER'):   # pytest -n 2 on 2 cores: one thread per worker (and its kernels), not two each
    for _v in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'): os.environ.setdefault(_v, '1')


def pytest_addoption(parser):
    parser.addoption('--flags', default=os.environ.get('IHC_NB_FLAGS', ''),
                     help='space-separated nbdev test flags whose cells should run (e.g. "slow")')


def pytest_ignore_collect(collection_path, config):
    p = Path(collection_path)
    if '.ipynb_checkpoints' in p.parts: return True
    if p.suffix == '.ipynb' and p.parent == ROOT/'nbs':
        return not (p.name[0].isdigit() or p.name == 'index.ipynb')
    return None


@lru_cache(maxsize=None)
def _skip_plan(path, skip_flags):
    "For each code cell of the notebook at `path`, in order: (runs under nbdev-test?, its directives)"
    from fastcore.nbio import read_nb
    from nbdev.test import nb_test_cells
    runs = {c.idx_ for c in nb_test_cells(path, skip_flags=list(skip_flags))}
    return [(c.idx_ in runs, c.directives) for c in read_nb(path).cells if c.cell_type == 'code']


def _why_skipped(runs, directives, skip_flags, requested):
    "The reason a cell must be skipped, or None to run it"
    if not runs:
        flags = sorted(set(skip_flags) & directives.keys())
        if flags: return f"nbdev flag {' '.join(flags)} (run with --flags \"{' '.join(flags)}\")"
        return 'nbdev skips this cell (eval: false or skip_exec)'
    if 'gpu' in directives and 'gpu' in requested:
        import torch
        if not torch.cuda.is_available(): return 'gpu cell and no CUDA device'
    if 'shared' in directives:
        from ihc_nb.settings import bci_sample_path
        if bci_sample_path() is None: return 'needs the real BCI sample in ../shared/data/bci_sample, which is absent'
    return None


def pytest_collection_modifyitems(config, items):
    from nbdev.config import get_config
    requested = set(config.getoption('flags').split())
    skip_flags = tuple(sorted(set(get_config(ROOT).tst_flags.split()) - requested))
    for item in items:
        cell = getattr(item, 'cell', None)
        if cell is None or not hasattr(item, 'cell_num'): continue
        if cell.get('execution_count') is None: cell.outputs = []
        runs, directives = _skip_plan(str(item.path), skip_flags)[item.cell_num]
        why = _why_skipped(runs, directives, skip_flags, requested)
        if why is None: continue
        item.options['skip'] = True
        item.add_marker(pytest.mark.skip(reason=why))
