"""MALSAR's `Least_Trace` (trace-norm multi-task least squares), ported line by line to numpy,
as the reference for issue 7's School check.

MALSAR 1.1 (`MALSAR/functions/low_rank/Least_Trace.m`): accelerated gradient with a
step search (gamma doubles until the quadratic bound holds), singular-value thresholding,
zero start, objective  sum_t 1/2 ||y_t - X_t w_t||^2 + rho * ||W||_*  (no intercept; School's
bias column is an ordinary, penalised feature). Run for `--iters` iterations (MALSAR's
`maxIter`, 1000 in the issue's Octave run) without its relative-change stop, printing the
objective every 100 iterations.

    python bench/malsar_least_trace.py --data ../shared/data/school/school_flat.csv.gz --rho 100
"""

import argparse
import json
import time

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("--data", required=True)
ap.add_argument("--rho", type=float, default=100.0)
ap.add_argument("--iters", type=int, default=1000)
args = ap.parse_args()

raw = np.loadtxt(args.data, delimiter=",", skiprows=1)
task = raw[:, 0].astype(int)
X = raw[:, 1:-1]
y = raw[:, -1]
T = task.max() + 1
Xs = [X[task == t] for t in range(T)]
ys = [y[task == t] for t in range(T)]
d = X.shape[1]
XtX = [x.T @ x for x in Xs]
XtY = [x.T @ v for x, v in zip(Xs, ys)]


def fun(W):
    return sum(0.5 * np.sum((x @ W[:, t] - v) ** 2) for t, (x, v) in enumerate(zip(Xs, ys)))


def grad(W):
    return np.column_stack([XtX[t] @ W[:, t] - XtY[t] for t in range(T)])


def trace_projection(L, alpha):
    # MALSAR: [U S V] = svd(L, 0); S = max(S - alpha/2, 0)
    U, s, Vt = np.linalg.svd(L, full_matrices=False)
    s = np.maximum(s - alpha / 2, 0)
    return (U * s) @ Vt, s.sum()


start = time.process_time()
W0 = np.zeros((d, T))
Wz, Wz_old = W0.copy(), W0.copy()
t, t_old, gamma, gamma_inc = 1.0, 0.0, 1.0, 2.0
funcval = []
for it in range(args.iters):
    alpha = (t_old - 1) / t
    Ws = (1 + alpha) * Wz - alpha * Wz_old
    gWs = grad(Ws)
    Fs = fun(Ws)
    while True:
        Wzp, tn = trace_projection(Ws - gWs / gamma, 2 * args.rho / gamma)
        Fzp = fun(Wzp)
        delta = Wzp - Ws
        r_sum = np.sum(delta**2)
        Fzp_gamma = Fs + np.sum(delta * gWs) + gamma / 2 * r_sum
        if r_sum <= 1e-20 or Fzp <= Fzp_gamma:
            break
        gamma *= gamma_inc
    Wz_old, Wz = Wz, Wzp
    funcval.append(Fzp + args.rho * tn)
    t_old, t = t, 0.5 * (1 + np.sqrt(1 + 4 * t * t))
    if (it + 1) % 100 == 0:
        print(f"iter {it + 1}: objective {funcval[-1]:.6f}")
secs = time.process_time() - start
s = np.linalg.svd(Wz, compute_uv=False)
rank = int(np.sum(s > 1e-6 * s.max()))
print(json.dumps({"rho": args.rho, "iters": args.iters, "objective": funcval[-1],
                  "rank": rank, "cpu_s": secs,
                  "last_rel_change": abs(funcval[-1] - funcval[-2]) / funcval[-2]}))
