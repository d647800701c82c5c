"""Issue 7: held-out explained variance on School's 10 published splits for every structural
formulation, with independent per-task ridge as the baseline, through the Python package.

Protocol (the same for every model, as bench/applications.py): hyperparameters chosen on a
validation split of the training rows (20 % of each task's training rows), then refit on all
training rows; explained variance 1 - sum (y - yhat)^2 / sum (y - mean y_test)^2 pooled over
the test rows of all tasks (Argyriou et al.'s measure). Per-task intercepts, the constant bias
column dropped, task-mean scaling (c_t = 1/n_t), tol 1e-5. Grids are geometric and relative to
the L2,1 alpha_max of the fitting rows (a_max); 2-parameter models search a 3 x 3 grid.

    OPENBLAS_NUM_THREADS=1 python bench/structured_school.py [--splits 10]
"""

import argparse
import itertools
import json
import os
import time
import warnings

import numpy as np
import scipy.io as sio
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge

import mtlkit
import mtlkit.structured as S

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.environ.get("MTLKIT_SHARED_DATA", os.path.join(HERE, "..", "..", "shared", "data"))


def val_split(task, rng, frac=0.2):
    mask = np.zeros(len(task), bool)
    for t in np.unique(task):
        idx = np.flatnonzero(task == t)
        mask[rng.choice(idx, max(1, int(round(frac * len(idx)))), replace=False)] = True
    return mask


def l21_alpha_max(task, X, y):
    g = []
    for t in np.unique(task):
        m = task == t
        Xc = X[m] - X[m].mean(0)
        g.append(Xc.T @ (y[m] - y[m].mean()) / m.sum())
    return np.sqrt((np.array(g) ** 2).sum(0)).max()


def models(amax):
    """name -> list of estimators (the grid)."""
    g1 = amax * np.logspace(-3, -0.5, 5)
    g3 = amax * np.logspace(-2.5, -0.5, 3)
    kw = dict(tol=1e-5, max_iter=20_000)
    return {
        "L2,1 (MultiTaskLasso)": [mtlkit.MultiTaskLasso(alpha=a, tol=1e-6, max_iter=100_000)
                                  for a in g1],
        "Lasso (entrywise)": [S.MultiTaskLassoEntrywise(alpha=a, **kw) for a in g1],
        "L1,inf": [S.L1InfRegression(alpha=a, **kw) for a in g1],
        "trace norm": [S.TraceNormRegression(alpha=a, **kw) for a in g1],
        "sparse + low rank": [S.SparseLowRank(alpha_sparse=a, alpha_rank=b, **kw)
                              for a, b in itertools.product(g3, g3)],
        "dirty (L1,inf + L1)": [S.DirtyModel(alpha_group=a, alpha_sparse=b, **kw)
                                for a, b in itertools.product(g3, g3)],
        "rMTFL": [S.RMTFL(alpha_features=a, alpha_tasks=b, **kw)
                  for a, b in itertools.product(g3, g3)],
        "robust MTL": [S.RobustMTL(alpha_rank=a, alpha_outlier=b, **kw)
                       for a, b in itertools.product(g3, g3)],
        "mean regularization": [S.MeanRegularized(alpha_mean=a, alpha_task=b, **kw)
                                for a, b in itertools.product([1e-4, 1e-2, 1.0], [1e-3, 1e-1, 10.0])],
        "block MCP": [S.BlockMCP(alpha=a, gamma=3.0, **kw) for a in g1],
        "block SCAD": [S.BlockSCAD(alpha=a, gamma=3.7, **kw) for a in g1],
        "MTRL": [S.MTRL(lambda1=a, lambda2=b, max_outer=30, **kw)
                 for a, b in itertools.product([1e-3, 1e-1], [1e-2, 1.0, 100.0])],
        "feature learning": [S.MultiTaskFeatureLearning(gamma=g, max_outer=30, **kw)
                             for g in [1e-3, 1e-2, 1e-1, 1.0]],
        "clustered MTL": [S.ClusteredMTL(k=k, rho1=r, rho2=r / 10, max_outer=30, **kw)
                          for k, r in itertools.product([2, 5], [1e-3, 1e-1])],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--splits", type=int, default=10)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "structured_school.json"))
    ap.add_argument("--models", nargs="*", default=None,
                    help="run only these formulations (names as in the table)")
    args = ap.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    b = sio.loadmat(os.path.join(DATA, "school", "school_b.mat"))
    X = b["x"].T.astype(float)[:, :27]
    y = b["y"].ravel().astype(float)
    task = np.zeros(len(y), int)
    for t, s0 in enumerate(b["task_indexes"].ravel() - 1):
        task[s0:] = t
    res, secs = {}, {}
    for k in range(1, args.splits + 1):
        sp = sio.loadmat(os.path.join(DATA, "school", "splits", f"school_{k}_indexes.mat"))
        tr, te = sp["tr"].ravel() - 1, sp["tst"].ravel() - 1
        val = val_split(task[tr], np.random.default_rng(k))
        fit, va = tr[~val], tr[val]

        def ev(pred, idx):
            return 1 - np.sum((y[idx] - pred) ** 2) / np.sum((y[idx] - y[idx].mean()) ** 2)

        # baseline: independent ridge per task
        def ridge(a, fi, pi):
            out = np.zeros(len(pi))
            for t in np.unique(task[pi]):
                mf, mp = fi[task[fi] == t], task[pi] == t
                out[mp] = Ridge(alpha=a).fit(X[mf], y[mf]).predict(X[pi][mp])
            return out
        grid = np.logspace(-2, 4, 13)
        a = grid[int(np.argmax([ev(ridge(a, fit, va), va) for a in grid]))]
        res.setdefault("single-task ridge", []).append(ev(ridge(a, tr, te), te))
        amax = l21_alpha_max(task[fit], X[fit], y[fit])
        for name, ests in models(amax).items():
            if args.models is not None and name not in args.models:
                continue
            t0 = time.process_time()
            scores = []
            for e in ests:
                e.fit(X[fit], y[fit], task_ids=task[fit])
                scores.append(ev(e.predict(X[va], task_ids=task[va]), va))
            best = ests[int(np.argmax(scores))]
            best.fit(X[tr], y[tr], task_ids=task[tr])
            res.setdefault(name, []).append(ev(best.predict(X[te], task_ids=task[te]), te))
            secs.setdefault(name, []).append(time.process_time() - t0)
            print(f"  split {k} {name}: EV {res[name][-1]:.4f}, {secs[name][-1]:.1f} s", flush=True)
        print(f"split {k}: " + ", ".join(f"{m} {v[-1]:.4f}" for m, v in res.items()), flush=True)
    out = {m: {"mean": float(np.mean(v)), "sd": float(np.std(v)), "per_split": v,
               "cpu_s_per_split": float(np.mean(secs[m])) if m in secs else None}
           for m, v in res.items()}
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    base = out["single-task ridge"]["mean"]
    print(f"\n| formulation | explained variance (mean ± sd, {args.splits} splits) | vs ridge | "
          "CPU s / split (grid + refit) |")
    print("|---|---|---|---|")
    for m, v in out.items():
        cpu = "—" if v["cpu_s_per_split"] is None else f"{v['cpu_s_per_split']:.1f}"
        print(f"| {m} | {v['mean']:.3f} ± {v['sd']:.3f} | {v['mean'] - base:+.3f} | {cpu} |")


if __name__ == "__main__":
    main()
