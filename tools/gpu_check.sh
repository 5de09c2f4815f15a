#!/usr/bin/env bash
# One command on a machine with one GPU, in under 8 minutes: install the project, run the notebooks' GPU cells,
# benchmark every method, CEFF at crop 1024, the slide pipeline on a 20000 x 16000 slide and a 2-slide cohort;
# every figure printed and written to one JSON file (its argument).
#
#   tools/gpu_check.sh gpu_check.json                      # on the GPU machine (torch with CUDA installed)
#   tools/gpu_check.sh dry.json --device cpu --tiny        # the dry run on a CPU (tests/test_gpu_check.py)
#
# The machine may have no network: carry the wheels pip cannot fetch there in a folder named by IHC_WHEELS
# (made beforehand, with network:
#   pip download --no-deps -d wheels fastai fastcore fasttransform fastprogress fastdownload plum-dispatch);
# they are installed with --no-deps, then the project itself (--no-deps, editable). Without IHC_WHEELS nothing is
# installed: the environment's ihc_nb is used. PYTHON names the interpreter (default: python).
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: tools/gpu_check.sh OUT.json [--device cuda|cpu] [--tiny]" >&2; exit 2; }
out=$(realpath -m "$1"); shift
cd "$(dirname "$0")/.."
py=${PYTHON:-python}
if [ -n "${IHC_WHEELS:-}" ]; then
  echo "installing the wheels in $IHC_WHEELS and the project (--no-deps)"
  "$py" -m pip install -q --no-index --no-deps "$IHC_WHEELS"/*.whl
  "$py" -m pip install -q --no-index --no-deps --no-build-isolation -e .
fi
exec "$py" tools/gpu_check.py "$out" "$@"
