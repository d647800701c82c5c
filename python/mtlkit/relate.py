"""Task structure: which tasks to learn together, and which multi-task learning hurts.

Plain functions over the Rust crate ``mtlkit-relate`` (no estimators); every result is a plain
``dict`` with numpy arrays.

- :func:`task_affinity` — an affinity matrix from fitted weights (cosine / correlation of the
  task weight vectors), a learned task covariance (MTRL, clustered MTL) or GO-MTL codes.
- :func:`group_tasks` — task groups from **any** symmetric affinity (e.g. a deep model's
  gradient affinity): average-linkage hierarchical clustering or an exact search over
  partitions (TAG's objective, up to about 12 tasks).
- :func:`adjusted_rand_index` — compare two groupings.
- :func:`negative_transfer_report` — per task, held-out R² of single-task, pooled and grouped
  models under K-fold cross-validation within tasks, the paired gain ± its standard error, and
  the tasks multi-task learning hurts (mean gain < 0 and ``|mean| > 2·SE``).

An affinity is ``{"kind": str, "tasks": [names], "matrix": (T, T) array}`` — the JSON format of
``mtlkit relate --from FILE.json``.
"""

import json

import numpy as np

from . import _core

__all__ = [
    "task_affinity",
    "group_tasks",
    "adjusted_rand_index",
    "negative_transfer_report",
]


def _affinity_out(text):
    a = json.loads(text)
    a["matrix"] = np.asarray(a["matrix"], dtype=float)
    return a


def _int(name, value, low):
    """``value`` as an int of at least ``low`` (no silent truncation of 2.7 to 2)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}")
    return int(value)


def _affinity_json(affinity, task_names=None, default_names=None):
    """An affinity (dict or square array) as the JSON format; tasks named by ``task_names``,
    else by the dict's ``tasks``, else ``default_names`` (or 0, 1, ...)."""
    if isinstance(affinity, dict):
        a = dict(affinity)
        m = np.asarray(a["matrix"], dtype=float)
        a.setdefault("kind", "user")
    else:
        a = {"kind": "user"}
        m = np.asarray(affinity, dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"affinity must be a square 2-D matrix, got shape {m.shape}")
    if not np.all(np.isfinite(m)):
        raise ValueError("affinity matrix holds NaN or infinite values")
    a["matrix"] = m.tolist()
    if task_names is not None:
        names = task_names
    elif "tasks" in a:
        names = a["tasks"]
    elif default_names is not None:
        names = default_names
    else:
        names = range(m.shape[0])
    a["tasks"] = [str(t) for t in names]
    return json.dumps(a)


