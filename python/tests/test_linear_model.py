"""Issue 6: parity with scikit-learn, per-task / logistic / mixed models, pipelines, model files,
pickling and error mapping."""

import os
import pickle
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import linear_model as sk
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mtlkit
from mtlkit import _core

TIGHT = dict(tol=1e-12, max_iter=1_000_000)


def problem(seed, n=None, d=None, t=None, order="C"):
    rng = np.random.default_rng(seed)
    n = n or int(rng.integers(20, 80))
    d = d or int(rng.integers(5, 60))
    t = t or int(rng.integers(1, 6))
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3, size=d) + rng.normal(size=d)
    W = np.zeros((d, t))
    k = max(1, d // 5)
    W[rng.choice(d, k, replace=False)] = rng.normal(size=(k, t)) * 3
    Y = X @ W + rng.normal(size=(n, t)) + rng.normal(size=t)
    X = np.asfortranarray(X) if order == "F" else np.ascontiguousarray(X)
    return X, Y, rng


def rel(a, b):
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-12)


# ---- parity with scikit-learn on many random problems ------------------------------------------


@pytest.mark.parametrize("seed", range(24))
def test_parity_with_sklearn(seed):
    X, Y, rng = problem(seed, order="F" if seed % 2 else "C")
    alpha_max = np.sqrt(((X - X.mean(0)).T @ (Y - Y.mean(0))) ** 2).sum(1).max() / X.shape[0]
    alpha = alpha_max * float(rng.choice([0.5, 0.1, 0.02]))
    fit_intercept = bool(seed % 3)
    if seed % 4 < 2:
        ours = mtlkit.MultiTaskLasso(alpha=alpha, fit_intercept=fit_intercept, **TIGHT)
        ref = sk.MultiTaskLasso(alpha=alpha, fit_intercept=fit_intercept, **TIGHT)
    else:
        r = float(rng.choice([0.2, 0.5, 0.9]))
        ours = mtlkit.MultiTaskElasticNet(
            alpha=alpha, l1_ratio=r, fit_intercept=fit_intercept, **TIGHT
        )
        ref = sk.MultiTaskElasticNet(alpha=alpha, l1_ratio=r, fit_intercept=fit_intercept, **TIGHT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref.fit(X, Y)
    ours.fit(X, Y)
    assert ours.coef_.shape == ref.coef_.shape == (Y.shape[1], X.shape[1])
    assert rel(ours.coef_, ref.coef_) < 1e-6
    assert rel(ours.intercept_, ref.intercept_) < 1e-6 or np.abs(ref.intercept_).max() < 1e-9
    assert ours.n_features_in_ == X.shape[1]
    assert ours.converged_


@pytest.mark.parametrize("shape", [(2000, 300, 5), (600, 900, 15)])
def test_mixed_precision_switch_keeps_sklearn_parity(shape):
    # large enough (n * T >= 8192) for the single-precision products; the tall one (n >= 5 d)
    # also forms X^T X in single precision: both settings certify the same tolerance
    X, Y, rng = problem(7, *shape)
    alpha_max = np.sqrt(((X - X.mean(0)).T @ (Y - Y.mean(0))) ** 2).sum(1).max() / X.shape[0]
    alpha = alpha_max / 50
    ref = sk.MultiTaskElasticNet(alpha=alpha, l1_ratio=0.7, **TIGHT).fit(X, Y)
    fits = []
    for mixed in (True, False):
        ours = mtlkit.MultiTaskElasticNet(
            alpha=alpha, l1_ratio=0.7, tol=1e-12, max_iter=100_000, mixed_precision=mixed
        )
        assert ours.get_params()["mixed_precision"] is mixed
        ours.fit(X, Y)
        assert ours.converged_
        assert rel(ours.coef_, ref.coef_) < 1e-6
        fits.append(ours.coef_)
    assert rel(fits[0], fits[1]) < 1e-6
    with pytest.raises(ValueError, match="mixed_precision"):
        mtlkit.MultiTaskLasso(mixed_precision="yes").fit(X, Y)


@pytest.mark.parametrize("seed", range(4))
def test_sample_weight_parity(seed):
    X, Y, rng = problem(100 + seed)
    w = rng.uniform(0, 3, size=X.shape[0])
    ours = mtlkit.MultiTaskElasticNet(alpha=0.05, **TIGHT).fit(X, Y, sample_weight=w)
    ref = sk.MultiTaskElasticNet(alpha=0.05, **TIGHT).fit(X, Y, sample_weight=w)
    assert rel(ours.coef_, ref.coef_) < 1e-6
    assert rel(ours.intercept_, ref.intercept_) < 1e-6


def test_float32_sparse_and_memory_orders_agree():
    X, Y, _ = problem(7, n=60, d=30, t=3)
    base = mtlkit.MultiTaskLasso(alpha=0.1, **TIGHT).fit(X, Y).coef_
    f = mtlkit.MultiTaskLasso(alpha=0.1, **TIGHT).fit(np.asfortranarray(X), Y).coef_
    s = mtlkit.MultiTaskLasso(alpha=0.1, **TIGHT).fit(sp.csc_matrix(X), Y).coef_
    x32 = X.astype(np.float32)
    c32 = mtlkit.MultiTaskLasso(alpha=0.1, **TIGHT).fit(x32, Y).coef_
    c64 = mtlkit.MultiTaskLasso(alpha=0.1, **TIGHT).fit(x32.astype(np.float64), Y).coef_
    assert rel(f, base) < 1e-9
    assert rel(s, base) < 1e-8
    # float32 X is widened exactly: same problem as its float64 copy (centred copy in f32)
    assert rel(c32, c64) < 1e-5


def test_cv_parity_with_sklearn():
    X, Y, _ = problem(3, n=80, d=40, t=4)
    for ours, ref in [
        (
            mtlkit.MultiTaskLassoCV(cv=KFold(4), **TIGHT),
            sk.MultiTaskLassoCV(cv=KFold(4), **TIGHT),
        ),
        (
            mtlkit.MultiTaskElasticNetCV(l1_ratio=[0.3, 0.8], cv=3, alphas=20, **TIGHT),
            sk.MultiTaskElasticNetCV(l1_ratio=[0.3, 0.8], cv=3, alphas=20, **TIGHT),
        ),
    ]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ref.fit(X, Y)
        ours.fit(X, Y)
        assert ours.alpha_ == pytest.approx(ref.alpha_, rel=1e-9)
        assert ours.mse_path_.shape == ref.mse_path_.shape
        assert rel(ours.mse_path_, ref.mse_path_) < 1e-6
        assert rel(ours.alphas_, ref.alphas_) < 1e-9
        assert rel(ours.coef_, ref.coef_) < 1e-6
        if hasattr(ref, "l1_ratio_"):
            assert ours.l1_ratio_ == ref.l1_ratio_


# ---- scikit-learn tools ---------------------------------------------------------------------------


def test_pipeline_gridsearch_cross_val_score():
    X, Y, _ = problem(11, n=90, d=20, t=3)
    pipe = make_pipeline(StandardScaler(), mtlkit.MultiTaskLasso())
    grid = GridSearchCV(pipe, {"multitasklasso__alpha": [0.01, 0.1, 1.0]}, cv=3).fit(X, Y)
    assert grid.best_params_["multitasklasso__alpha"] in (0.01, 0.1, 1.0)
    ref = GridSearchCV(
        make_pipeline(StandardScaler(), sk.MultiTaskLasso()),
        {"multitasklasso__alpha": [0.01, 0.1, 1.0]},
        cv=3,
    ).fit(X, Y)
    assert grid.best_params_ == ref.best_params_
    scores = cross_val_score(mtlkit.MultiTaskElasticNet(alpha=0.1), X, Y, cv=3)
    ref_scores = cross_val_score(sk.MultiTaskElasticNet(alpha=0.1), X, Y, cv=3)
    np.testing.assert_allclose(scores, ref_scores, atol=1e-3)


def test_pickle_roundtrip_and_feature_names():
    pd = pytest.importorskip("pandas")
    X, Y, _ = problem(5, n=40, d=6, t=2)
    df = pd.DataFrame(X, columns=[f"gene{j}" for j in range(6)])
    yd = pd.DataFrame(Y, columns=["motor", "total"])
    m = mtlkit.MultiTaskLasso(alpha=0.05).fit(df, yd)
    assert list(m.feature_names_in_) == [f"gene{j}" for j in range(6)]
    assert list(m.task_names_) == ["motor", "total"]
    back = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(back.predict(df), m.predict(df))
    # the Rust model object pickles too
    model = _core.Model.from_parts(
        np.ascontiguousarray(m.coef_.T), m.intercept_, m._metadata
    )
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.coef, model.coef)


