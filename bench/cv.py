"""MultiTaskLassoCV(cv=5, 100 alphas) on 200×2000×10: scikit-learn against mtlkit's `mtlkit cv`,
single thread, same data, same folds (5 in order), same tolerance (1e-4, the default of both).

    $HOME/.cache/mtlkit-bench-venv/bin/python bench/cv.py [--repeats 3]

scikit-learn is timed in-process (CPU time of the fit); mtlkit reports the CV fit's own time
(`fit_seconds` in `mtlkit cv --json`: folds, paths and the refit; the data loading excluded).
"""

import argparse
import json
import os
import subprocess
import tempfile
import time

import numpy as np
from threadpoolctl import threadpool_limits
from sklearn.linear_model import MultiTaskLassoCV

HERE = os.path.dirname(os.path.abspath(__file__))


def problem(n=200, d=2000, T=10, rho=0.5, seed=0):
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, d))
    X = np.empty((n, d))
    X[:, 0] = Z[:, 0]
    for j in range(1, d):
        X[:, j] = rho * X[:, j - 1] + np.sqrt(1 - rho**2) * Z[:, j]
    W = np.zeros((d, T))
    k = max(10, min(n, d) // 10)
    W[rng.choice(d, k, replace=False)] = rng.standard_normal((k, T))
    E = rng.standard_normal((n, T))
    Y = X @ W
    Y += E * np.linalg.norm(Y) / (3 * np.linalg.norm(E))  # SNR 3
    return np.asfortranarray(X), Y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--mtlkit", default=os.path.join(HERE, "..", "target", "release", "mtlkit"))
    ap.add_argument("--out", default=os.path.join(HERE, "results", "cv.json"))
    a = ap.parse_args()
    X, Y = problem()
    res = {"sklearn": [], "mtlkit": [], "alpha": {}}
    with tempfile.TemporaryDirectory() as tmp:
        xp, yp, mp = (os.path.join(tmp, f) for f in ("X.npy", "Y.npy", "m.safetensors"))
        np.save(xp, np.ascontiguousarray(X))
        np.save(yp, Y)
        for rep in range(a.repeats):
            with threadpool_limits(1):
                t0 = time.process_time()
                m = MultiTaskLassoCV(cv=5, alphas=100).fit(X, Y)
                res["sklearn"].append(time.process_time() - t0)
            res["alpha"]["sklearn"] = float(m.alpha_)
            env = dict(os.environ, RAYON_NUM_THREADS="1")
            out = subprocess.run([a.mtlkit, "cv", "--estimator", "multitask-lasso", "--x", xp, "--y", yp,
                                  "--n-alphas", "100", "--folds", "5", "--out", mp, "--json"],
                                 check=True, capture_output=True, text=True, env=env)
            v = json.loads(out.stdout)
            res["mtlkit"].append(v["fit_seconds"])
            res["alpha"]["mtlkit"] = v["alpha"]
            print(f"rep {rep}: sklearn {res['sklearn'][-1]:.2f} s, mtlkit {res['mtlkit'][-1]:.3f} s", flush=True)
    med = {k: float(np.median(res[k])) for k in ("sklearn", "mtlkit")}
    res["median"] = med
    res["ratio_mtlkit_over_sklearn"] = med["mtlkit"] / med["sklearn"]
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    print(json.dumps({"median_s": med, "speedup": med["sklearn"] / med["mtlkit"], "alpha": res["alpha"]}))


if __name__ == "__main__":
    main()
