#!/usr/bin/env bash
# Side-by-side benchmark of mtlkit against scikit-learn, skglm and celer on the shared harness's
# problem grid (../shared/bench, see its README). Every solver is pinned to one thread; timings
# are the fit alone (CPU time of the calling thread); objective and gap are computed by the
# harness. Results go to bench/results/*.jsonl and the tables to bench/results/report.md.
#
#   bench/run.sh [setup|gen|tts|enet|rho09|path|report|all]   (all = these)
#   bench/run.sh wide | tall09 | enet09 | xwide | xwide-ref | xwide05 | xwide09 | xwide13 | xwide13-fix |
#                xwide14 | wide09 | memory | pathgap | recheck | recheck-small09 | recheck-wide
#                                                          (extra stages, run on demand)
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
export MTLKIT_PEER_BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/mtlkit_peer"
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
if [ "$stage" = pathgap ]; then
  # the path over a tolerance ladder: time until every alpha's relative duality gap (gap / P) is
  # ≤ 1e-6, the issue's criterion (tol bounds the gap relative to ‖Y‖², not to P), per solver:
  # bench/path_table.py
  $B path --shapes small tall --rhos 0.5 --tols 1e-6 1e-7 1e-8 --repeats 2 --n-alphas 30 --eps 1e-2 \
    --solvers sklearn skglm celer mtlkit --out bench/results/path_gap.jsonl
fi
if [ "$stage" = recheck ]; then
  # the small and tall ρ = 0.5 cases again, scikit-learn and mtlkit only, 7 repeats (the ratios
  # near 5× move with scikit-learn's run-to-run time): bench/grid_table.py --files
  # tts_recheck.jsonl --spread
  $B tts --shapes small tall --rhos 0.5 --alpha-ratios 10 100 --l1-ratios 1.0 0.5 \
    --tols 1e-4 1e-5 1e-6 1e-7 1e-8 --repeats 7 --fit-cap 20 --solvers sklearn mtlkit \
    --out bench/results/tts_recheck.jsonl
fi
if [ "$stage" = recheck-small09 ]; then
  # small ρ = 0.9, scikit-learn and mtlkit interleaved, 3 repeats (session 12)
  $B tts --shapes small --rhos 0.9 --alpha-ratios 10 100 --l1-ratios 1.0 0.5 --tols 1e-4 1e-5 1e-6 1e-8 \
    --repeats 3 --fit-cap 20 --solvers sklearn mtlkit --out bench/results/tts_small09_recheck.jsonl
fi
if [ "$stage" = recheck-wide ]; then
  # wide ρ = 0.5 (after `wide`, which writes the problem and references): α_max/10 with
  # scikit-learn and mtlkit interleaved, α_max/100 mtlkit alone (scikit-learn needs 47–88 s
  # there; its times come from the `wide` run) (session 12)
  $B tts --shapes wide --rhos 0.5 --alpha-ratios 10 --l1-ratios 1.0 0.5 --tols 1e-4 1e-5 1e-6 1e-8 \
    --repeats 2 --fit-cap 60 --solvers sklearn mtlkit --out bench/results/tts_wide_recheck.jsonl
  $B tts --shapes wide --rhos 0.5 --alpha-ratios 100 --l1-ratios 1.0 0.5 --tols 1e-4 1e-5 1e-6 1e-8 \
    --repeats 2 --fit-cap 60 --solvers mtlkit --out bench/results/tts_wide100_mtlkit.jsonl
fi
# the stages below are not part of `all` (wide writes a 160 MB problem and its references take
# minutes); run them by name
if [ "$stage" = wide ]; then
  # tolerance ladder with 1e-5 (as the small and tall stages have): with 1e-4 1e-6 1e-8 only, a
  # solver that needs 1e-5 is timed at 1e-6 (same ladder for every solver)
  $B gen --shapes wide --rhos 0.5
  $B ref --shapes wide --rhos 0.5 --alpha-ratios 10 100 --l1-ratios 1.0 0.5
  $B tts --shapes wide --rhos 0.5 --alpha-ratios 10 100 --tols 1e-4 1e-5 1e-6 1e-8 --repeats 2 \
    --fit-cap 60 --solvers sklearn celer mtlkit --out bench/results/tts_wide.jsonl
  $B tts --shapes wide --rhos 0.5 --alpha-ratios 10 100 --l1-ratios 0.5 --tols 1e-4 1e-5 1e-6 1e-8 \
    --repeats 2 --fit-cap 120 --solvers sklearn mtlkit --out bench/results/tts_wide_enet.jsonl