# ---- per-task data, logistic and mixed losses ---------------------------------------------------


def test_per_task_data_task_ids_and_fit_tasks():
    rng = np.random.default_rng(0)
    d = 8
    w = rng.normal(size=d)
    Xs = [rng.normal(size=(n, d)) for n in (30, 45, 12)]
    ys = [x @ (w + 0.1 * rng.normal(size=d)) + 0.1 * rng.normal(size=len(x)) for x in Xs]
    a = mtlkit.MultiTaskLasso(alpha=0.01, **TIGHT).fit_tasks(Xs, ys)
    X = np.vstack(Xs)
    y = np.concatenate(ys)
    ids = np.repeat(["a", "b", "c"], [30, 45, 12])
    b = mtlkit.MultiTaskLasso(alpha=0.01, **TIGHT).fit(X, y, task_ids=ids)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-10, atol=1e-12)
    assert list(b.tasks_) == ["a", "b", "c"]
    assert b.coef_.shape == (3, d)
    pred = b.predict(X, task_ids=ids)
    full = b.predict(X)
    np.testing.assert_allclose(pred, full[np.arange(len(X)), np.searchsorted(b.tasks_, ids)])
    with pytest.raises(ValueError, match="unknown task ids"):
        b.predict(X[:2], task_ids=["a", "zzz"])


