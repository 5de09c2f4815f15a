"""`ihc-eval` on the real BCI sample (read in place): HER2 levels are never scored in-sample by default."""
import json, os, subprocess, sys

import pandas as pd
import pytest

from ihc_nb.settings import bci_sample_path

BCI = bci_sample_path()
pytestmark = pytest.mark.skipif(BCI is None, reason='needs the real BCI sample (shared/data/bci_sample), absent here')


def ihc_eval(tmp_path, *args):
    """`ihc-eval` (as `python -m ihc_nb.evaluation`: the same function, whatever the installed script points at) on the
    BCI sample's H&E against its IHC (the identity mapping), `--metrics dab`"""
    out = tmp_path/'eval.csv'
    r = subprocess.run([sys.executable, '-m', 'ihc_nb.evaluation', str(BCI/'HE/test'), str(BCI/'IHC/test'), '--metrics', 'dab',
                        '--out', str(out), *args], capture_output=True, text=True, env=os.environ, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout, json.loads(out.with_suffix('.json').read_text()), pd.read_csv(out)


def test_dab_alone_scores_no_level(tmp_path):
    stdout, summary, per_image = ihc_eval(tmp_path)
    assert 'dab_pearson' in stdout and 'level_accuracy' not in stdout and 'level_kappa' not in stdout
    assert [k for k in summary if k.startswith('level')] == [] and {'dab_pearson', 'pos_pearson'} <= set(summary)
    assert not any(c.startswith('level_') for c in per_image.columns)
    assert sum('--calibration' in line for line in stdout.splitlines()) == 1      # one line saying how to get levels


def test_leave_one_out_levels_are_labelled(tmp_path):
    stdout, summary, per_image = ihc_eval(tmp_path, '--calibration', 'loo')
    assert 'level_accuracy' in stdout and 'leave-one-out' in stdout
    assert summary['level_calibration'].startswith('leave-one-out') and summary['level_n'] == 8
    assert summary['level_accuracy_real'] == 0.375        # the real IHC's own levels, each read with the other 7's thresholds
    assert per_image.level_fake.notna().all() and per_image.level_real.notna().all()


def test_intervals_on_the_real_sample(tmp_path):
    stdout, summary, _ = ihc_eval(tmp_path, '--metrics', 'psnr,ssim,dab', '--ci', '200')
    assert summary['ci'] == 200 and 'lo' in stdout.splitlines()[1] and 'hi' in stdout.splitlines()[1]
    for k in ('psnr', 'ssim', 'dab_pearson'):
        assert summary[f'{k}_lo'] <= summary[k] <= summary[f'{k}_hi'], k

