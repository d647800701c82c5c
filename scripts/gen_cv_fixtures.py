"""Reference fixtures for mtlkit's cross-validated estimators: scikit-learn 1.9's
MultiTaskLassoCV / MultiTaskElasticNetCV on small random problems with the folds given
explicitly (stored as a fold id per row), solved to tol 1e-10.

    python scripts/gen_cv_fixtures.py   # writes crates/mtlkit-linear/tests/fixtures/cv/*.npz
"""

import os

import numpy as np
import sklearn
from sklearn.linear_model import MultiTaskElasticNetCV, MultiTaskLassoCV
from sklearn.model_selection import KFold

OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "mtlkit-linear", "tests", "fixtures", "cv")

CASES = [
    # name, n, d, T, rho, l1_ratios (None = Lasso), fit_intercept, n_splits, shuffle
    ("lasso_wide", 40, 60, 3, 0.5, None, True, 5, False),
    ("lasso_tall", 80, 12, 4, 0.2, None, False, 5, False),
    ("lasso_shuffled", 50, 30, 2, 0.7, None, True, 4, True),
    ("enet_wide", 35, 50, 3, 0.5, [0.2, 0.7, 1.0], True, 5, False),
    ("enet_tall", 70, 10, 5, 0.0, [0.5, 0.9], True, 3, False),
    ("enet_noint", 45, 25, 2, 0.3, [0.3, 1.0], False, 5, True),
]


def problem(rng, n, d, T, rho):
    Z = rng.standard_normal((n, d))
    X = np.empty((n, d))
    X[:, 0] = Z[:, 0]
    for j in range(1, d):
        X[:, j] = rho * X[:, j - 1] + np.sqrt(1 - rho**2) * Z[:, j]
    X += rng.normal(0, 1, d)[None, :]
    W = np.zeros((d, T))
    k = max(2, d // 5)
    W[rng.choice(d, size=k, replace=False)] = rng.standard_normal((k, T))
    Y = X @ W + 0.5 * rng.standard_normal((n, T)) + rng.normal(0, 2, T)[None, :]
    return X, Y


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20261129)
    for name, n, d, T, rho, l1s, fit_intercept, k, shuffle in CASES:
        X, Y = problem(rng, n, d, T, rho)
        splits = list(KFold(k, shuffle=shuffle, random_state=0 if shuffle else None).split(X))
        fold_id = np.zeros(n, dtype=np.int64)
        for f, (_, te) in enumerate(splits):
            fold_id[te] = f
        common = dict(alphas=20, eps=1e-3, cv=splits, fit_intercept=fit_intercept, tol=1e-10, max_iter=1_000_000)
        if l1s is None:
            m = MultiTaskLassoCV(**common).fit(X, Y)
            l1 = np.array([1.0])
            alphas = m.alphas_[None, :]
            mse = m.mse_path_[None, :, :]
            l1_best = 1.0
        else:
            m = MultiTaskElasticNetCV(l1_ratio=l1s, **common).fit(X, Y)
            l1 = np.array(l1s, dtype=float)
            alphas = np.asarray(m.alphas_)
            mse = np.asarray(m.mse_path_)
            l1_best = float(m.l1_ratio_)
        np.savez(os.path.join(OUT, f"{name}.npz"), X=X, Y=Y, fold_id=fold_id, l1_ratios=l1,
                 fit_intercept=float(fit_intercept), alphas=alphas, mse_path=mse, alpha=float(m.alpha_),
                 l1_ratio=l1_best, coef=m.coef_.T,
                 intercept=np.broadcast_to(np.asarray(m.intercept_, float), (T,)).copy())
        print(name, "alpha_", m.alpha_, "l1_ratio_", l1_best, "mse", mse.shape, sklearn.__version__)


if __name__ == "__main__":
    main()