def test_per_task_cv_and_logistic():
    rng = np.random.default_rng(3)
    d = 6
    Xs = [rng.normal(size=(n, d)) for n in (40, 60, 25)]
    ys = [x[:, 0] - x[:, 1] + 0.3 * rng.normal(size=len(x)) for x in Xs]
    X, y = np.vstack(Xs), np.concatenate(ys)
    ids = np.repeat([0, 1, 2], [40, 60, 25])
    cv = mtlkit.MultiTaskLassoCV(cv=4, alphas=30).fit(X, y, task_ids=ids)
    assert cv.mse_path_.shape == (30, 4)
    assert cv.alpha_ in cv.alphas_
    # the refit equals a plain fit at the chosen alpha
    plain = mtlkit.MultiTaskLasso(alpha=cv.alpha_).fit(X, y, task_ids=ids)
    np.testing.assert_allclose(cv.coef_, plain.coef_, rtol=1e-6, atol=1e-8)
    with pytest.raises(ValueError, match="cv must be an int"):
        mtlkit.MultiTaskLassoCV(cv=KFold(3)).fit(X, y, task_ids=ids)
    labels = (y > 0).astype(int)
    clf = mtlkit.MultiTaskLogisticRegression(alpha=0.01).fit(X, labels, task_ids=ids)
    assert clf.coef_.shape == (3, d)
    assert clf.predict(X, task_ids=ids).shape == (len(X),)
    assert (clf.predict(X, task_ids=ids) == labels).mean() > 0.85
    assert clf.predict_proba(X, task_ids=ids).shape == (len(X), 2)


def test_per_task_equals_shared_when_designs_coincide():
    X, Y, _ = problem(21, n=50, d=10, t=3)
    shared = mtlkit.MultiTaskLasso(alpha=0.05, **TIGHT).fit(X, Y)
    per = mtlkit.MultiTaskLasso(alpha=0.05, **TIGHT).fit_tasks([X] * 3, [Y[:, t] for t in range(3)])
    assert rel(per.coef_, shared.coef_) < 1e-7