fi
if [ "$stage" = xwide ] || [ "$stage" = xwide-ref ]; then
  # xwide 1000×50000×10 (400 MB per problem); references take many minutes (scikit-learn's
  # ElasticNet at tol 1e-14 needs up to 8 min there)
  $B gen --shapes xwide --rhos 0.5 0.9
  $B ref --shapes xwide --rhos 0.5 0.9 --alpha-ratios 10 100 --l1-ratios 1.0 0.5
fi
if [ "$stage" = xwide ]; then
  # skglm is left out (4.8–35× slower than scikit-learn on the smaller shapes: hours here)
  $B tts --shapes xwide --rhos 0.5 0.9 --alpha-ratios 10 100 --tols 1e-4 1e-6 1e-8 --repeats 1 \
    --fit-cap 120 --solvers sklearn celer mtlkit --out bench/results/tts_xwide.jsonl
  $B tts --shapes xwide --rhos 0.5 0.9 --alpha-ratios 10 100 --l1-ratios 0.5 --tols 1e-4 1e-6 1e-8 \
    --repeats 1 --fit-cap 120 --solvers sklearn mtlkit --out bench/results/tts_xwide_enet.jsonl
fi
if [ "$stage" = xwide13 ]; then
  # xwide again on session 13's machine (after `xwide-ref`), into its own files (read after the
  # earlier xwide files by bench/grid_table.py); then mtlkit alone on ρ = 0.5 α_max/100
  # ElasticNet, the case a fix of that session changed after the first run
  $B tts --shapes xwide --rhos 0.5 0.9 --alpha-ratios 10 100 --tols 1e-4 1e-6 1e-8 --repeats 1 \
    --fit-cap 120 --solvers sklearn celer mtlkit --out bench/results/tts_xwide_s13.jsonl
  $B tts --shapes xwide --rhos 0.5 0.9 --alpha-ratios 10 100 --l1-ratios 0.5 --tols 1e-4 1e-6 1e-8 \
    --repeats 1 --fit-cap 120 --solvers sklearn mtlkit --out bench/results/tts_xwide_enet_s13.jsonl
fi
if [ "$stage" = xwide13 ] || [ "$stage" = xwide13-fix ]; then
  $B tts --shapes xwide --rhos 0.5 --alpha-ratios 100 --l1-ratios 0.5 --tols 1e-4 1e-6 1e-8 \
    --repeats 1 --fit-cap 120 --solvers mtlkit --out bench/results/tts_xwide_enet_s13_mtlkit.jsonl
fi
if [ "$stage" = xwide14 ]; then
  # mtlkit alone on all of xwide after session 14's kernels (scikit-learn's and celer's times on
  # this machine are those of `xwide13`; bench/grid_table.py reads these files after them)
  $B tts --shapes xwide --rhos 0.5 0.9 --alpha-ratios 10 100 --tols 1e-4 1e-6 1e-8 --repeats 1 \
    --fit-cap 120 --solvers mtlkit --out bench/results/tts_xwide_s14_mtlkit.jsonl
  $B tts --shapes xwide --rhos 0.5 0.9 --alpha-ratios 10 100 --l1-ratios 0.5 --tols 1e-4 1e-6 1e-8 \
    --repeats 1 --fit-cap 120 --solvers mtlkit --out bench/results/tts_xwide_enet_s14_mtlkit.jsonl
fi
if [ "$stage" = xwide09 ]; then
  # the ρ = 0.9 half of xwide alone (written to its own files, which bench/grid_table.py reads
  # after tts_xwide*.jsonl)
  $B tts --shapes xwide --rhos 0.9 --alpha-ratios 10 100 --tols 1e-4 1e-5 1e-6 1e-8 --repeats 1 \
    --fit-cap 120 --solvers sklearn celer mtlkit --out bench/results/tts_xwide09.jsonl
  $B tts --shapes xwide --rhos 0.9 --alpha-ratios 10 100 --l1-ratios 0.5 --tols 1e-4 1e-5 1e-6 1e-8 \
    --repeats 1 --fit-cap 120 --solvers sklearn mtlkit --out bench/results/tts_xwide09_enet.jsonl
