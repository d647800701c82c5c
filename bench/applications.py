"""Held-out quality of L2,1 multi-task models (mtlkit CLI) against independent per-task models
(scikit-learn) on School (regression, 10 published 75/25 splits) and Landmine (classification).

The data lives in ../shared/data (tests and benchmarks only; never committed). mtlkit is run
end to end through its CLI on long-format CSVs (`--task-col`), exactly as a user would.

    python bench/applications.py [--mtlkit target/release/mtlkit] [--out bench/results/applications.json]

Model selection (the same protocol for every model): alpha (or C) chosen on a validation split
of the training data (20 % of each task's training rows), then refit on all training rows.

School: explained variance 1 − Σ(y − ŷ)² / Σ(y − ȳ_test)² pooled over the test rows of all
tasks (Argyriou et al.'s measure), mean ± sd over the 10 splits. L2,1: MultiTaskLasso with a
per-task intercept (the constant bias column is dropped), TaskMean scaling.
Landmine: 29 tasks, per task a stratified 50/50 train/test split (seeds 0..4); features
standardised on the training rows; AUC per task on the test rows, mean over tasks.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import scipy.io as sio
from sklearn.linear_model import Lasso, LogisticRegression, Ridge
from sklearn.metrics import roc_auc_score

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.environ.get("MTLKIT_SHARED_DATA", os.path.join(HERE, "..", "..", "shared", "data"))


def write_long(path, task, X, y):
    cols = ["task"] + [f"f{j}" for j in range(X.shape[1])] + (["y"] if y is not None else [])
    with open(path, "w") as f:
        f.write(",".join(cols) + "\n")
        for i in range(X.shape[0]):
            row = [str(task[i])] + [repr(float(v)) for v in X[i]]
            if y is not None:
                row.append(repr(float(y[i])))
            f.write(",".join(row) + "\n")


def mtlkit_fit_predict(binary, tr, te, alpha, loss, tmp):
    """Fit on (task, X, y) `tr` with the CLI, predict `te`; returns decision values or P(y=1)."""
    trp, tep = os.path.join(tmp, "tr.csv"), os.path.join(tmp, "te.csv")
    model, pred = os.path.join(tmp, "m.safetensors"), os.path.join(tmp, "p.csv")
    write_long(trp, *tr)
    write_long(tep, te[0], te[1], None)
    subprocess.run(
        [binary, "fit", "--estimator", "multitask-lasso", "--alpha", repr(float(alpha)), "--data", trp,
         "--task-col", "task", "--target", "y", "--loss", loss, "--tol", "1e-8",
         "--max-iter", "100000", "--out", model, "--json"],
        check=True, capture_output=True)
    subprocess.run([binary, "predict", model, "--data", tep, "--task-col", "task", "--out", pred],
                   check=True, capture_output=True)
    rows = [line.split(",") for line in open(pred).read().splitlines()[1:]]
    col = 2 if loss == "logistic" else 1
    return np.array([float(r[col]) for r in rows])


def val_split(task, rng, frac=0.2):
    """Boolean mask of validation rows: `frac` of each task's rows."""
    mask = np.zeros(len(task), bool)
    for t in np.unique(task):
        idx = np.flatnonzero(task == t)
        k = max(1, int(round(frac * len(idx))))
        mask[rng.choice(idx, k, replace=False)] = True
    return mask


def l21_alpha_max(task, X, y, loss):
    """alpha_max of the TaskMean-scaled problem with intercepts (as mtlkit computes it)."""
    g = []
    for t in np.unique(task):
        m = task == t
        Xt, yt = X[m], y[m]
        Xc = Xt - Xt.mean(0)
        if loss == "squared":
            g.append(Xc.T @ (yt - yt.mean()) / len(yt))
        else:
            g.append(Xt.T @ (yt - yt.mean()) / len(yt))
    return np.sqrt((np.array(g) ** 2).sum(0)).max()


def school(binary, tmp):
    b = sio.loadmat(os.path.join(DATA, "school", "school_b.mat"))
    X = b["x"].T.astype(float)[:, :27]  # drop the constant bias column (intercepts are fitted)
    y = b["y"].ravel().astype(float)
    starts = b["task_indexes"].ravel() - 1
    task = np.zeros(len(y), int)
    for t, s0 in enumerate(starts):
        task[s0:] = t
    res = {"l21": [], "ridge": [], "lasso": []}
    for k in range(1, 11):
        sp = sio.loadmat(os.path.join(DATA, "school", "splits", f"school_{k}_indexes.mat"))
        tr, te = sp["tr"].ravel() - 1, sp["tst"].ravel() - 1
        rng = np.random.default_rng(k)
        val = val_split(task[tr], rng)
        fit, va = tr[~val], tr[val]

        def ev(pred, idx):
            return 1 - np.sum((y[idx] - pred) ** 2) / np.sum((y[idx] - y[idx].mean()) ** 2)

        amax = l21_alpha_max(task[fit], X[fit], y[fit], "squared")
        grid = amax * np.logspace(-3, -0.3, 10)
        scores = [ev(mtlkit_fit_predict(binary, (task[fit], X[fit], y[fit]),
                                        (task[va], X[va]), a, "squared", tmp), va) for a in grid]
        a_best = grid[int(np.argmax(scores))]
        res["l21"].append(ev(mtlkit_fit_predict(binary, (task[tr], X[tr], y[tr]),
                                                (task[te], X[te]), a_best, "squared", tmp), te))
        # independent per-task models, regularisation chosen the same way (shared grid)
        for name, make, grid2 in [("ridge", lambda a: Ridge(alpha=a), np.logspace(-2, 4, 13)),
                                  ("lasso", lambda a: Lasso(alpha=a, max_iter=50000), np.logspace(-3, 1, 13))]:
            def per_task(a, fit_idx, pred_idx):
                out = np.zeros(len(pred_idx))
                for t in np.unique(task[pred_idx]):
                    mf, mp = fit_idx[task[fit_idx] == t], task[pred_idx] == t
                    out[mp] = make(a).fit(X[mf], y[mf]).predict(X[pred_idx][mp])
                return out
            sc = [ev(per_task(a, fit, va), va) for a in grid2]
            a2 = grid2[int(np.argmax(sc))]
            res[name].append(ev(per_task(a2, tr, te), te))
        print(f"school split {k}: " + ", ".join(f"{m} {res[m][-1]:.4f}" for m in res), flush=True)
    return {m: {"mean": float(np.mean(v)), "sd": float(np.std(v)), "per_split": v} for m, v in res.items()}