def test_missing_targets_leave_only_their_task():
    X, Y, _ = problem(8, n=60, d=10, t=2)
    Ym = Y.copy()
    Ym[:20, 1] = np.nan
    m = mtlkit.MultiTaskLasso(alpha=0.05, **TIGHT).fit(X, Ym)
    per = mtlkit.MultiTaskLasso(alpha=0.05, **TIGHT).fit_tasks([X, X[20:]], [Y[:, 0], Y[20:, 1]])
    assert rel(m.coef_, per.coef_) < 1e-7


def test_logistic_matches_sklearn_for_one_task_ridge_free_limit():
    # one task, L2,1 = L1 on one column: scikit-learn's L1 logistic regression with
    # C = 1 / (n * alpha) solves the same problem (up to its scaling)
    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 6))
    y = (X[:, 0] - X[:, 1] + 0.5 * rng.normal(size=200) > 0).astype(int)
    alpha = 0.02
    ours = mtlkit.MultiTaskLogisticRegression(alpha=alpha, **TIGHT).fit(X, y)
    ref = sk.LogisticRegression(
        l1_ratio=1.0, C=1 / (200 * alpha), solver="liblinear", tol=1e-12, max_iter=100_000,
        intercept_scaling=1e6,
    ).fit(X, y)
    np.testing.assert_allclose(ours.coef_[0], ref.coef_[0], atol=2e-4)
    assert ours.predict(X).shape == (200,)
    assert ours.predict_proba(X).shape == (200, 2)
    assert (ours.predict(X) == ref.predict(X)).mean() > 0.99


def test_logistic_string_labels_missing_and_multitask():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(150, 5))
    Y = np.column_stack([X[:, 0] > 0, X[:, 0] + X[:, 2] > 0]).astype(float)
    Y[:30, 1] = np.nan
    m = mtlkit.MultiTaskLogisticRegression(alpha=0.005).fit(X, Y)
    assert m.predict(X).shape == (150, 2)
    assert m.predict_proba(X).shape == (150, 2)
    assert m.score(X, Y) > 0.9
    labels = np.where(X[:, :1] > 0, "yes", "no")
    s = mtlkit.MultiTaskLogisticRegression(alpha=0.005).fit(X, labels)
    assert set(np.unique(s.predict(X))) <= {"yes", "no"}
    with pytest.raises(ValueError, match="Only binary"):
        mtlkit.MultiTaskLogisticRegression().fit(X, rng.integers(0, 3, size=(150, 2)))


def test_mixed_losses():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 6))
    Y = np.column_stack([X[:, 0] + 0.1 * rng.normal(size=200), X[:, 0] > 0]).astype(float)
    m = mtlkit.MultiTaskMixedLoss(alpha=0.01, losses=["squared", "logistic"]).fit(X, Y)
    assert m.losses_ == ["squared", "logistic"]
    pred = m.predict(X)
    assert set(np.unique(pred[:, 1])) <= {0.0, 1.0}
    assert m.predict_proba(X).shape == (200, 1)
    assert m.score(X, Y) > 0.9
    # the shared support: feature 0 only
    assert np.flatnonzero(np.abs(m.coef_).sum(0) > 1e-3).tolist() == [0]


# ---- model files shared with the CLI --------------------------------------------------------------


def cli():
    exe = os.environ.get("MTLKIT_CLI") or shutil.which("mtlkit")
    if exe is None:
        for target in (
            os.environ.get("CARGO_TARGET_DIR"),
            Path(__file__).resolve().parents[2] / "target",
        ):
            for profile in ("release", "debug"):
                if target and (Path(target) / profile / "mtlkit").exists():
                    return str(Path(target) / profile / "mtlkit")
    return exe


def test_model_file_roundtrip_python(tmp_path):
    X, Y, _ = problem(9, n=40, d=7, t=3)
    m = mtlkit.MultiTaskElasticNet(alpha=0.05, l1_ratio=0.7).fit(X, Y)
    m.save(tmp_path / "m.safetensors")
    back = mtlkit.load_model(tmp_path / "m.safetensors")
    assert isinstance(back, mtlkit.MultiTaskElasticNet)
    assert back.l1_ratio == 0.7
    np.testing.assert_array_equal(back.predict(X), m.predict(X))
    clf = mtlkit.MultiTaskLogisticRegression(alpha=0.01).fit(X, (Y > Y.mean(0)).astype(int))
    clf.save(tmp_path / "c.safetensors")
    clf2 = mtlkit.load_model(tmp_path / "c.safetensors")
    np.testing.assert_array_equal(clf2.predict(X), clf.predict(X))


