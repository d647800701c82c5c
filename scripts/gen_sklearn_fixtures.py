"""Generate the scikit-learn reference fixtures for mtlkit-linear's parity tests.

Each case is one .npz in crates/mtlkit-linear/tests/fixtures/ holding the problem (X, Y, alpha,
l1_ratio, fit_intercept) and scikit-learn's solution at tol=1e-12 (coef as W = coef_.T, intercept,
objective, dual_gap, n_iter, alpha_max).

    python -m venv .venv && .venv/bin/pip install numpy "scikit-learn==1.9.*"
    .venv/bin/python scripts/gen_sklearn_fixtures.py

The objective is scikit-learn's:
    1/(2n) ||Y - X W - 1 b^T||_F^2 + alpha*l1_ratio*sum_j ||W_j||_2 + alpha*(1-l1_ratio)/2 ||W||_F^2
"""

import os
import sys
import warnings

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import MultiTaskElasticNet, MultiTaskLasso

OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "mtlkit-linear", "tests", "fixtures")


def objective(X, Y, W, b, alpha, l1_ratio, sw=None):
    n = X.shape[0]
    R = Y - X @ W - b[None, :]
    w = np.ones(n) if sw is None else sw * (n / np.sum(sw))
    return (
        0.5 / n * np.sum(w[:, None] * R**2)
        + alpha * l1_ratio * np.sum(np.sqrt(np.sum(W**2, axis=1)))
        + 0.5 * alpha * (1 - l1_ratio) * np.sum(W**2)
    )


def alpha_max(X, Y, l1_ratio, fit_intercept, sw=None):
    n = X.shape[0]
    w = np.ones(n) if sw is None else sw * (n / np.sum(sw))
    if fit_intercept:
        X = X - np.average(X, axis=0, weights=w)
        Y = Y - np.average(Y, axis=0, weights=w)
    X = X * np.sqrt(w)[:, None]
    Y = Y * np.sqrt(w)[:, None]
    return np.max(np.sqrt(np.sum((X.T @ Y) ** 2, axis=1))) / (X.shape[0] * l1_ratio)