def landmine(binary, tmp):
    d = sio.loadmat(os.path.join(DATA, "landmine", "LandmineData.mat"))
    feats = [np.asarray(f, float) for f in d["feature"].ravel()]
    labels = [np.asarray(l, float).ravel() for l in d["label"].ravel()]
    out = {"l21": [], "independent": []}
    for seed in range(5):
        rng = np.random.default_rng(100 + seed)
        tr_parts, te_parts = [], []
        for t, (F, L) in enumerate(zip(feats, labels)):
            idx_tr, idx_te = [], []
            for c in (0.0, 1.0):
                idx = rng.permutation(np.flatnonzero(L == c))
                h = len(idx) // 2
                idx_tr += list(idx[:h]); idx_te += list(idx[h:])
            tr_parts.append((t, F[idx_tr], L[idx_tr])); te_parts.append((t, F[idx_te], L[idx_te]))
        task_tr = np.concatenate([[t] * len(l) for t, _, l in tr_parts])
        X_tr = np.vstack([f for _, f, _ in tr_parts]); y_tr = np.concatenate([l for *_, l in tr_parts])
        task_te = np.concatenate([[t] * len(l) for t, _, l in te_parts])
        X_te = np.vstack([f for _, f, _ in te_parts]); y_te = np.concatenate([l for *_, l in te_parts])
        mu, sd = X_tr.mean(0), X_tr.std(0) + 1e-12
        X_tr, X_te = (X_tr - mu) / sd, (X_te - mu) / sd

        def mean_auc(task, y, p):
            return float(np.mean([roc_auc_score(y[task == t], p[task == t]) for t in np.unique(task)]))

        val = val_split(task_tr, rng, 0.3)
        # keep both classes in every task's fitting and validation rows
        ok = all(len(np.unique(y_tr[(task_tr == t) & m])) == 2 for t in range(29) for m in (val, ~val))
        if not ok:
            val = np.zeros(len(task_tr), bool)
            for t in range(29):
                for c in (0.0, 1.0):
                    idx = np.flatnonzero((task_tr == t) & (y_tr == c))
                    val[rng.choice(idx, max(1, len(idx) // 3), replace=False)] = True
        f, v = ~val, val
        amax = l21_alpha_max(task_tr[f], X_tr[f], y_tr[f], "logistic")
        grid = amax * np.logspace(-3, -0.3, 8)
        sc = [mean_auc(task_tr[v], y_tr[v], mtlkit_fit_predict(
            binary, (task_tr[f], X_tr[f], y_tr[f]), (task_tr[v], X_tr[v]), a, "logistic", tmp)) for a in grid]
        a_best = grid[int(np.argmax(sc))]
        p = mtlkit_fit_predict(binary, (task_tr, X_tr, y_tr), (task_te, X_te), a_best, "logistic", tmp)
        out["l21"].append(mean_auc(task_te, y_te, p))
        cgrid = np.logspace(-3, 2, 11)

        def indep_pred(C, Xf, yf, tf, Xp, tp):
            pr = np.zeros(len(tp))
            for t in range(29):
                m = LogisticRegression(C=C, max_iter=10000).fit(Xf[tf == t], yf[tf == t])
                pr[tp == t] = m.predict_proba(Xp[tp == t])[:, 1]
            return pr
        sc2 = [mean_auc(task_tr[v], y_tr[v], indep_pred(C, X_tr[f], y_tr[f], task_tr[f], X_tr[v], task_tr[v]))
               for C in cgrid]
        C = cgrid[int(np.argmax(sc2))]
        out["independent"].append(mean_auc(task_te, y_te, indep_pred(C, X_tr, y_tr, task_tr, X_te, task_te)))
        print(f"landmine seed {seed}: l21 {out['l21'][-1]:.4f} independent {out['independent'][-1]:.4f}", flush=True)
    return {m: {"mean": float(np.mean(v)), "sd": float(np.std(v)), "per_seed": v} for m, v in out.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mtlkit", default=os.path.join(HERE, "..", "target", "release", "mtlkit"))
    ap.add_argument("--out", default=os.path.join(HERE, "results", "applications.json"))
    a = ap.parse_args()
    if not os.path.isdir(os.path.join(DATA, "school")):
        sys.exit(f"no data at {DATA} (set MTLKIT_SHARED_DATA)")
    with tempfile.TemporaryDirectory() as tmp:
        res = {"school": school(a.mtlkit, tmp), "landmine": landmine(a.mtlkit, tmp)}
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    print(json.dumps({k: {m: (v["mean"], v["sd"]) for m, v in r.items()} for k, r in res.items()}))


if __name__ == "__main__":
    main()