def test_model_files_cross_between_cli_and_python(tmp_path):
    exe = cli()
    if exe is None:
        pytest.skip("the mtlkit CLI is not built (cargo build --release -p mtlkit-cli)")
    X, Y, _ = problem(10, n=50, d=5, t=2)
    np.savetxt(tmp_path / "x.csv", X, delimiter=",", header="a,b,c,d,e", comments="")
    np.savetxt(tmp_path / "y.csv", Y, delimiter=",", header="t1,t2", comments="")
    # CLI -> Python
    subprocess.run(
        [exe, "fit", "--estimator", "multitask-lasso", "--x", str(tmp_path / "x.csv"),
         "--y", str(tmp_path / "y.csv"),
         "--alpha", "0.05", "--tol", "1e-10", "--out", str(tmp_path / "cli.safetensors")],
        check=True, capture_output=True,
    )
    m = mtlkit.load_model(tmp_path / "cli.safetensors")
    ref = mtlkit.MultiTaskLasso(alpha=0.05, tol=1e-10).fit(X, Y)
    assert rel(m.coef_, ref.coef_) < 1e-8
    assert list(m.feature_names_in_) == ["a", "b", "c", "d", "e"]
    # Python -> CLI (the CSV header must name the model's features: x0.. for numpy input)
    ref.save(tmp_path / "py.safetensors")
    np.savetxt(tmp_path / "x0.csv", X, delimiter=",", header="x0,x1,x2,x3,x4", comments="")
    out = subprocess.run(
        [exe, "predict", str(tmp_path / "py.safetensors"), "--x",
         str(tmp_path / "x0.csv"), "--out", str(tmp_path / "pred.csv")],
        check=True, capture_output=True,
    )
    assert out.returncode == 0
    pred = np.loadtxt(tmp_path / "pred.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(pred, ref.predict(X), rtol=1e-10, atol=1e-10)


def test_structured_model_from_the_cli_loads_in_python(tmp_path):
    exe = cli()
    if exe is None:
        pytest.skip("the mtlkit CLI is not built (cargo build --release -p mtlkit-cli)")
    import mtlkit.structured as S

    X, Y, _ = problem(16, n=60, d=6, t=3)
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "y.npy", Y)
    subprocess.run(
        [exe, "fit", "--penalty", "trace-norm=0.5", "--tol", "1e-9", "--max-iter", "100000",
         "--x", str(tmp_path / "x.npy"), "--y", str(tmp_path / "y.npy"),
         "--out", str(tmp_path / "s.safetensors")],
        check=True, capture_output=True,
    )
    m = mtlkit.load_model(tmp_path / "s.safetensors")
    assert isinstance(m, S.StructuredRegressor)
    assert m.parts == [("trace-norm", 0.5)]
    ref = S.TraceNormRegression(alpha=0.5, tol=1e-9, max_iter=100_000).fit(X, Y)
    np.testing.assert_allclose(m.predict(X), ref.predict(X), rtol=1e-7, atol=1e-7)


# ---- errors and warnings ---------------------------------------------------------------------------


def test_errors_are_mapped():
    X, Y, _ = problem(12, n=30, d=5, t=2)
    with pytest.raises(NotFittedError):
        mtlkit.MultiTaskLasso().predict(X)
    with pytest.raises(ValueError, match="2-D"):
        mtlkit.MultiTaskLasso().fit(X, Y[:, 0])
    with pytest.raises(ValueError):
        mtlkit.MultiTaskLasso(alpha=-1).fit(X, Y)
    with pytest.raises(ValueError):
        mtlkit.MultiTaskLasso(alpha=float("nan")).fit(X, Y)
    bad = X.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError):
        mtlkit.MultiTaskLasso().fit(bad, Y)
    with pytest.raises(ValueError):
        mtlkit.MultiTaskLasso().fit(X, Y[:-1])
    with pytest.raises(ValueError, match="features"):
        mtlkit.MultiTaskLasso().fit(X, Y).predict(X[:, :3])
    with pytest.raises(ValueError):
        _core.fit_dense(X, Y, '{"estimator": "lasso", "alpha": 1, "unknown": 3}')
    with pytest.raises(OSError):
        mtlkit.load_model("/nonexistent/model.safetensors")


