"""Issue 7 from Python: the structural regularizers against oracles and their defining
properties."""

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

import mtlkit
import mtlkit.structured as S


def data(seed=0, n=80, d=10, t=4, rank=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    W = rng.normal(size=(d, rank)) @ rng.normal(size=(rank, t))
    W[d // 2:] = 0
    Y = X @ W + 0.1 * rng.normal(size=(n, t))
    return X, Y


def test_l21_part_equals_multitask_lasso():
    X, Y = data(1)
    a = S.StructuredRegressor(parts=[("l21", 0.05)], tol=1e-10, max_iter=100_000).fit(X, Y)
    b = mtlkit.MultiTaskLasso(alpha=0.05, tol=1e-12, max_iter=100_000).fit(X, Y)
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-6)
    np.testing.assert_allclose(a.intercept_, b.intercept_, atol=1e-6)


def test_trace_norm_is_low_rank_and_dirty_model_splits():
    X, Y = data(2, rank=1)
    m = S.TraceNormRegression(alpha=0.05, tol=1e-8).fit(X, Y)
    s = np.linalg.svd(m.coef_, compute_uv=False)
    assert np.sum(s > 1e-6 * s[0]) == 1
    dm = S.DirtyModel(alpha_group=0.05, alpha_sparse=0.05, tol=1e-8).fit(X, Y)
    assert len(dm.parts_) == 2
    np.testing.assert_allclose(dm.parts_[0] + dm.parts_[1], dm.coef_, atol=1e-12)


def test_mean_regularization_parts_and_limit():
    X, Y = data(3)
    m = S.MeanRegularized(alpha_mean=0.1, alpha_task=1e8, tol=1e-9, max_iter=100_000).fit(X, Y)
    # alpha_task -> infinity: all tasks share w0
    assert np.ptp(m.coef_, axis=0).max() < 1e-5
    w0 = m.parts_[0]
    assert np.ptp(w0, axis=0).max() < 1e-12


def test_mtrl_covariance_and_per_task_data():
    rng = np.random.default_rng(4)
    d = 8
    u = rng.normal(size=d)
    ws = [u, u + 0.1 * rng.normal(size=d), -u + 0.1 * rng.normal(size=d)]
    Xs = [rng.normal(size=(40, d)) for _ in ws]
    ys = [x @ w + 0.2 * rng.normal(size=40) for x, w in zip(Xs, ws)]
    m = S.MTRL(lambda1=0.01, lambda2=0.5, tol=1e-7, max_iter=100_000).fit_tasks(Xs, ys)
    c = m.covariance_
    corr = c / np.sqrt(np.outer(np.diag(c), np.diag(c)))
    assert corr[0, 1] > 0.5 and corr[0, 2] < -0.5 and corr[1, 2] < -0.5
    assert abs(np.trace(c) - 1) < 1e-12
    assert np.all(np.diff(m.objective_trace_) <= 1e-9 * np.abs(m.objective_trace_[:-1]))


def test_logistic_structured_and_grid_search():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(150, 6))
    noise = 0.5 * rng.normal(size=(150, 2))
    Y = np.column_stack([X[:, 0] > noise[:, 0], X[:, 0] + 0.5 * X[:, 1] > noise[:, 1]])
    Y = Y.astype(float)
    m = S.TraceNormRegression(alpha=0.01, loss="logistic").fit(X, Y)
    p = m.predict_proba(X)
    assert p.shape == (150, 2) and np.all((p > 0) & (p < 1))
    assert ((p > 0.5) == Y.astype(bool)).mean() > 0.8
    X, Y = data(6)
    g = GridSearchCV(S.SparseLowRank(), {"alpha_rank": [0.01, 0.1]}, cv=3).fit(X, Y)
    assert g.best_params_["alpha_rank"] in (0.01, 0.1)


def test_bad_settings_raise_value_errors():
    X, Y = data(7)
    with pytest.raises(ValueError):
        S.StructuredRegressor(parts=[("nonsense", 1.0)]).fit(X, Y)
    with pytest.raises(ValueError):
        S.BlockSCAD(gamma=1.5).fit(X, Y)
    with pytest.raises(ValueError):
        S.GraphRegularized(edges=[(0, 9)]).fit(X, Y)
    with pytest.raises(ValueError):
        S.TraceNormRegression(alpha=-1.0).fit(X, Y)


def test_clustered_and_go_mtl_expose_their_structure():
    X, Y = data(8, t=6, rank=2)
    c = S.ClusteredMTL(k=2, rho1=0.1, rho2=0.01, tol=1e-7, max_iter=100_000).fit(X, Y)
    assert c.covariance_.shape == (6, 6)
    assert abs(np.trace(c.covariance_) - 2) < 1e-8
    eig = np.linalg.eigvalsh(c.covariance_)
    assert eig.min() > -1e-10 and eig.max() < 1 + 1e-10
    g = S.GOMTL(k=2, alpha_codes=0.01, alpha_basis=0.001, tol=1e-7, max_iter=100_000).fit(X, Y)
    assert g.basis_.shape == (10, 2) and g.codes_.shape == (2, 6)
    np.testing.assert_allclose(g.basis_ @ g.codes_, g.coef_.T, atol=1e-12)
    assert np.all(np.diff(g.objective_trace_) <= 1e-9 * np.abs(g.objective_trace_[:-1]))


def test_structured_models_save_and_load(tmp_path):
    X, Y = data(9)
    for est in [S.DirtyModel(alpha_group=0.05, alpha_sparse=0.05),
                S.MTRL(lambda1=0.01, lambda2=0.1)]:
        m = est.fit(X, Y)
        m.save(tmp_path / "m.safetensors")
        back = mtlkit.load_model(tmp_path / "m.safetensors")
        np.testing.assert_allclose(back.predict(X), m.predict(X), rtol=1e-12, atol=1e-12)


def test_alternating_models_warn_about_their_outer_loop():
    rng = np.random.default_rng(44)
    X = rng.normal(size=(60, 8))
    Y = X @ rng.normal(size=(8, 3)) + 0.1 * rng.normal(size=(60, 3))
    with pytest.warns(ConvergenceWarning, match=r"after 1 outer iterations \(max_outer=1\)"):
        m = S.MultiTaskFeatureLearning(gamma=1.0, max_outer=1).fit(X, Y)
    assert not m.converged_
    with pytest.warns(ConvergenceWarning, match="outer iterations"):
        S.MTRL(max_outer=1).fit(X, Y)
    # too many features for its d × d covariance: a clear error, nothing allocated
    with pytest.raises(ValueError, match="n_features"):
        S.MultiTaskFeatureLearning().fit(np.zeros((2, 8193)), np.zeros((2, 2)))