fi
if [ "$stage" = xwide05 ]; then
  # the ρ = 0.5 half of xwide with the 1e-5 rung (read after tts_xwide*.jsonl, replacing its rows)
  $B tts --shapes xwide --rhos 0.5 --alpha-ratios 10 100 --tols 1e-4 1e-5 1e-6 1e-8 --repeats 1 \
    --fit-cap 120 --solvers sklearn celer mtlkit --out bench/results/tts_xwide05.jsonl
  $B tts --shapes xwide --rhos 0.5 --alpha-ratios 10 100 --l1-ratios 0.5 --tols 1e-4 1e-5 1e-6 1e-8 \
    --repeats 1 --fit-cap 120 --solvers sklearn mtlkit --out bench/results/tts_xwide05_enet.jsonl
fi
if [ "$stage" = wide09 ]; then
  $B gen --shapes wide --rhos 0.9
  $B ref --shapes wide --rhos 0.9 --alpha-ratios 10 100 --l1-ratios 1.0 0.5
  $B tts --shapes wide --rhos 0.9 --alpha-ratios 10 100 --tols 1e-4 1e-5 1e-6 1e-8 --repeats 1 \
    --fit-cap 120 --solvers sklearn celer mtlkit --out bench/results/tts_wide09.jsonl
  $B tts --shapes wide --rhos 0.9 --alpha-ratios 10 100 --l1-ratios 0.5 --tols 1e-4 1e-5 1e-6 1e-8 \
    --repeats 1 --fit-cap 120 --solvers sklearn mtlkit --out bench/results/tts_wide09_enet.jsonl
fi
if [ "$stage" = enet09 ]; then
  # the ElasticNet at ρ = 0.9 on small and tall (scikit-learn is the only Python peer with it)
  $B ref --shapes small tall --rhos 0.9 --alpha-ratios 10 100 --l1-ratios 0.5
  $B tts --shapes small tall --rhos 0.9 --alpha-ratios 10 100 --l1-ratios 0.5 --tols 1e-4 1e-6 1e-8 \
    --repeats 2 --fit-cap 20 --solvers sklearn mtlkit --out bench/results/tts_enet09.jsonl
fi
if [ "$stage" = tall09 ]; then
  $B gen --shapes tall --rhos 0.9
  $B ref --shapes tall --rhos 0.9 --alpha-ratios 10 100 --l1-ratios 1.0
  $B tts --shapes tall --rhos 0.9 --alpha-ratios 10 100 --tols 1e-4 1e-6 1e-8 --repeats 2 \
    --fit-cap 20 --solvers sklearn skglm celer mtlkit --out bench/results/tts_tall09.jsonl
fi
if [ "$stage" = memory ]; then
  # resident memory the fit adds above the loaded data (peak RSS during the fit, measured inside
  # mtlkit_peer), as a fraction of X
  : > bench/results/memory.jsonl
  for f in "${MTL_BENCH_DATA:-/tmp/mtl_bench_data}"/mtl_*_rho*.npz; do
    case "$f" in *.ref.npz) continue ;; esac
    amax=$("$PY" -c "import numpy as np; print(float(np.load('$f')['alpha_max']))")
    for r in 10 100; do for l1 in 1.0 0.5; do
      a=$("$PY" -c "print($amax / $r)")
      "$MTLKIT_PEER_BIN" fit --data "$f" --alpha "$a" --l1-ratio "$l1" --tol 1e-8 |
        "$PY" -c "import json, sys; d = json.load(sys.stdin); print(json.dumps({'problem': '$(basename "$f" .npz)', 'alpha_ratio': $r, 'l1_ratio': $l1, 'fit_extra_rss_mib': d['fit_extra_rss_kib'] / 1024, 'x_mib': d['x_kib'] / 1024, 'extra_over_x': d['fit_extra_rss_kib'] / d['x_kib']}))" \
        >> bench/results/memory.jsonl
    done; done
  done
  cat bench/results/memory.jsonl
fi
if run report; then
  $B report --results bench/results > bench/results/report.md
fi