def test_corrupt_model_file_is_a_value_error(tmp_path):
    X, Y, _ = problem(13, n=30, d=5, t=2)
    m = mtlkit.MultiTaskLasso(alpha=0.1).fit(X, Y)
    m.save(tmp_path / "m.safetensors")
    data = (tmp_path / "m.safetensors").read_bytes()
    (tmp_path / "bad.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="invalid model file"):
        mtlkit.load_model(tmp_path / "bad.safetensors")


def test_non_convergence_warns():
    X, Y, _ = problem(14, n=60, d=40, t=3)
    with pytest.warns(ConvergenceWarning):
        m = mtlkit.MultiTaskLasso(alpha=1e-4, max_iter=2, tol=1e-14).fit(X, Y)
    assert not m.converged_


def test_fits_in_threads_are_deterministic():
    # the GIL is released during fits (py.detach in mtlkit-py): two fits in threads run at
    # once, do not deadlock and give identical answers
    import threading

    X, Y, _ = problem(15, n=300, d=200, t=5)
    results = {}

    def run(k):
        results[k] = mtlkit.MultiTaskLasso(alpha=0.01, **TIGHT).fit(X, Y).coef_

    threads = [threading.Thread(target=run, args=(k,)) for k in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    np.testing.assert_array_equal(results[0], results[1])


def test_cv_uses_the_splitters_training_rows_and_weights_the_test_error():
    # TimeSeriesSplit and ShuffleSplit(train_size=...) train on fewer rows than the complement
    # of the test rows; with sample weights each fold's test error is weighted (scikit-learn)
    from sklearn.model_selection import ShuffleSplit, TimeSeriesSplit

    rng = np.random.default_rng(7)
    X = rng.normal(size=(40, 6))
    Y = X[:, :2] @ rng.normal(size=(2, 3)) + 0.3 * rng.normal(size=(40, 3))
    w = rng.uniform(0.2, 3.0, size=40)
    tight = dict(alphas=15, tol=1e-12, max_iter=100000)
    for cv in (TimeSeriesSplit(3), ShuffleSplit(3, train_size=0.5, test_size=0.2, random_state=0)):
        ours = mtlkit.MultiTaskLassoCV(cv=cv, **tight).fit(X, Y)
        ref = sk.MultiTaskLassoCV(cv=cv, **tight).fit(X, Y)
        np.testing.assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-6, atol=1e-9)
        assert ours.alpha_ == pytest.approx(ref.alpha_, rel=1e-9)
    ours = mtlkit.MultiTaskLassoCV(cv=KFold(3), **tight).fit(X, Y, sample_weight=w)
    ref = sk.MultiTaskLassoCV(cv=KFold(3), **tight).fit(X, Y, sample_weight=w)
    np.testing.assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-6, atol=1e-9)
    assert ours.alpha_ == pytest.approx(ref.alpha_, rel=1e-9)
    # a single split (a validation set) as scikit-learn; the one-standard-error rule needs two
    one = ShuffleSplit(1, test_size=0.25, random_state=1)
    ours = mtlkit.MultiTaskLassoCV(cv=one, **tight).fit(X, Y)
    ref = sk.MultiTaskLassoCV(cv=one, **tight).fit(X, Y)
    assert ours.mse_path_.shape == ref.mse_path_.shape == (15,)
    np.testing.assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-6, atol=1e-9)
    assert ours.alpha_ == pytest.approx(ref.alpha_, rel=1e-9)
    with pytest.raises(ValueError, match="one-standard-error"):
        mtlkit.MultiTaskLassoCV(cv=one, one_standard_error=True, **tight).fit(X, Y)
    # per-task data takes no weights, in CV as in fit
    ids = np.repeat([0, 1], 20)
    with pytest.raises(ValueError, match="sample_weight"):
        mtlkit.MultiTaskLassoCV(cv=3).fit(X, Y[:, 0], task_ids=ids, sample_weight=w)


