#!/usr/bin/env bash
# Side-by-side benchmark of mtlkit against scikit-learn, skglm and celer on the shared harness's
# problem grid (../shared/bench, see its README). Every solver is pinned to one thread; timings
# are the fit alone (CPU time of the calling thread); objective and gap are computed by the
# harness. Results go to bench/results/*.jsonl and the tables to bench/results/report.md.
#
#   bench/run.sh [setup|gen|tts|enet|rho09|path|report|all]
set -euo pipefail
cd "$(dirname "$0")/.."
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1 RAYON_NUM_THREADS=1
VENV="${BENCH_VENV:-$HOME/.cache/mtlkit-bench-venv}"
PY="$VENV/bin/python"
stage="${1:-all}"
run() { [ "$stage" = all ] || [ "$stage" = "$1" ]; }

if run setup || [ ! -x "$PY" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q numpy scipy "scikit-learn==1.9.*" skglm celer threadpoolctl
fi
cargo build --release -p mtlkit-bench-peer
export MTLKIT_PEER_BIN="$PWD/target/release/mtlkit_peer"
B="$PY bench/mtl.py"
mkdir -p bench/results
if run gen; then
  $B gen --shapes small tall --rhos 0.5
  $B ref --shapes small tall --rhos 0.5 --alpha-ratios 10 100 --l1-ratios 1.0 0.5
fi
if run tts; then
  $B tts --shapes small tall --rhos 0.5 --alpha-ratios 10 100 \
    --tols 1e-4 1e-5 1e-6 1e-7 1e-8 1e-10 --repeats 3 --fit-cap 20 \
    --solvers sklearn skglm celer mtlkit --out bench/results/tts.jsonl
fi
if run enet; then
  # only scikit-learn has a multi-task ElasticNet among the Python peers
  $B tts --shapes small tall --rhos 0.5 --alpha-ratios 10 100 --l1-ratios 0.5 \
    --tols 1e-4 1e-6 1e-8 1e-10 --repeats 3 --fit-cap 20 \
    --solvers sklearn mtlkit --out bench/results/tts_enet.jsonl
fi
if run rho09; then
  $B gen --shapes small --rhos 0.9
  $B ref --shapes small --rhos 0.9 --alpha-ratios 10 100
  $B tts --shapes small --rhos 0.9 --alpha-ratios 10 100 --tols 1e-4 1e-6 1e-8 --repeats 2 \
    --fit-cap 20 --solvers sklearn skglm celer mtlkit --out bench/results/tts_rho09.jsonl
fi
if run path; then
  $B path --shapes small tall --rhos 0.5 --tols 1e-6 --repeats 2 --n-alphas 30 --eps 1e-2 \
    --solvers sklearn skglm celer mtlkit --out bench/results/path.jsonl
fi
if run report; then
  $B report --results bench/results > bench/results/report.md
fi
