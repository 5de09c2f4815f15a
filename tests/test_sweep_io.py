"""The inputs-and-outputs sweep: every case of `BAD_IO` (tests/sweep_io_cases.py) exits non-zero in one line naming
the file and the fix, with no traceback, and leaves every file as it was (checksums); and the faults that need more
than one command line: a second writer of a slide, folder, image or evaluation output; Ctrl-C and a damaged tile in
the middle of a slide (one line, the rows kept, a resume to the same file); a float TIFF read as a viewer shows it."""
import os, signal, subprocess, sys, time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from sweep_io_cases import BAD_IO, BIN, make_lab, run, snapshot

QUIET = dict(PYTHONWARNINGS='ignore')
SWEEP_FUNCTIONS = {  # the tests below that the README's sweep table counts, by class
    'test_second_writer_is_refused': ('concurrent writer', 4), 'test_two_stainers_of_one_slide': ('concurrent writer', 1),
    'test_ctrl_c_mid_slide_resumes': ('traceback', 1), 'test_damaged_tile_names_its_row': ('traceback', 1),
    'test_float_tiff_is_read_as_shown': ('bad value', 1)}


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    return make_lab(tmp_path_factory.mktemp('sweep_io'))


def one_line_refusal(r, names):
    "The command failed in one line naming `names`, with no traceback"
    assert r.returncode != 0, r.stdout[-500:]
    assert 'Traceback' not in r.stderr + r.stdout, r.stderr[-3000:]
    assert names in r.stderr, r.stderr[-1000:]
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr[-2000:]


@pytest.mark.parametrize('line,names,cls', BAD_IO, ids=[f'{b[2]}: {b[0][:60]}' for b in BAD_IO])
def test_bad_io_command_line(lab, line, names, cls):
    before = snapshot(lab)
    args = line.format(lab=lab).split()
    r = run(*args, cwd=lab, env=QUIET)
    one_line_refusal(r, names)
    assert snapshot(lab) == before        # no input nor earlier output changed, nothing written


def stain(lab, src, dst, *extra, **kw):
    return run('ihc-stain', src, dst, '--model', lab/'tiny.stainer', '--device', 'cpu', *extra, cwd=lab, env=QUIET, **kw)


def test_second_writer_is_refused(lab, tmp_path):
    "While this process holds an output's lock, a command writing it is refused naming the holder; after, it works"
    from ihc_nb.guards import check_slide, output_lock
    he, ihc = lab/'ds/HE/test', lab/'ds/IHC/test'
    cases = [(lambda o: stain(lab, lab/'slide.tif', o), tmp_path/'s.tif'),
             (lambda o: stain(lab, he, o), tmp_path/'folder'),
             (lambda o: stain(lab, lab/'he.png', o), tmp_path/'one.png'),
             (lambda o: run('ihc-eval', he, ihc, '--out', o, '--metrics', 'psnr', cwd=lab, env=QUIET), tmp_path/'e.csv')]
    for cmd, out in cases:
        with output_lock(out):
            one_line_refusal(cmd(out), f'{out} is being written by process {os.getpid()} on')
            assert not out.exists()
        r = cmd(out)
        assert r.returncode == 0 and out.exists(), r.stderr[-2000:]
    import openslide
    with openslide.OpenSlide(str(lab/'slide.tif')) as he_slide: check_slide(tmp_path/'s.tif', he_slide.level_count)


def _wait_for(path, proc, timeout=300):
    t0 = time.time()
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() - t0 < timeout, f'{path} never appeared'
        time.sleep(0.02)


def popen_stain(lab, src, dst):
    return subprocess.Popen([str(BIN/'ihc-stain'), str(src), str(dst), '--model', str(lab/'tiny.stainer'),
                             '--device', 'cpu', '--batch-size', '1'], cwd=lab, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **QUIET})


@pytest.fixture(scope='module')
def big(lab):
    "A slide of many tile rows, and its stain by an uninterrupted run"
    from ihc_nb.synth import synthetic_slide
    synthetic_slide(lab/'big.tif', 2048, 1536, seed=3)
    r = stain(lab, lab/'big.tif', lab/'big-ref.tif', '--batch-size', '1')   # as `popen_stain`: the same sums
    assert r.returncode == 0, r.stderr[-2000:]
    return lab/'big.tif', lab/'big-ref.tif'