def test_cv_grid_edge_cases_are_sklearns():
    X = np.random.default_rng(1).normal(size=(12, 3))
    with pytest.raises(ValueError, match="l1_ratio"):
        mtlkit.MultiTaskElasticNetCV(l1_ratio=0.0, cv=3).fit(X, X[:, :2])
    # zero targets: alpha_max is 0, every alpha is 1e-15 and the model is zero
    m = mtlkit.MultiTaskLassoCV(cv=3, alphas=5).fit(X, np.zeros((12, 2)))
    assert m.alpha_ == pytest.approx(1e-15)
    assert not np.any(m.coef_)


def test_saved_classifiers_keep_their_labels(tmp_path):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 4))
    Z = X[:, :2] @ rng.normal(size=(2, 2))
    for labels in (np.array(["cat", "dog"]), np.array([3, 7]), np.array([False, True])):
        y = labels[(Z > 0).astype(int)]
        clf = mtlkit.MultiTaskLogisticRegression(alpha=0.01).fit(X, y)
        clf.save(tmp_path / "c.safetensors")
        back = mtlkit.load_model(tmp_path / "c.safetensors")
        np.testing.assert_array_equal(back.predict(X), clf.predict(X))
        assert back.score(X, y) == clf.score(X, y)


def test_cv_shapes_and_bad_grids_as_sklearn():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(30, 5))
    Y = X[:, :2] @ rng.normal(size=(2, 3))
    for l1 in (0.7, [0.7]):
        ours = mtlkit.MultiTaskElasticNetCV(l1_ratio=l1, cv=3, alphas=10).fit(X, Y)
        ref = sk.MultiTaskElasticNetCV(l1_ratio=l1, cv=3, alphas=10).fit(X, Y)
        assert ours.mse_path_.shape == ref.mse_path_.shape
        assert ours.alphas_.shape == ref.alphas_.shape
    ours = mtlkit.MultiTaskElasticNetCV(l1_ratio=[0.2, 0.7], cv=3, alphas=[0.1, 0.01]).fit(X, Y)
    ref = sk.MultiTaskElasticNetCV(l1_ratio=[0.2, 0.7], cv=3, alphas=[0.1, 0.01]).fit(X, Y)
    assert ours.alphas_.shape == ref.alphas_.shape
    for bad in ([np.nan], [np.inf, 0.1]):
        with pytest.raises(ValueError, match="alphas must be finite"):
            mtlkit.MultiTaskLassoCV(cv=3, alphas=bad).fit(X, Y)
    with pytest.raises(ValueError, match="n_alphas"):
        mtlkit.MultiTaskLassoCV(cv=3, alphas=10**10).fit(X, Y)


def test_task_ids_on_a_shared_fit_name_the_columns_of_y():
    # a model fitted on a shared Y predicts row i for task task_ids[i] (its column of Y),
    # for every estimator kind; unknown ids are a clear error
    rng = np.random.default_rng(41)
    X = rng.normal(size=(80, 5))
    Y = X @ rng.normal(size=(5, 3)) + 0.1 * rng.normal(size=(80, 3))
    ids = rng.integers(0, 3, size=80)
    rows = np.arange(80)
    reg = mtlkit.MultiTaskLasso(alpha=0.01).fit(X, Y)
    np.testing.assert_allclose(reg.predict(X, task_ids=ids), reg.predict(X)[rows, ids])
    labels = (Y > 0).astype(int)
    clf = mtlkit.MultiTaskLogisticRegression(alpha=0.01).fit(X, labels)
    np.testing.assert_array_equal(clf.predict(X, task_ids=ids), clf.predict(X)[rows, ids])
    p = clf.predict_proba(X, task_ids=ids)
    np.testing.assert_allclose(p[:, 1], clf.predict_proba(X)[rows, ids])
    mixed_y = np.column_stack([Y[:, 0], labels[:, 1], Y[:, 2]]).astype(float)
    mixed = mtlkit.MultiTaskMixedLoss(alpha=0.01, losses=["squared", "logistic", "squared"])
    mixed.fit(X, mixed_y)
    np.testing.assert_allclose(
        mixed.predict(X, task_ids=ids).astype(float),
        mixed.predict(X).astype(float)[rows, ids],
    )
    for model in (reg, clf, mixed):
        with pytest.raises(ValueError, match="unknown task ids"):
            model.predict(X[:2], task_ids=[0, 3])
        with pytest.raises(ValueError, match="unknown task ids"):
            model.predict(X[:2], task_ids=["a", "b"])


