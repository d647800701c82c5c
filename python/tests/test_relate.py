"""Issue 10 from Python: task affinity, grouping and the negative-transfer report."""

import numpy as np
import pytest

import mtlkit
from mtlkit import relate


def planted(seed, n=60, noise=2.0):
    """3 groups × 3 tasks (shared common support, disjoint group supports) + an adversarial
    task with the opposite weights of group 0 (as mtlkit_relate::synthetic)."""
    rng = np.random.default_rng(seed)
    d = 6 + 3 * 4 + 4
    c = np.zeros(d)
    c[:6] = 1.5 * rng.choice([-1, 1], 6) * (0.5 + rng.random(6))
    base = []
    for g in range(3):
        w = c.copy()
        w[6 + 4 * g:10 + 4 * g] = rng.choice([-1, 1], 4) * (0.5 + rng.random(4))
        base.append(w)
    W, labels = [], []
    for g in range(3):
        for _ in range(3):
            w = base[g].copy()
            w[w != 0] += 0.1 * rng.normal(size=(w != 0).sum())
            W.append(w)
            labels.append(g)
    W.append(-base[0])
    labels.append(3)
    Xs = [rng.normal(size=(n, d)) for _ in W]
    ys = [X @ w + noise * rng.normal(size=n) for X, w in zip(Xs, W)]
    names = [f"g{g}t{k}" for g in range(3) for k in range(3)] + ["adversarial"]
    return Xs, ys, np.array(W), labels, names


def test_affinity_from_weights_and_grouping_recover_planted_groups():
    for seed in range(5):
        Xs, ys, W, labels, names = planted(seed)
        # per-task least squares, then the cosine of the weights (Python shape: tasks × features)
        coef = np.array([np.linalg.lstsq(X, y, rcond=None)[0] for X, y in zip(Xs, ys)])
        aff = relate.task_affinity(coef, "cosine", task_names=names)
        assert aff["matrix"].shape == (10, 10)
        assert aff["tasks"] == names
        for method in ("hierarchical", "exact"):
            g = relate.group_tasks(aff, 4, method=method)
            ari = relate.adjusted_rand_index(g["labels"], labels)
            assert ari >= 0.9, (seed, method, ari, g["labels"])


def test_report_flags_the_adversarial_task():
    Xs, ys, _, _, names = planted(3)
    r = relate.negative_transfer_report(Xs, ys, task_names=names, n_groups=4, seed=3)
    assert "adversarial" in r["summary"]["hurt_by_pooling"]
    assert len(r["summary"]["hurt_by_pooling"]) <= 2
    row = next(t for t in r["tasks"] if t["task"] == "adversarial")
    g = row["gain_pooled"]
    assert g["mean"] < 0 and abs(g["mean"]) > 2 * g["se"] and g["hurt"]
    assert g["n_folds"] == 5 and len(g["per_fold"]) == 5
    assert r["affinity"]["matrix"].shape == (10, 10)
    # a given affinity (e.g. a deep model's) groups instead of the fitted one
    r2 = relate.negative_transfer_report(
        Xs, ys, task_names=names, n_groups=4, affinity=r["affinity"], seed=3
    )
    np.testing.assert_array_equal(r2["grouping"]["labels"], r["grouping"]["labels"])


def test_other_affinity_sources_and_bad_input():
    cov = np.array([[2.0, 1.0], [1.0, 2.0]])
    a = relate.task_affinity(cov, "covariance")
    np.testing.assert_allclose(a["matrix"], [[1.0, 0.5], [0.5, 1.0]])
    codes = np.array([[1.0, -2.0, 0.0], [0.0, 0.0, 3.0]])
    u = relate.task_affinity(codes, "basis-usage")
    assert u["matrix"][0, 1] == pytest.approx(1.0) and u["matrix"][0, 2] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="method"):
        relate.task_affinity(cov, "nope")
    with pytest.raises(ValueError, match="n_groups"):
        relate.group_tasks(np.eye(3), 4)
    with pytest.raises(ValueError, match="n_groups"):
        relate.group_tasks(np.eye(3), 0)
    with pytest.raises(ValueError, match="symmetric"):
        relate.group_tasks(np.array([[1.0, 0.2], [0.9, 1.0]]), 1)
    with pytest.raises(ValueError, match="square"):
        relate.group_tasks({"kind": "x", "tasks": ["a", "b"], "matrix": [[1.0, 0.0]]}, 1)
    with pytest.raises(ValueError, match="partitions"):
        relate.group_tasks(np.eye(16), 8, method="exact")
    with pytest.raises(ValueError):
        relate.negative_transfer_report([np.ones((20, 2))], [np.ones(20)])
    assert mtlkit.relate is relate


def test_adjusted_rand_index_compares_labels_for_equality_only():
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(5)
    for _ in range(20):
        a = rng.integers(0, 4, size=12)
        b = rng.integers(0, 3, size=12)
        want = adjusted_rand_score(a, b)
        # the same partitions under float, string and negative labels give the same index
        for la, lb in [(a, b), (a + 0.5, b * 0.25), (a.astype(str), b - 7),
                       (np.array(["x", "y", "z", "w"])[a], b.astype(float))]:
            assert relate.adjusted_rand_index(la, lb) == pytest.approx(want, abs=1e-12)
    # float labels that truncate to the same integer are different groups
    assert relate.adjusted_rand_index([0.1, 0.1, 0.9, 0.9], [0, 0, 1, 1]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="NaN"):
        relate.adjusted_rand_index([0.0, np.nan], [0, 1])


def test_report_and_grouping_check_their_input():
    Xs, ys, _, _, names = planted(4)
    # NaN targets are unlabelled rows (as documented), not an error
    ys_nan = [y.copy() for y in ys]
    ys_nan[0][:5] = np.nan
    r = relate.negative_transfer_report(Xs, ys_nan, task_names=names, n_groups=None, n_folds=3)
    assert r["tasks"][0]["n_samples"] == len(ys[0]) - 5
    # counts must be integers (2.7 ran as 2), affinities finite, labels 1-D, X 2-D
    with pytest.raises(ValueError, match="n_groups must be an integer"):
        relate.group_tasks(np.eye(3), 2.7)
    with pytest.raises(ValueError, match="n_folds must be an integer"):
        relate.negative_transfer_report(Xs, ys, n_folds=2.9)
    with pytest.raises(ValueError, match="NaN or infinite"):
        relate.group_tasks(np.array([[1.0, np.nan], [np.nan, 1.0]]), 1)
    with pytest.raises(ValueError, match="1-D"):
        relate.adjusted_rand_index([[0, 1], [1, 0]], [0, 1, 1, 0])
    with pytest.raises(ValueError, match="2-D"):
        relate.negative_transfer_report([x[:, 0] for x in Xs], ys)
    with pytest.raises(ValueError, match="alphas"):
        relate.negative_transfer_report(Xs, ys, alphas=[np.nan])
    # an affinity dict without task names takes the data's default names
    a = relate.task_affinity(np.array([np.linalg.lstsq(x, y, rcond=None)[0] for x, y in zip(Xs, ys)]))
    r = relate.negative_transfer_report(Xs, ys, affinity={"matrix": a["matrix"]}, n_folds=3)
    assert r["affinity"]["tasks"][0] == "task0"