def task_affinity(matrix, method="cosine", task_names=None):
    """An affinity between tasks.

    Parameters
    ----------
    matrix : array
        ``method="cosine"`` or ``"correlation"``: the weights, shape ``(n_tasks, n_features)``
        (scikit-learn's ``coef_``). ``"covariance"``: a ``(n_tasks, n_tasks)`` task covariance
        (MTRL's ``Ω``, clustered MTL's ``M``), turned into correlations. ``"basis-usage"``:
        GO-MTL codes ``(k, n_tasks)``; the cosine of ``|S|`` between tasks.
    method : str
    task_names : list of str, optional

    Returns
    -------
    dict with ``kind``, ``tasks`` and ``matrix`` (``(n_tasks, n_tasks)`` array).
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2:
        raise ValueError(f"matrix must be 2-D, got shape {m.shape}")
    if method in ("cosine", "correlation"):
        m = m.T  # the Rust shape of W: (n_features, n_tasks)
    names = None if task_names is None else [str(t) for t in task_names]
    return _affinity_out(_core.relate_affinity(np.ascontiguousarray(m), method, names))


def group_tasks(affinity, n_groups, method="auto", task_names=None):
    """Partition the tasks into at most ``n_groups`` groups.

    ``affinity`` is a dict from :func:`task_affinity` (or of the JSON format) or a square
    array. ``method``: ``"hierarchical"`` (average linkage on ``max(A) − A``), ``"exact"``
    (maximise ``Σ_t mean_{s in G(t), s≠t} A_st``; a ``ValueError`` beyond 5e6 partitions) or
    ``"auto"`` (exact when small enough).

    Returns a dict with ``labels`` (array), ``groups`` (lists of task indices), ``score``,
    ``method``.
    """
    n_groups = _int("n_groups", n_groups, 1)
    g = json.loads(_core.relate_group(_affinity_json(affinity, task_names), n_groups, method))
    g["labels"] = np.asarray(g["labels"], dtype=int)
    return g


def adjusted_rand_index(labels_a, labels_b):
    """Adjusted Rand index of two labelings of the same tasks."""
    # labels are only compared for equality: any hashable labels (ints, floats, strings) are
    # coded 0, 1, … in order of first appearance
    def codes(labels, name):
        arr = np.asarray(labels, dtype=object)
        if arr.ndim != 1:
            raise ValueError(f"{name} must be 1-D (one label per task), got shape {arr.shape}")
        out, seen = [], {}
        for v in arr.tolist():
            if isinstance(v, float) and np.isnan(v):
                raise ValueError(f"{name} holds NaN; every task needs a group label")
            out.append(seen.setdefault(v, len(seen)))
        return out

    return _core.relate_ari(codes(labels_a, "labels_a"), codes(labels_b, "labels_b"))


def negative_transfer_report(
    Xs,
    ys,
    task_names=None,
    n_groups=2,
    n_folds=5,
    inner_folds=3,
    seed=0,
    grouping="auto",
    affinity="cosine",
    model="mean-regularized",
    alphas=None,
):
    """Single-task vs pooled vs grouped models, per task, under K-fold CV within tasks.

    Parameters
    ----------
    Xs, ys : lists of arrays
        One design ``(n_t, n_features)`` and one target ``(n_t,)`` per task (NaN = unlabelled).
    n_groups : int or None
        Groups of the grouped model (``None``: no grouped model).
    affinity : str or dict
        ``"cosine"``, ``"correlation"``, ``"mtrl"``, ``"clustered"``, ``"go-mtl"`` (fitted on
        each training part), or an affinity dict / array to group with (tasks by name).
    model : ``"mean-regularized"`` (ridge vs ``w_t = w_0 + v_t``) or ``"l21"`` (Lasso vs
        multi-task Lasso).

    Returns
    -------
    dict: ``affinity``, ``grouping``, ``tasks`` (one dict per task with ``single``,
    ``pooled``, ``grouped`` scores and ``gain_pooled`` / ``gain_grouped`` = mean, se, wins,
    n_folds, per_fold, hurt), ``summary`` (``hurt_by_pooling``, ...), ``flag_rule``.
    """
    if len(Xs) != len(ys):
        raise ValueError(f"{len(Xs)} designs but {len(ys)} target vectors")
    xs, ys_ = [], []
    for t, (x, y) in enumerate(zip(Xs, ys)):
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).ravel()
        if x.ndim != 2:
            raise ValueError(f"task {t}: X must be 2-D (n_samples, n_features), got {x.shape}")
        if len(y) != len(x):
            raise ValueError(f"task {t}: X has {len(x)} rows but y has {len(y)} targets")
        # NaN = unlabelled: those rows leave the task's data
        keep = ~np.isnan(y)
        xs.append(np.ascontiguousarray(x[keep]))
        ys_.append(np.ascontiguousarray(y[keep]))
    fixed = None
    method = affinity
    if not isinstance(affinity, str):
        defaults = [f"task{t}" for t in range(len(xs))]
        # a dict naming its tasks keeps its names (matched to the data's by name)
        own = isinstance(affinity, dict) and "tasks" in affinity
        fixed = _affinity_json(affinity, None if own else task_names, defaults)
        method = "cosine"
    if alphas is not None:
        alphas = [float(a) for a in alphas]
        if not all(np.isfinite(a) and a > 0 for a in alphas):
            raise ValueError(f"alphas must be positive and finite, got {alphas}")
    settings = {
        "n_folds": _int("n_folds", n_folds, 2),
        "inner_folds": _int("inner_folds", inner_folds, 2),
        "seed": _int("seed", seed, 0),
        "n_groups": None if n_groups is None else _int("n_groups", n_groups, 1),
        "grouping": grouping,
        "affinity": method,
        "family": model,
        "alphas": alphas,
        "task_names": None if task_names is None else [str(t) for t in task_names],
        "fixed_affinity": fixed,
    }
    r = json.loads(_core.relate_report(xs, ys_, json.dumps(settings)))
    r["affinity"]["matrix"] = np.asarray(r["affinity"]["matrix"], dtype=float)
    if r.get("grouping"):
        r["grouping"]["labels"] = np.asarray(r["grouping"]["labels"], dtype=int)
    return r
