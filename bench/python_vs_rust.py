"""Issue 6: the Python estimators' fit time against the Rust solve on the same problem.

For each case, interleaved repeats of (a) `mtlkit_peer fit` (the Rust API in its own process;
times the fit alone, thread CPU seconds, data loading excluded) and (b)
`mtlkit.MultiTaskLasso(...).fit(X, Y)` from Python (`time.process_time` around the whole
`fit` call: scikit-learn's input validation, the call into `_core`, the attributes). X is
Fortran-ordered float64 in both, as the shared harness gives every peer. Single thread.

    OPENBLAS_NUM_THREADS=1 RAYON_NUM_THREADS=1 python bench/python_vs_rust.py \
        --peer $CARGO_TARGET_DIR/release/mtlkit_peer --data /tmp/mtl_bench_data/mtl_n500_d2000_t20_rho50.npz
"""

import argparse
import json
import statistics
import subprocess
import time

import numpy as np

import mtlkit

ap = argparse.ArgumentParser()
ap.add_argument("--peer", required=True)
ap.add_argument("--data", required=True)
ap.add_argument("--repeats", type=int, default=7)
ap.add_argument("--tol", type=float, default=1e-8)
ap.add_argument("--out", default="bench/results/python_vs_rust.json")
args = ap.parse_args()

d = np.load(args.data)
X = np.asfortranarray(d["X"], dtype=np.float64)
Y = np.asarray(d["Y"], dtype=np.float64)
amax = float(d["alpha_max"])
rows = []
for ratio, l1 in [(10, 1.0), (100, 1.0), (10, 0.5)]:
    alpha = amax / ratio
    rust, py = [], []
    for _ in range(args.repeats):
        out = subprocess.run(
            [args.peer, "fit", "--data", args.data, "--alpha", repr(alpha), "--l1-ratio",
             repr(l1), "--tol", repr(args.tol)],
            check=True, capture_output=True, text=True,
        )
        rec = json.loads(out.stdout)
        rust.append(rec["cpu_s"][0])
        est = (mtlkit.MultiTaskLasso(alpha=alpha, fit_intercept=False, tol=args.tol)
               if l1 == 1.0 else
               mtlkit.MultiTaskElasticNet(alpha=alpha, l1_ratio=l1, fit_intercept=False,
                                          tol=args.tol))
        t = time.process_time()
        est.fit(X, Y)
        py.append(time.process_time() - t)
        assert est.n_iter_ == max(1, rec["n_steps"][0]), (est.n_iter_, rec["n_steps"])
    r, p = statistics.median(rust), statistics.median(py)
    row = dict(
        problem=args.data.rsplit("/", 1)[-1], alpha_ratio=ratio, l1_ratio=l1, tol=args.tol,
        rust_cpu_s_median=r, python_cpu_s_median=p, ratio=p / r,
        rust_spread=(max(rust) - min(rust)) / r, python_spread=(max(py) - min(py)) / p,
        rust_cpu_s=rust, python_cpu_s=py,
    )
    rows.append(row)
    print(f"alpha_max/{ratio} l1_ratio={l1}: Rust {r:.4f} s, Python {p:.4f} s, "
          f"Python/Rust {p / r:.3f} (spread Rust {row['rust_spread']:.0%}, "
          f"Python {row['python_spread']:.0%})")
with open(args.out, "w") as f:
    json.dump(rows, f, indent=1)