def test_two_stainers_of_one_slide(lab, big, tmp_path):
    "A second ihc-stain of the output a first one is writing is refused naming the first; the first's slide opens"
    import openslide
    from ihc_nb.slidestate import partial_dir
    out = tmp_path/'out.tif'
    first = popen_stain(lab, big[0], out)
    _wait_for(partial_dir(out)/'state.npz', first)               # a row recorded: the lock is held
    first.send_signal(signal.SIGSTOP)                          # held, mid-slide, with its lock
    try: second = stain(lab, big[0], out, '--overwrite')
    finally: first.send_signal(signal.SIGCONT)
    one_line_refusal(second, f'is being written by process {first.pid} on')
    assert first.wait(timeout=1800) == 0, first.stderr.read()[-2000:]
    with openslide.OpenSlide(str(out)) as s, openslide.OpenSlide(str(big[1])) as ref:
        assert s.level_dimensions == ref.level_dimensions
    assert out.read_bytes() == big[1].read_bytes()


def test_ctrl_c_mid_slide_resumes(lab, big, tmp_path):
    "Ctrl-C mid-slide: one line 'interrupted at row r of R: run again to resume', the rows kept, a resume to the same file"
    from ihc_nb.slidestate import partial_dir, rows_done
    out = tmp_path/'out.tif'
    first = popen_stain(lab, big[0], out)
    _wait_for(partial_dir(out)/'state.npz', first)
    first.send_signal(signal.SIGSTOP)
    done = rows_done(out)
    first.send_signal(signal.SIGINT); first.send_signal(signal.SIGCONT)
    stdout, stderr = first.communicate(timeout=1800)
    r = subprocess.CompletedProcess(first.args, first.returncode, stdout, stderr)
    one_line_refusal(r, 'run again to resume')
    assert 'interrupted at row ' in stderr and not out.exists() and rows_done(out) >= done >= 1
    again = stain(lab, big[0], out, '--batch-size', '1')
    assert again.returncode == 0 and 'resuming out.tif at tile row' in again.stdout, again.stderr[-2000:]
    assert out.read_bytes() == big[1].read_bytes()


def test_damaged_tile_names_its_row(lab, tmp_path):
    "A tile of level 0 that cannot be decoded stops the slide in one line naming the tile row; the rows before stay"
    import tifffile
    from ihc_nb.slidestate import partial_dir, rows_done
    from ihc_nb.synth import synthetic_slide
    src = synthetic_slide(tmp_path/'damaged.tif', 2048, 2048, seed=4)   # its thumbnail: level 1, whole
    with tifffile.TiffFile(src) as tf:
        page = tf.pages[0]
        n = len(page.dataoffsets)
        k = n - 2                                               # a tile of the last row of tiles
        off, size = page.dataoffsets[k], page.databytecounts[k]
    with open(src, 'r+b') as f: f.seek(off + 2); f.write(b'\x00' * (size - 2))
    out = tmp_path/'out.tif'
    r = stain(lab, src, out)
    one_line_refusal(r, 'cannot be read')
    assert 'tile row ' in r.stderr and 'run again to resume' in r.stderr
    assert not out.exists() and (partial_dir(out)/'state.npz').exists() and rows_done(out) >= 1


def test_float_tiff_is_read_as_shown(lab, tmp_path):
    "A float TIFF in 0..1 stains as the 8-bit image it shows (not as black)"
    import tifffile
    from PIL import Image
    rgb = np.asarray(Image.open(lab/'he.png').convert('RGB'))
    tifffile.imwrite(tmp_path/'he.tif', rgb.astype(np.float32) / 255, photometric='rgb')
    for src, dst in ((lab/'he.png', tmp_path/'a.png'), (tmp_path/'he.tif', tmp_path/'b.png')):
        r = stain(lab, src, dst)
        assert r.returncode == 0, r.stderr[-2000:]
    assert np.array_equal(np.asarray(Image.open(tmp_path/'a.png')), np.asarray(Image.open(tmp_path/'b.png')))