def test_fit_tasks_refuses_a_task_without_rows():
    rng = np.random.default_rng(42)
    Xs = [rng.normal(size=(20, 4)), np.empty((0, 4)), rng.normal(size=(15, 4))]
    ys = [rng.normal(size=20), np.empty(0), rng.normal(size=15)]
    for est in (mtlkit.MultiTaskLasso(alpha=0.01), mtlkit.structured.MeanRegularized()):
        with pytest.raises(ValueError, match="task 1 has no samples"):
            est.fit_tasks(Xs, ys)
        with pytest.raises(ValueError, match="task 0: X_t has 20 rows but y_t has 19"):
            est.fit_tasks([Xs[0], Xs[2]], [ys[0][:19], ys[2]])


def test_nan_targets_with_task_ids_are_missing_labels():
    # stacked per-task rows whose target is NaN leave their task's data: the fit equals the
    # fit without those rows; a task with no labelled row is an error
    rng = np.random.default_rng(43)
    X = rng.normal(size=(90, 6))
    y = X @ rng.normal(size=6) + 0.1 * rng.normal(size=90)
    ids = np.repeat([0, 1, 2], 30)
    miss = rng.random(90) < 0.2
    y_nan = np.where(miss, np.nan, y)
    for make in (lambda: mtlkit.MultiTaskLasso(alpha=0.01, **TIGHT),
                 lambda: mtlkit.structured.MeanRegularized(tol=1e-10)):
        a = make().fit(X, y_nan, task_ids=ids)
        b = make().fit(X[~miss], y[~miss], task_ids=ids[~miss])
        np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-9, atol=1e-12)
        with pytest.raises(ValueError, match="task 1 has no labelled row"):
            make().fit(X, np.where(ids == 1, np.nan, y), task_ids=ids)
    labels = (y > 0).astype(float)
    clf_a = mtlkit.MultiTaskLogisticRegression(alpha=0.01).fit(
        X, np.where(miss, np.nan, labels), task_ids=ids)
    clf_b = mtlkit.MultiTaskLogisticRegression(alpha=0.01).fit(
        X[~miss], labels[~miss], task_ids=ids[~miss])
    np.testing.assert_allclose(clf_a.coef_, clf_b.coef_, rtol=1e-9, atol=1e-12)


def test_overflowing_scales_give_the_zero_model_or_a_clear_error():
    rng = np.random.default_rng(45)
    X = rng.normal(size=(30, 5))
    Y = rng.normal(size=(30, 2))
    missing = np.where(rng.random(Y.shape) < 0.1, np.nan, Y)
    # alpha * n beyond f64: the zero model is the solution, certified (gap 0), no warning
    for est, y in [(mtlkit.MultiTaskLasso(alpha=1e308), Y),
                   (mtlkit.MultiTaskElasticNet(alpha=1e308, selection="random"), Y),
                   (mtlkit.MultiTaskLasso(alpha=1e308), missing),
                   (mtlkit.MultiTaskLogisticRegression(alpha=1e308), (Y > 0).astype(int))]:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            m = est.fit(X, y)
        assert np.all(m.coef_ == 0) and m.converged_
    # targets whose squares overflow: an error that says so, not non-finite coefficients
    for y in (Y * 1e160, missing * 1e160):
        with pytest.raises(ValueError, match="overflows"):
            mtlkit.MultiTaskLasso(alpha=1e-3).fit(X, y)