def make_problem(rng, n, d, T, rho=0.0, k=None, constant_col=False, dup_col=False, noise=0.5):
    # AR(1) correlated features: corr(X_i, X_j) = rho^|i-j|
    Z = rng.standard_normal((n, d))
    X = np.empty((n, d))
    X[:, 0] = Z[:, 0]
    for j in range(1, d):
        X[:, j] = rho * X[:, j - 1] + np.sqrt(1 - rho**2) * Z[:, j]
    X += rng.normal(0, 1, d)[None, :]  # not centred
    if constant_col:
        X[:, d // 2] = 3.0
    if dup_col:
        X[:, 1] = X[:, 0]
    k = k or max(2, d // 5)
    W = np.zeros((d, T))
    rows = rng.choice(d, size=k, replace=False)
    W[rows] = rng.standard_normal((k, T))
    Y = X @ W + noise * rng.standard_normal((n, T)) + rng.normal(0, 2, T)[None, :]
    return X, Y


CASES = [
    # (name, n, d, T, rho, flags, l1_ratio, alpha fraction of alpha_max, fit_intercept)
    ("wide_lasso_09", 30, 60, 5, 0.0, {}, 1.0, 0.9, True),
    ("wide_lasso_001", 30, 60, 5, 0.5, {}, 1.0, 0.01, True),
    ("wide_enet_01", 25, 80, 4, 0.5, {}, 0.5, 0.1, True),
    ("tall_lasso_01", 120, 15, 3, 0.0, {}, 1.0, 0.1, True),
    ("tall_lasso_001_noint", 120, 15, 3, 0.0, {}, 1.0, 0.01, False),
    ("tall_enet_03", 100, 20, 6, 0.3, {}, 0.3, 0.3, True),
    ("t1_lasso", 40, 25, 1, 0.0, {}, 1.0, 0.05, True),
    ("t1_enet_noint", 40, 10, 1, 0.5, {}, 0.7, 0.2, False),
    ("t1_wide", 15, 40, 1, 0.0, {}, 1.0, 0.1, True),
    ("t20_lasso", 50, 30, 20, 0.0, {}, 1.0, 0.1, True),
    ("t20_enet_wide", 20, 45, 20, 0.5, {}, 0.8, 0.05, True),
    ("t20_lasso_001", 60, 12, 20, 0.2, {}, 1.0, 0.01, False),
    ("corr09_lasso", 60, 40, 4, 0.9, {}, 1.0, 0.05, True),
    ("corr09_enet", 40, 60, 3, 0.9, {}, 0.5, 0.01, True),
    ("dupcol_lasso", 50, 20, 3, 0.0, {"dup_col": True}, 1.0, 0.1, True),
    ("dupcol_enet", 50, 20, 3, 0.0, {"dup_col": True}, 0.4, 0.02, False),
    ("const_int_lasso", 50, 20, 3, 0.0, {"constant_col": True}, 1.0, 0.05, True),
    ("const_noint_lasso", 50, 20, 3, 0.0, {"constant_col": True}, 1.0, 0.05, False),
    ("const_int_enet", 30, 50, 4, 0.5, {"constant_col": True}, 0.6, 0.02, True),
    ("square_lasso_05", 40, 40, 5, 0.3, {}, 1.0, 0.5, True),
    ("square_enet_09", 40, 40, 5, 0.3, {}, 0.1, 0.9, True),
    ("small_enet_l1low", 35, 12, 2, 0.0, {}, 0.05, 0.3, True),
    ("wide_lasso_003_noint", 20, 100, 3, 0.7, {}, 1.0, 0.03, False),
    ("tall_t10_enet", 200, 30, 10, 0.6, {}, 0.9, 0.01, True),
    # sample_weight (scikit-learn 1.9 semantics: rescaled to sum to n_samples)
    ("sw_uniform_lasso", 40, 30, 3, 0.3, {"sw": "uniform"}, 1.0, 0.1, True),
    ("sw_random_lasso", 60, 20, 4, 0.3, {"sw": "random"}, 1.0, 0.05, True),
    ("sw_random_enet_noint", 50, 70, 3, 0.5, {"sw": "random"}, 0.5, 0.02, False),
    ("sw_zeros_enet", 80, 25, 5, 0.0, {"sw": "zeros"}, 0.7, 0.1, True),
    ("sw_integer_wide", 30, 60, 2, 0.5, {"sw": "integer"}, 1.0, 0.05, True),
]


def make_weights(rng, kind, n):
    if kind == "uniform":
        return np.full(n, 2.0)
    if kind == "random":
        return rng.uniform(0.1, 3.0, n)
    if kind == "zeros":
        w = rng.uniform(0.5, 2.0, n)
        w[rng.choice(n, size=n // 4, replace=False)] = 0.0
        return w
    if kind == "integer":
        return rng.integers(0, 4, n).astype(float) + (np.arange(n) == 0)
    raise ValueError(kind)


def main():
    print("scikit-learn", sklearn.__version__, file=sys.stderr)
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20261129)
    for name, n, d, T, rho, flags, l1_ratio, frac, fit_intercept in CASES:
        flags = dict(flags)
        sw_kind = flags.pop("sw", None)
        X, Y = make_problem(rng, n, d, T, rho, **flags)
        sw = None if sw_kind is None else make_weights(rng, sw_kind, n)
        amax = alpha_max(X, Y, l1_ratio, fit_intercept, sw)
        alpha = frac * amax
        Est = MultiTaskLasso if l1_ratio == 1.0 else MultiTaskElasticNet
        kw = {} if l1_ratio == 1.0 else {"l1_ratio": l1_ratio}
        est = Est(alpha=alpha, fit_intercept=fit_intercept, tol=1e-12, max_iter=1_000_000, **kw)
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            est.fit(X, Y, sample_weight=sw)
        W = est.coef_.T.copy()
        b = np.atleast_1d(est.intercept_).astype(float)
        obj = objective(X, Y, W, b, alpha, l1_ratio, sw)
        extra = {} if sw is None else {"sample_weight": sw}
        np.savez(
            os.path.join(OUT, f"{name}.npz"), **extra,
            X=X, Y=Y, alpha=np.float64(alpha), l1_ratio=np.float64(l1_ratio),
            fit_intercept=np.float64(fit_intercept), coef=W, intercept=b,
            objective=np.float64(obj), dual_gap=np.float64(est.dual_gap_),
            n_iter=np.float64(est.n_iter_), alpha_max=np.float64(amax),
        )
        nnz = int(np.sum(np.any(W != 0, axis=1)))
        print(f"{name:24s} n={n:4d} d={d:4d} T={T:3d} l1={l1_ratio:.2f} alpha={frac:5.2f}*amax "
              f"int={fit_intercept!s:5s} obj={obj:.6e} gap={est.dual_gap_:.1e} iters={est.n_iter_:6d} rows={nnz}")


if __name__ == "__main__":
    main()
