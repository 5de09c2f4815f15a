"""Adding a dataset layout, worked through: a toy layout registered, used and removed again."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ihc_nb.data import (LAYOUTS, DataError, DatasetMissing, Found, Layout, Pair, check_dataset, detect_layout,
                         find_pairs, level_of, missing, register_layout)


def find_toy(root:Path, source=None) -> Found:
    "Pairs of the toy layout: `HE_NAME` beside `IHC_NAME` in one folder"
    if not root.is_dir(): raise missing(root, 'toy', root, source)
    he = {p.name[3:]: p for p in sorted(root.glob('HE_*.png'))}
    ihc = {p.name[4:]: p for p in sorted(root.glob('IHC_*.png'))}
    pairs = [Pair(k, 'all', he[k], ihc[k], level_of(k)) for k in he if k in ihc]
    return Found(pairs, [f'{he[k].name} has no IHC partner IHC_{k}' for k in he if k not in ihc])


def is_toy(root:Path) -> bool: return any(root.glob('HE_*.png'))


@pytest.fixture
def toy():
    "The toy layout, registered for the test and removed after it"
    register_layout(Layout('toy', 'HE_NAME.png beside IHC_NAME.png in one folder', find_toy, is_toy))
    yield LAYOUTS['toy']
    del LAYOUTS['toy']


@pytest.fixture
def toy_folder(tmp_path):
    rng = np.random.default_rng(0)
    for name in ('a_0', 'b_2+', 'c_3+'):
        for side in ('HE', 'IHC'):
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), np.uint8)).save(tmp_path/f'{side}_{name}.png')
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path/'HE_d_1+.png')   # no IHC partner
    return tmp_path


def test_registered_layout_is_found_detected_and_checked(toy, toy_folder):
    assert list(LAYOUTS) == ['bci', 'mist', 'aligned', 'paired', 'toy']
    assert detect_layout(toy_folder) == 'toy'
    spec, found = find_pairs(toy_folder)
    assert spec.layout == 'toy'
    assert [(p.name, p.level) for p in found.pairs] == [('a_0.png', '0'), ('b_2+.png', '2+'), ('c_3+.png', '3+')]
    assert found.problems == ['HE_d_1+.png has no IHC partner IHC_d_1+.png']
    rep, problems = check_dataset(toy_folder, layout='toy', progress=False)   # what ihc-check-data --layout toy runs
    assert (len(rep), list(rep.width), problems) == (3, [32] * 3, found.problems)


def test_registered_layout_in_the_errors(toy, tmp_path):
    with pytest.raises(DatasetMissing, match='holding HE_NAME.png beside IHC_NAME.png in one folder'):
        find_pairs(tmp_path/'absent', layout='toy')
    with pytest.raises(DataError, match=r'--layout bci\|mist\|aligned\|paired\|toy'):
        detect_layout(tmp_path)


def test_removed_layout_is_gone(toy_folder):
    assert 'toy' not in LAYOUTS
    with pytest.raises(DataError, match='cannot tell the layout'): detect_layout(toy_folder)
    with pytest.raises(DataError, match="unknown layout 'toy'"): find_pairs(toy_folder, layout='toy')
