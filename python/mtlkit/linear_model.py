"""Linear multi-task estimators (scikit-learn API) over mtlkit's Rust core.

Shapes follow scikit-learn: ``coef_`` is ``(n_tasks, n_features)`` (the transpose of the Rust
``W``), ``intercept_`` is ``(n_tasks,)``.

Objective with one design ``X`` (``n`` samples) shared by all tasks (scikit-learn's)::

    1/(2n) ||Y - X W - 1 b^T||_F^2 + alpha * l1_ratio * sum_j ||W_j||_2
                                  + alpha * (1 - l1_ratio)/2 * ||W||_F^2

and in general, for tasks with their own samples (``task_ids`` / ``fit_tasks``), missing
targets (NaN in ``y``) or other losses::

    sum_t c_t sum_i loss_t(y_ti, x_ti^T w_t + b_t) + R(W)

with ``c_t = 1/n_t`` (``scaling="task_mean"``, the default, equal to the line above for a shared
design), ``1/N`` (``"all_samples"``) or ``1`` (``"sum"``, MALSAR's).
"""

from __future__ import annotations

import json
import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, MultiOutputMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import check_cv
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils._available_if import available_if
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from . import _core

__all__ = [
    "MultiTaskLasso",
    "MultiTaskElasticNet",
    "MultiTaskLassoCV",
    "MultiTaskElasticNetCV",
    "MultiTaskLogisticRegression",
    "MultiTaskMixedLoss",
    "load_model",
]

_SCALINGS = ("task_mean", "all_samples", "sum")


def _seed(random_state, selection):
    """An integer seed for random selection (scikit-learn's convention)."""
    if selection != "random":
        return 0
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def _split_tasks(X, y, task_ids):
    """Stacked ``(X, y, task_ids)`` -> the task labels and one ``(X_t, y_t)`` per task.

    A NaN target is a missing label: its row leaves its task's data (a task left without a
    labelled row is an error)."""
    task_ids = np.asarray(task_ids)
    if task_ids.ndim != 1:
        raise ValueError("task_ids must be 1-D, one task id per row of X")
    check_consistent_length(X, y, task_ids)
    labels = np.unique(task_ids)
    labelled = ~_missing(np.asarray(y))
    rows = []
    for t in labels:
        r = np.flatnonzero((task_ids == t) & labelled)
        if len(r) == 0:
            name = t.item() if isinstance(t, np.generic) else t
            raise ValueError(f"task {name!r} has no labelled row (every target of it is NaN)")
        rows.append(r)
    xs, ys = [], []
    for r in rows:
        xt = X[r]
        if sp.issparse(xt):
            xt = xt.toarray()
        xs.append(np.ascontiguousarray(xt, dtype=np.float64))
        ys.append(np.ascontiguousarray(y[r], dtype=np.float64))
    return labels, xs, ys


def _task_positions(model, task_ids):
    """The task index of each of ``task_ids`` for a fitted ``model``: positions in ``tasks_``
    for a model fitted on per-task data, else the ids themselves (``0 .. n_tasks - 1``, the
    columns of ``y``); unknown ids are an error."""
    task_ids = np.asarray(task_ids)
    if task_ids.ndim != 1:
        raise ValueError("task_ids must be 1-D, one task id per row of X")
    labels = getattr(model, "tasks_", None)
    if labels is None:
        labels = np.arange(model.coef_.shape[0])
    labels = np.asarray(labels)
    try:
        pos = np.clip(np.searchsorted(labels, task_ids), 0, len(labels) - 1)
        known = np.asarray(labels[pos] == task_ids, dtype=bool)
    except TypeError:
        # ids of another type than the model's (strings against integers)
        pos = np.zeros(len(task_ids), dtype=int)
        known = np.zeros(len(task_ids), dtype=bool)
    if known.shape != task_ids.shape or not np.all(known):
        bad = task_ids if known.shape != task_ids.shape else task_ids[~known]
        unknown = sorted({str(v) for v in bad.tolist()})
        raise ValueError(f"unknown task ids {unknown[:5]}; the model knows {labels.tolist()}")
    return pos


def _check_no_empty_task(Xs, ys):
    """``fit_tasks``: every task has rows, as many in ``X_t`` as in ``y_t`` (a task without
    rows would vanish from the stacked ``task_ids``)."""
    for t, (x, v) in enumerate(zip(Xs, ys)):
        n, m = np.shape(x)[0], np.size(v)
        if n == 0:
            raise ValueError(f"task {t} has no samples (X_t has 0 rows)")
        if n != m:
            raise ValueError(f"task {t}: X_t has {n} rows but y_t has {m} targets")


class _BaseMultiTask(MultiOutputMixin, BaseEstimator):
    """Shared machinery: validation, calling the Rust core, fitted attributes, persistence."""

    _estimator = "lasso"
    _default_loss = "squared"
    _accepts_1d_y = False

    _parameter_constraints: dict = {
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "fit_intercept": ["boolean"],
        "copy_X": ["boolean"],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "selection": [StrOptions({"cyclic", "random"})],
        "scaling": [StrOptions(set(_SCALINGS))],
        "n_threads": [Interval(numbers.Integral, 1, None, closed="left")],
        "mixed_precision": ["boolean"],
    }

    # ---- what subclasses decide -------------------------------------------------------------
    def _l1_ratio(self):
        return 1.0

    def _losses(self, n_tasks):
        return None  # all squared

    def _encode_y(self, y, n_tasks):
        """Targets as float64 (NaN = missing); classifiers map their labels here."""
        return np.asarray(y, dtype=np.float64)

    # ---- parameters sent to Rust -------------------------------------------------------------
    def _params(self, n_tasks, alpha=None, task_names=None):
        p = {
            "estimator": self._estimator,
            "alpha": float(self.alpha if alpha is None else alpha),
            "l1_ratio": float(self._l1_ratio()),
            "fit_intercept": bool(self.fit_intercept),
            "tol": float(self.tol),
            "max_iter": int(self.max_iter),
            "selection": self.selection,
            "random_state": _seed(self.random_state, self.selection),
            "scaling": self.scaling,
            "n_threads": int(self.n_threads),
            "mixed_precision": bool(self.mixed_precision),
        }
        losses = self._losses(n_tasks)
        if losses is not None:
            p["losses"] = list(losses)
        if getattr(self, "feature_names_in_", None) is not None:
            p["feature_names"] = [str(c) for c in self.feature_names_in_]
        if task_names is not None:
            p["task_names"] = [str(t) for t in task_names]
        return json.dumps(p)

    # ---- fitting ----------------------------------------------------------------------------
    def _validate_xy(self, X, y, multi_output=True):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        # NaN / inf in X are rejected by the Rust core (one check, not a second pass here)
        X = validate_data(
            self,
            X,
            accept_sparse="csc",
            dtype=[np.float64, np.float32],
            reset=True,
            ensure_min_samples=1,
            ensure_all_finite=False,
        )
        task_names = getattr(y, "columns", None)
        y = check_array(
            y,
            ensure_2d=False,
            dtype=None,
            ensure_all_finite=False,
            input_name="y",
        )
        check_consistent_length(X, y)
        return X, y, task_names

    def fit(self, X, y, sample_weight=None, task_ids=None):
        """Fit the model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The design; float64 or float32 arrays (C or Fortran order) are read in place.
        y : array-like of shape (n_samples, n_tasks), or (n_samples,) with ``task_ids``
            Targets; NaN marks a missing target (the sample leaves that task's loss only).
        sample_weight : array-like of shape (n_samples,), default=None
            Weights, rescaled to sum to ``n_samples`` (scikit-learn 1.9's semantics; an integer
            weight equals repeating the row). Shared design only.
        task_ids : array-like of shape (n_samples,), default=None
            Stacked per-task data: row ``i`` belongs to task ``task_ids[i]`` (tasks ordered by
            ``np.unique``); ``y`` is then 1-D. Each task has its own samples.

        Returns
        -------
        self
        """
        self._validate_params()
        X, y, task_names = self._validate_xy(X, y)
        self._y_1d = False
        if task_ids is not None:
            if sample_weight is not None:
                raise ValueError("sample_weight is not supported with task_ids (per-task data)")
            if y.ndim != 1:
                raise ValueError("with task_ids, y must be 1-D (one target per row)")
            labels, xs, ys = _split_tasks(X, y, task_ids)
            ys = [self._encode_task(yt, t) for t, yt in enumerate(ys)]
            self.tasks_ = labels
            return self._fit_tasks(xs, ys, task_names=[str(t) for t in labels])
        if y.ndim == 1 and self._accepts_1d_y:
            y = y.reshape(-1, 1)
            self._y_1d = True
        if y.ndim != 2:
            raise ValueError(
                f"y must be 2-D (n_samples, n_tasks), got shape {y.shape}; for per-task data "
                "give task_ids (stacked rows) or call fit_tasks(Xs, ys)"
            )
        y = self._encode_y(y, y.shape[1])
        if hasattr(self, "tasks_"):
            del self.tasks_
        if sample_weight is not None and not isinstance(sample_weight, numbers.Number):
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
            if np.any(sample_weight < 0):
                raise ValueError("sample_weight must be non-negative")
            if not np.any(sample_weight > 0):
                raise ValueError("sample_weight must have at least one positive weight")
        elif sample_weight is not None:
            sample_weight = None  # a scalar weight changes nothing (scikit-learn)
        coef_init = self._warm(X.shape[1], y.shape[1])
        params = self._params(y.shape[1], task_names=task_names)
        model = self._call_fit(X, y, params, sample_weight, coef_init)
        return self._set_fitted(model)

    def fit_tasks(self, Xs, ys):
        """Fit with one ``(X_t, y_t)`` per task (``n_t`` may differ; features may not).

        Parameters
        ----------
        Xs : list of array-like, each (n_t, n_features)
        ys : list of array-like, each (n_t,)

        Returns
        -------
        self
        """
        self._validate_params()
        if len(Xs) != len(ys):
            raise ValueError(f"{len(Xs)} designs but {len(ys)} target vectors")
        if len(Xs) == 0:
            raise ValueError("no task given")
        _check_no_empty_task(Xs, ys)
        X = np.vstack([np.asarray(x) if not sp.issparse(x) else x.toarray() for x in Xs])
        ids = np.concatenate([np.full(np.shape(x)[0], t) for t, x in enumerate(Xs)])
        y = np.concatenate([np.ravel(np.asarray(v)) for v in ys])
        return self.fit(X, y, task_ids=ids)

    def _encode_task(self, yt, t):
        return np.asarray(yt, dtype=np.float64)

    def _warm(self, d, t):
        if self.warm_start and getattr(self, "coef_", None) is not None:
            if self.coef_.shape == (t, d):
                return np.asfortranarray(self.coef_.T, dtype=np.float64)
        return None

    def _call_fit(self, X, y, params, sample_weight, coef_init):
        sparse_ok = (
            self._losses(y.shape[1]) is None
            and self.scaling == "task_mean"
            and sample_weight is None
            and not np.isnan(y).any()
        )
        if sp.issparse(X):
            if sparse_ok:
                Xc = X.tocsc()
                Xc.sort_indices()
                return _core.fit_csc(
                    np.asarray(Xc.data, dtype=np.float64),
                    np.asarray(Xc.indices, dtype=np.int64),
                    np.asarray(Xc.indptr, dtype=np.int64),
                    Xc.shape,
                    y,
                    params,
                    coef_init,
                )
            X = X.toarray()
        if X.dtype == np.float32 and not (sparse_ok and coef_init is None):
            X = X.astype(np.float64)
        return _core.fit_dense(X, y, params, sample_weight, coef_init)

    def _fit_tasks(self, xs, ys, task_names=None):
        d = xs[0].shape[1]
        params = self._params(len(xs), task_names=task_names)
        model = _core.fit_tasks(xs, ys, params, self._warm(d, len(xs)))
        return self._set_fitted(model)

    def _set_fitted(self, model):
        self.coef_ = np.ascontiguousarray(model.coef.T)
        self.intercept_ = np.asarray(model.intercept)
        # the optimality check at the start is one pass over the data, even when it finds the
        # zero solution optimal (alpha >= alpha_max)
        self.n_iter_ = max(1, int(model.n_iter))
        self.dual_gap_ = float(model.dual_gap)
        self.converged_ = bool(model.converged)
        self.task_names_ = np.asarray(model.task_names, dtype=object)
        self._metadata = model.metadata_json
        self._set_classes(model)
        if not model.converged:
            warnings.warn(
                f"{type(self).__name__} did not converge after {model.n_iter} iterations: "
                f"duality gap {model.dual_gap:.3e}. Increase max_iter, rescale the features or "
                "increase alpha.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    def _set_classes(self, model):
        pass

    # ---- prediction -------------------------------------------------------------------------
    def _decision(self, X, task_ids=None):
        check_is_fitted(self)
        X = validate_data(
            self, X, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32], reset=False
        )
        if task_ids is None:
            return np.asarray(X @ self.coef_.T) + self.intercept_
        check_consistent_length(X, task_ids)
        pos = _task_positions(self, task_ids)
        if sp.issparse(X):
            X = X.tocsr()
            out = np.asarray(X.multiply(self.coef_[pos]).sum(axis=1)).ravel()
        else:
            out = np.einsum("ij,ij->i", X, self.coef_[pos])
        return out + self.intercept_[pos]

    # ---- persistence ------------------------------------------------------------------------
    def save(self, path):
        """Write the fitted model as safetensors + JSON metadata (the CLI's format), atomically.

        The file loads in the CLI (``mtlkit predict --model``), in Rust and with
        :func:`load_model`.
        """
        check_is_fitted(self)
        metadata = self._metadata
        classes = getattr(self, "_classes_fit", None)
        if classes and any(c is not None for c in classes):
            # the original labels (strings, booleans, any numbers): the core's file keeps
            # them as they are, and load_model gives them back
            meta = json.loads(metadata)
            meta["class_labels"] = [
                None if c is None else np.asarray(c).tolist() for c in classes
            ]
            metadata = json.dumps(meta)
        model = _core.Model.from_parts(
            np.ascontiguousarray(self.coef_.T, dtype=np.float64),
            np.ascontiguousarray(self.intercept_, dtype=np.float64),
            metadata,
        )
        model.save(str(path))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = False
        tags.input_tags.sparse = True
        return tags


class _RegressorBase(RegressorMixin, _BaseMultiTask):
    def predict(self, X, task_ids=None):
        """Predict: ``(n_samples, n_tasks)``, or ``(n_samples,)`` for the rows' ``task_ids``."""
        return self._decision(X, task_ids)


class MultiTaskLasso(_RegressorBase):
    """Multi-task Lasso: the L2,1 (joint feature selection) penalty, scikit-learn's objective.

    ``min_{W,b} 1/(2n) ||Y - X W - 1 b^T||_F^2 + alpha * sum_j ||W_j||_2`` (``W_j`` the
    coefficients of feature ``j`` across tasks); for per-task data, missing targets or another
    ``scaling`` see the module docs. Same parameters, attributes and results as
    :class:`sklearn.linear_model.MultiTaskLasso` (1e-6 relative at tight ``tol``), plus
    ``scaling``, ``n_threads``, per-task data (``task_ids`` or :meth:`fit_tasks`), missing
    targets and sparse ``X``.

    Parameters
    ----------
    alpha : float, default=1.0
    fit_intercept : bool, default=True
    copy_X : bool, default=True
        Accepted for compatibility; ``X`` is never modified.
    max_iter : int, default=1000
    tol : float, default=1e-4
        Stop when the duality gap is at most ``tol * ||Y_c||_F^2 / n`` (scikit-learn's rule).
    warm_start : bool, default=False
    random_state : int, RandomState or None, default=None
        Seed of ``selection="random"``.
    selection : {"cyclic", "random"}, default="cyclic"
    scaling : {"task_mean", "all_samples", "sum"}, default="task_mean"
    n_threads : int, default=1
        Threads for the matrix products.
    mixed_precision : bool, default=True
        Run the inner loops' matrix products in float32 (about twice the float64 speed)
        while every duality gap and stopping test stays exact in float64, so ``tol`` is
        certified either way. ``False``: everything in float64.

    Attributes
    ----------
    coef_ : ndarray of shape (n_tasks, n_features)
    intercept_ : ndarray of shape (n_tasks,)
    n_iter_ : int
    dual_gap_ : float
    converged_ : bool
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
    task_names_ : ndarray of shape (n_tasks,)
    tasks_ : ndarray, the task ids when fitted with ``task_ids``

    Examples
    --------
    >>> import numpy as np
    >>> from mtlkit import MultiTaskLasso
    >>> X = np.array([[0., 0.], [1., 1.], [2., 2.]])
    >>> Y = np.array([[0., 0.], [1., 1.], [2., 2.]])
    >>> model = MultiTaskLasso(alpha=0.1).fit(X, Y)
    >>> model.coef_.round(8)
    array([[0.89393398, 0.        ],
           [0.89393398, 0.        ]])
    >>> model.predict([[1., 1.]]).round(6)
    array([[1., 1.]])
    """

    _estimator = "lasso"

    def __init__(
        self,
        alpha=1.0,
        *,
        fit_intercept=True,
        copy_X=True,
        max_iter=1000,
        tol=1e-4,
        warm_start=False,
        random_state=None,
        selection="cyclic",
        scaling="task_mean",
        n_threads=1,
        mixed_precision=True,
    ):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.copy_X = copy_X
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.random_state = random_state
        self.selection = selection
        self.scaling = scaling
        self.n_threads = n_threads
        self.mixed_precision = mixed_precision


class MultiTaskElasticNet(_RegressorBase):
    """Multi-task elastic net: L2,1 plus ridge, scikit-learn's objective.

    ``min_{W,b} 1/(2n) ||Y - X W - 1 b^T||_F^2 + alpha * l1_ratio * sum_j ||W_j||_2
    + alpha * (1 - l1_ratio)/2 * ||W||_F^2``. Parameters and attributes as
    :class:`MultiTaskLasso`, plus ``l1_ratio`` (default 0.5).

    Examples
    --------
    >>> import numpy as np
    >>> from mtlkit import MultiTaskElasticNet
    >>> X = np.array([[0., 0.], [1., 1.], [2., 2.]])
    >>> Y = np.array([[0., 0.], [1., 1.], [2., 2.]])
    >>> model = MultiTaskElasticNet(alpha=0.1).fit(X, Y)
    >>> model.coef_.round(2)
    array([[0.46, 0.46],
           [0.46, 0.46]])
    """

    _estimator = "elasticnet"
    _parameter_constraints: dict = {
        **_BaseMultiTask._parameter_constraints,
        "l1_ratio": [Interval(numbers.Real, 0, 1, closed="both")],
    }

    def __init__(
        self,
        alpha=1.0,
        *,
        l1_ratio=0.5,
        fit_intercept=True,
        copy_X=True,
        max_iter=1000,
        tol=1e-4,
        warm_start=False,
        random_state=None,
        selection="cyclic",
        scaling="task_mean",
        n_threads=1,
        mixed_precision=True,
    ):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.copy_X = copy_X
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.random_state = random_state
        self.selection = selection
        self.scaling = scaling
        self.n_threads = n_threads
        self.mixed_precision = mixed_precision

    def _l1_ratio(self):
        return self.l1_ratio


class _ClassifierTasks:
    """Binary labels per task, mapped to {0, 1} for the core (classes_ keeps the originals)."""

    def _encode_y(self, y, n_tasks):
        y = np.asarray(y)
        out = np.empty(y.shape, dtype=np.float64)
        self._classes_fit = []
        for t in range(n_tasks):
            out[:, t], cls = self._encode_column(y[:, t], t)
            self._classes_fit.append(cls)
        return out

    def _encode_task(self, yt, t):
        if t == 0:
            self._classes_fit = []
        enc, cls = self._encode_column(np.asarray(yt), t)
        self._classes_fit.append(cls)
        return enc

    def _encode_column(self, col, t):
        if not self._is_classification(t):
            return np.asarray(col, dtype=np.float64), None
        missing = _missing(col)
        present = col[~missing]
        if present.dtype.kind == "f" and present.size and type_of_target(present) == "continuous":
            raise ValueError(
                f"Unknown label type: continuous. Task {t} is a logistic (classification) task "
                "and needs two class labels, not a continuous target"
            )
        cls = np.unique(present)
        if len(cls) == 1:
            raise ValueError(
                f"task {t}: a logistic task needs two classes, but only one class "
                f"({cls[0]!r}) is present"
            )
        if len(cls) != 2:
            raise ValueError(
                f"Only binary classification is supported. Task {t} (a logistic task) has "
                f"{len(cls)} classes "
                f"({cls[:5].tolist()}); for more classes use one task per class (one-vs-rest)"
            )
        enc = np.full(col.shape, np.nan)
        enc[~missing] = (present == cls[1]).astype(np.float64)
        return enc, cls

    def _is_classification(self, t):
        return True


def _missing(col):
    if col.dtype.kind == "f":
        return np.isnan(col)
    if col.dtype.kind == "O":
        return np.array([v is None or (isinstance(v, float) and np.isnan(v)) for v in col])
    return np.zeros(col.shape, dtype=bool)


class MultiTaskLogisticRegression(_ClassifierTasks, ClassifierMixin, _BaseMultiTask):
    """Multi-task logistic regression with the L2,1 (or elastic-net) penalty.

    ``min_{W,b} sum_t c_t sum_i [log(1 + exp(z_ti)) - y_ti z_ti] + alpha * l1_ratio *
    sum_j ||W_j||_2 + alpha * (1 - l1_ratio)/2 * ||W||_F^2`` with ``z_ti = x_ti^T w_t + b_t``,
    ``y_ti`` in {0, 1} (each task's two labels, any values, mapped in sorted order) and
    ``c_t = 1/n_t`` by default. Each column of ``y`` is one binary task (NaN / None = missing
    label), or stacked rows with ``task_ids``.

    ``predict`` gives labels ``(n_samples, n_tasks)``; ``predict_proba`` the probability of each
    task's second class, ``(n_samples, n_tasks)`` (scikit-learn's multilabel convention);
    ``decision_function`` the log-odds; ``score`` the mean accuracy over tasks. ``classes_`` is
    the two labels (an array) when all tasks share them, else a list of per-task arrays;
    ``task_classes_`` is always the list. A 1-D ``y`` is
    one binary task (then ``predict`` is 1-D and ``predict_proba`` one ``(n_samples, 2)`` array,
    as any scikit-learn binary classifier).

    The default ``alpha=0.01`` (not 1.0 as for the regressors) because the logistic loss's
    ``alpha_max`` is small: ``max_j ||X_j^T (y - mean(y))||_2 / n`` is at most 0.5 on
    standardised features, so ``alpha=1`` would give an all-zero model.

    Examples
    --------
    >>> import numpy as np
    >>> from mtlkit import MultiTaskLogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5))
    >>> Y = np.column_stack([X[:, 0] > 0, X[:, 0] + X[:, 1] > 0]).astype(int)
    >>> clf = MultiTaskLogisticRegression(alpha=0.01).fit(X, Y)
    >>> clf.score(X, Y) > 0.9
    True
    """

    _parameter_constraints: dict = {
        **_BaseMultiTask._parameter_constraints,
        "l1_ratio": [Interval(numbers.Real, 0, 1, closed="both")],
    }

    def __init__(
        self,
        alpha=0.01,
        *,
        l1_ratio=1.0,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-4,
        warm_start=False,
        random_state=None,
        selection="cyclic",
        scaling="task_mean",
        n_threads=1,
        mixed_precision=True,
    ):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.random_state = random_state
        self.selection = selection
        self.scaling = scaling
        self.n_threads = n_threads
        self.mixed_precision = mixed_precision

    _accepts_1d_y = True

    @property
    def _estimator(self):
        return "lasso" if self.l1_ratio == 1.0 else "elasticnet"

    def _l1_ratio(self):
        return self.l1_ratio

    def _losses(self, n_tasks):
        return ["logistic"] * n_tasks

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.single_output = True
        tags.classifier_tags.multi_class = False
        return tags

    def _set_classes(self, model):
        self.task_classes_ = list(self._classes_fit)
        first = self.task_classes_[0]
        if all(np.array_equal(c, first) for c in self.task_classes_):
            # one label set for all tasks: scikit-learn's multi-output convention
            self.classes_ = np.asarray(first)
        else:
            self.classes_ = list(self.task_classes_)

    def _task_classes(self, t):
        return self.task_classes_[t]

    def decision_function(self, X, task_ids=None):
        """Log-odds of the second class: ``(n_samples, n_tasks)`` (``(n_samples,)`` for a
        model fitted on 1-D ``y`` or for ``task_ids``)."""
        z = self._decision(X, task_ids)
        if task_ids is None and getattr(self, "_y_1d", False):
            z = z[:, 0]
        return z

    def predict_proba(self, X, task_ids=None):
        """Probability of each task's second class (``task_classes_[t][1]``):
        ``(n_samples, n_tasks)`` (scikit-learn's multilabel convention); for a model fitted on
        1-D ``y``, or with ``task_ids``, the usual ``(n_samples, 2)`` of a binary classifier."""
        z = self.decision_function(X, task_ids)
        p = 1.0 / (1.0 + np.exp(-z))
        if z.ndim == 1:
            return np.column_stack([1 - p, p])
        return p

    def predict(self, X, task_ids=None):
        """Labels: ``(n_samples, n_tasks)``, or ``(n_samples,)`` for the rows' ``task_ids``."""
        z = self.decision_function(X, task_ids)
        if task_ids is not None:
            pos = _task_positions(self, task_ids)
            return np.array([self._task_classes(k)[int(v > 0)] for k, v in zip(pos, z)])
        if z.ndim == 1:
            return np.asarray(self._task_classes(0))[(z > 0).astype(int)]
        cols = [
            np.asarray(self._task_classes(t))[(z[:, t] > 0).astype(int)] for t in range(z.shape[1])
        ]
        return np.column_stack(cols)

    def score(self, X, y, sample_weight=None):
        """Mean over tasks of each task's accuracy (missing labels left out)."""
        pred = self.predict(X)
        y = np.asarray(y)
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        if pred.ndim == 1:
            pred = pred.reshape(-1, 1)
        accs = []
        for t in range(pred.shape[1]):
            keep = ~_missing(y[:, t])
            w = None if sample_weight is None else np.asarray(sample_weight)[keep]
            accs.append(np.average(pred[keep, t] == y[keep, t], weights=w))
        return float(np.mean(accs))


class MultiTaskMixedLoss(_ClassifierTasks, _RegressorBase):
    """Regression and binary classification tasks fitted jointly with one L2,1 penalty.

    ``losses`` gives each task's loss, ``"squared"`` or ``"logistic"`` (one string for all
    tasks, or a list; default all squared). Objective ``sum_t c_t sum_i loss_t(y_ti, x_ti^T w_t +
    b_t) + alpha * l1_ratio * sum_j ||W_j||_2 + alpha * (1 - l1_ratio)/2 * ||W||_F^2`` with
    ``loss = 1/2 (y - z)^2`` or ``log(1 + exp(z)) - y z``. ``predict`` gives values for
    regression tasks and labels for classification tasks; ``predict_proba`` the probabilities
    of each classification task's second class (``(n_samples, n_classification_tasks)``);
    ``score`` the mean over tasks of R^2 (regression) or accuracy (classification).

    Examples
    --------
    >>> import numpy as np
    >>> from mtlkit import MultiTaskMixedLoss
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5))
    >>> Y = np.column_stack([X[:, 0] + 0.1 * rng.normal(size=200), X[:, 0] > 0])
    >>> model = MultiTaskMixedLoss(alpha=0.01, losses=["squared", "logistic"]).fit(X, Y)
    >>> model.score(X, Y) > 0.9
    True
    """

    _parameter_constraints: dict = {
        **_BaseMultiTask._parameter_constraints,
        "l1_ratio": [Interval(numbers.Real, 0, 1, closed="both")],
        "losses": [None, StrOptions({"squared", "logistic"}), list, tuple],
    }

    def __init__(
        self,
        alpha=1.0,
        *,
        losses=None,
        l1_ratio=1.0,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-4,
        warm_start=False,
        random_state=None,
        selection="cyclic",
        scaling="task_mean",
        n_threads=1,
        mixed_precision=True,
    ):
        self.alpha = alpha
        self.losses = losses
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.random_state = random_state
        self.selection = selection
        self.scaling = scaling
        self.n_threads = n_threads
        self.mixed_precision = mixed_precision

    @property
    def _estimator(self):
        return "lasso" if self.l1_ratio == 1.0 else "elasticnet"

    def _l1_ratio(self):
        return self.l1_ratio

    def _loss_list(self, n_tasks):
        if self.losses is None:
            return ["squared"] * n_tasks
        if isinstance(self.losses, str):
            return [self.losses] * n_tasks
        losses = list(self.losses)
        if len(losses) != n_tasks:
            raise ValueError(f"{len(losses)} losses given for {n_tasks} tasks")
        for s in losses:
            if s not in ("squared", "logistic"):
                raise ValueError(f"unknown loss {s!r}: expected 'squared' or 'logistic'")
        return losses

    def _losses(self, n_tasks):
        losses = self._loss_list(n_tasks)
        return None if all(s == "squared" for s in losses) else losses

    def _encode_y(self, y, n_tasks):
        self._fit_losses = self._loss_list(n_tasks)
        return super()._encode_y(y, n_tasks)

    def _encode_task(self, yt, t):
        if t == 0:
            n = len(self.losses) if isinstance(self.losses, (list, tuple)) else None
            self._fit_losses = self._loss_list(n) if n is not None else None
        if self._fit_losses is None:
            # one loss string for every task: the task count is known only at the end
            self._fit_losses = [self.losses or "squared"] * (t + 1)
        elif len(self._fit_losses) <= t:
            self._fit_losses.append(self._fit_losses[-1])
        return super()._encode_task(yt, t)

    def _is_classification(self, t):
        return self._fit_losses[t] == "logistic"

    def _set_classes(self, model):
        self.losses_ = list(model.losses)
        self.classes_ = list(self._classes_fit)

    def predict(self, X, task_ids=None):
        """Values for regression tasks, labels for classification tasks."""
        z = self._decision(X, task_ids)
        if task_ids is not None:
            pos = _task_positions(self, task_ids)
            return np.array(
                [
                    v if self.losses_[k] == "squared" else self.classes_[k][int(v > 0)]
                    for k, v in zip(pos, z)
                ],
                dtype=object if any(c is not None for c in self.classes_) else np.float64,
            )
        cols = []
        for t in range(z.shape[1]):
            if self.losses_[t] == "squared":
                cols.append(z[:, t])
            else:
                cols.append(np.asarray(self.classes_[t])[(z[:, t] > 0).astype(int)])
        return np.column_stack(cols)

    def _has_classification(self):
        return any(s == "logistic" for s in getattr(self, "losses_", []))

    @available_if(_has_classification)
    def predict_proba(self, X):
        """Probability of the second class of each classification task,
        ``(n_samples, n_classification_tasks)`` (available when the model has such a task)."""
        z = self._decision(X)
        cols = [t for t, loss in enumerate(self.losses_) if loss == "logistic"]
        return 1.0 / (1.0 + np.exp(-z[:, cols]))

    def score(self, X, y, sample_weight=None):
        """Mean over tasks of R^2 (regression tasks) or accuracy (classification tasks)."""
        from sklearn.metrics import r2_score

        pred = self.predict(X)
        y = np.asarray(y)
        scores = []
        for t, loss in enumerate(self.losses_):
            keep = ~_missing(y[:, t])
            w = None if sample_weight is None else np.asarray(sample_weight)[keep]
            if loss == "squared":
                scores.append(
                    r2_score(y[keep, t].astype(float), pred[keep, t].astype(float), sample_weight=w)
                )
            else:
                scores.append(np.average(pred[keep, t] == y[keep, t], weights=w))
        return float(np.mean(scores))


# ---- cross-validation -----------------------------------------------------------------------


class _CvBase(_RegressorBase):
    _parameter_constraints: dict = {
        "eps": [Interval(numbers.Real, 0, 1, closed="neither")],
        "alphas": [Interval(numbers.Integral, 1, None, closed="left"), "array-like"],
        "fit_intercept": ["boolean"],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "copy_X": ["boolean"],
        "cv": ["cv_object"],
        "verbose": ["verbose"],
        "n_jobs": [None, numbers.Integral],
        "random_state": ["random_state"],
        "selection": [StrOptions({"cyclic", "random"})],
        "one_standard_error": ["boolean"],
        "scaling": [StrOptions(set(_SCALINGS))],
        "n_threads": [Interval(numbers.Integral, 1, None, closed="left")],
        "mixed_precision": ["boolean"],
    }
    warm_start = False

    def _cv_json(self, X, y, task_ids):
        cv = {
            "eps": float(self.eps),
            "one_standard_error": bool(self.one_standard_error),
            "n_jobs": 1 if self.n_jobs is None else max(1, int(self.n_jobs)),
        }
        if self.n_jobs is not None and int(self.n_jobs) < 0:
            import os

            cv["n_jobs"] = os.cpu_count() or 1
        if isinstance(self.alphas, numbers.Integral):
            cv["n_alphas"] = int(self.alphas)
        else:
            a = np.asarray(self.alphas, dtype=np.float64).ravel()
            if a.size == 0:
                raise ValueError("alphas is empty")
            if not np.all(np.isfinite(a)):
                raise ValueError(f"alphas must be finite, got {a[~np.isfinite(a)][:3].tolist()}")
            cv["alphas"] = a.tolist()
        ratios = self._l1_ratios()
        if ratios is not None:
            if not np.all(np.isfinite(ratios)):
                raise ValueError(f"l1_ratio must be finite, got {ratios}")
            cv["l1_ratios"] = ratios
        if task_ids is None:
            splitter = check_cv(self.cv)
            # the splitter's own training rows too: they need not be the complement of the
            # test rows (TimeSeriesSplit, ShuffleSplit with a train_size)
            splits = list(splitter.split(X, y))
            cv["test_folds"] = [np.asarray(te, dtype=np.int64).tolist() for _, te in splits]
            cv["train_folds"] = [np.asarray(tr, dtype=np.int64).tolist() for tr, _ in splits]
        else:
            if self.cv is not None and not isinstance(self.cv, numbers.Integral):
                raise ValueError(
                    "with task_ids (per-task data), cv must be an int: K folds within each task"
                )
            cv["n_splits"] = 5 if self.cv is None else int(self.cv)
        return json.dumps(cv)

    def _l1_ratios(self):
        return None

    def fit(self, X, y, sample_weight=None, task_ids=None, **params):
        """Cross-validate ``alpha`` (and ``l1_ratio``), then refit on all the data.

        Folds come from ``cv`` (scikit-learn's ``check_cv``: an int gives ``KFold`` without
        shuffling, as scikit-learn); with ``task_ids`` the folds are K-fold within each task.
        """
        self._validate_params()
        if params:
            raise TypeError(f"unexpected fit parameters {sorted(params)}")
        X, y, task_names = self._validate_xy(X, y)
        if sp.issparse(X):
            X = X.toarray()
        X = np.asarray(X, dtype=np.float64)
        if task_ids is not None:
            if y.ndim != 1:
                raise ValueError("with task_ids, y must be 1-D (one target per row)")
            if sample_weight is not None:
                raise ValueError("sample_weight is not supported with task_ids")
            labels, xs, ys = _split_tasks(X, y, task_ids)
            self.tasks_ = labels
            res = _core.cross_validate(
                self._params(len(xs), alpha=1.0, task_names=[str(t) for t in labels]),
                self._cv_json(X, y, task_ids),
                xs=xs,
                ys=ys,
            )
        else:
            if y.ndim != 2:
                raise ValueError(
                    f"y must be 2-D (n_samples, n_tasks), got shape {y.shape}; for per-task "
                    "data give task_ids"
                )
            y = np.asarray(y, dtype=np.float64)
            if hasattr(self, "tasks_"):
                del self.tasks_
            if sample_weight is not None:
                sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
            params_json = self._params(y.shape[1], alpha=1.0, task_names=task_names)
            res = _core.cross_validate(
                params_json, self._cv_json(X, y, None), x=X, y=y, sample_weight=sample_weight
            )
        self.alpha_ = float(res["alpha"])
        mse = np.asarray(res["mse_path"])
        alphas = np.asarray(res["alphas"])
        ratios = self._l1_ratios()
        # scikit-learn squeezes mse_path_: no axis of length one (one l1_ratio, one alpha, a
        # single split)
        self.mse_path_ = np.squeeze(mse)
        if ratios is None or len(ratios) == 1:
            # one l1_ratio (a scalar or a list of one): 1-D alphas_, as scikit-learn
            self.alphas_ = alphas[0]
        else:
            # explicit alphas are the same for every l1_ratio: scikit-learn keeps them 1-D
            self.alphas_ = alphas if isinstance(self.alphas, numbers.Integral) else alphas[0]
        self._after_cv(res)
        return self._set_fitted(res["model"])

    def _after_cv(self, res):
        pass


class MultiTaskLassoCV(_CvBase):
    """:class:`MultiTaskLasso` with ``alpha`` chosen by cross-validation (scikit-learn's API).

    The grid: ``alphas`` values, or ``alphas`` (an int, default 100) values from ``alpha_max``
    down to ``eps * alpha_max`` on a log scale. Folds from ``cv`` (default 5-fold ``KFold``, as
    scikit-learn); each fold runs one warm-started path. The chosen ``alpha_`` minimises the mean
    test MSE over folds (or, with ``one_standard_error=True``, is the largest alpha within one
    standard error of the minimum). The model is then refitted on all the data.

    Attributes: ``alpha_``, ``alphas_`` (n_alphas,), ``mse_path_`` (n_alphas, n_folds; axes
    of length one squeezed away, as scikit-learn: a single split gives (n_alphas,)),
    ``coef_``, ``intercept_``, ``dual_gap_``, ``n_iter_``, ``n_features_in_``.

    Examples
    --------
    >>> import numpy as np
    >>> from mtlkit import MultiTaskLassoCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 10))
    >>> Y = X[:, :2] @ rng.normal(size=(2, 3)) + 0.1 * rng.normal(size=(100, 3))
    >>> model = MultiTaskLassoCV(cv=5).fit(X, Y)
    >>> np.flatnonzero(np.abs(model.coef_).sum(axis=0) > 0.1).tolist()
    [0, 1]
    """

    _estimator = "lasso"

    def __init__(
        self,
        *,
        eps=1e-3,
        alphas=100,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-4,
        copy_X=True,
        cv=None,
        verbose=False,
        n_jobs=None,
        random_state=None,
        selection="cyclic",
        one_standard_error=False,
        scaling="task_mean",
        n_threads=1,
        mixed_precision=True,
    ):
        self.eps = eps
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.copy_X = copy_X
        self.cv = cv
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.selection = selection
        self.one_standard_error = one_standard_error
        self.scaling = scaling
        self.n_threads = n_threads
        self.mixed_precision = mixed_precision


class MultiTaskElasticNetCV(_CvBase):
    """:class:`MultiTaskElasticNet` with ``alpha`` and ``l1_ratio`` chosen by cross-validation.

    As :class:`MultiTaskLassoCV`; ``l1_ratio`` is a float or a list searched jointly (then
    ``mse_path_`` is ``(n_l1_ratios, n_alphas, n_folds)`` and ``alphas_``
    ``(n_l1_ratios, n_alphas)``, scikit-learn's shapes). Adds ``l1_ratio_``.

    Examples
    --------
    >>> import numpy as np
    >>> from mtlkit import MultiTaskElasticNetCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 10))
    >>> Y = X[:, :2] @ rng.normal(size=(2, 3)) + 0.1 * rng.normal(size=(100, 3))
    >>> model = MultiTaskElasticNetCV(l1_ratio=[0.5, 0.9], cv=3).fit(X, Y)
    >>> model.mse_path_.shape
    (2, 100, 3)
    """

    _estimator = "elasticnet"
    _parameter_constraints: dict = {
        **_CvBase._parameter_constraints,
        "l1_ratio": [Interval(numbers.Real, 0, 1, closed="both"), "array-like"],
    }

    def __init__(
        self,
        *,
        l1_ratio=0.5,
        eps=1e-3,
        alphas=100,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-4,
        cv=None,
        copy_X=True,
        verbose=0,
        n_jobs=None,
        random_state=None,
        selection="cyclic",
        one_standard_error=False,
        scaling="task_mean",
        n_threads=1,
        mixed_precision=True,
    ):
        self.l1_ratio = l1_ratio
        self.eps = eps
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.cv = cv
        self.copy_X = copy_X
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.selection = selection
        self.one_standard_error = one_standard_error
        self.scaling = scaling
        self.n_threads = n_threads
        self.mixed_precision = mixed_precision

    def _l1_ratios(self):
        r = np.atleast_1d(np.asarray(self.l1_ratio, dtype=np.float64))
        if r.size == 0:
            raise ValueError("l1_ratio is empty")
        return r.tolist()

    def _l1_ratio(self):
        return self._l1_ratios()[0]

    def _after_cv(self, res):
        self.l1_ratio_ = float(res["l1_ratio"])


# ---- loading ---------------------------------------------------------------------------------


def load_model(path):
    """Load a model file written by the CLI, Rust or an estimator's ``save``.

    Returns a fitted :class:`MultiTaskLasso` / :class:`MultiTaskElasticNet` (regression models),
    :class:`MultiTaskLogisticRegression` (all tasks logistic), :class:`MultiTaskMixedLoss`, or
    for a structured model written by ``mtlkit fit --penalty`` a fitted
    :class:`mtlkit.structured.StructuredRegressor` (its parts are not stored, only ``coef_``).
    Raises ``OSError`` for an unreadable file and ``ValueError`` for a corrupt or foreign one.
    """
    model = _core.Model.load(str(path))
    meta = json.loads(model.metadata_json)
    hp = meta["hyperparameters"]
    losses = list(model.losses)
    common = dict(
        alpha=hp["alpha"],
        fit_intercept=hp["fit_intercept"],
        max_iter=hp["max_iter"],
        tol=hp["tol"],
        selection=hp["selection"],
        scaling=hp.get("scaling", "task-mean").replace("-", "_"),
    )
    if hp["estimator"] == "structured":
        from .structured import StructuredRegressor

        st = meta.get("structure") or {}
        parts = [
            (p["kind"], p["alpha"]) if "gamma" not in p else (p["kind"], p["alpha"], p["gamma"])
            for p in st.get("parts", [])
        ]
        est = StructuredRegressor(
            parts=parts,
            fit_intercept=hp["fit_intercept"],
            tol=hp["tol"],
            max_iter=hp["max_iter"],
            scaling=common["scaling"],
            loss=losses[0] if len(set(losses)) == 1 else "squared",
        )
        est.n_features_in_ = len(model.feature_names)
        if not all(n == f"x{j}" for j, n in enumerate(model.feature_names)):
            est.feature_names_in_ = np.asarray(model.feature_names, dtype=object)
        est.coef_ = np.ascontiguousarray(model.coef.T)
        est.intercept_ = np.asarray(model.intercept)
        est.n_iter_ = max(1, int(model.n_iter))
        # (a NaN was written as JSON null)
        kkt = st.get("kkt_residual", model.dual_gap)
        est.kkt_residual_ = np.nan if kkt is None else float(kkt)
        objective = st.get("objective", np.nan)
        est.objective_ = np.nan if objective is None else float(objective)
        est.converged_ = bool(model.converged)
        est.task_names_ = np.asarray(model.task_names, dtype=object)
        return est
    if all(s == "squared" for s in losses):
        if hp["estimator"] == "multitask-lasso":
            est = MultiTaskLasso(**common)
        else:
            est = MultiTaskElasticNet(l1_ratio=hp["l1_ratio"], **common)
    elif all(s == "logistic" for s in losses):
        est = MultiTaskLogisticRegression(l1_ratio=hp["l1_ratio"], **common)
    else:
        est = MultiTaskMixedLoss(losses=losses, l1_ratio=hp["l1_ratio"], **common)
    est.n_features_in_ = len(model.feature_names)
    names = np.asarray(model.feature_names, dtype=object)
    if not all(n == f"x{j}" for j, n in enumerate(model.feature_names)):
        est.feature_names_in_ = names
    labels = meta.get("class_labels")
    if labels is not None and len(labels) == len(model.classes):
        # the labels the estimator was fitted with (written by `save`)
        est._classes_fit = [None if c is None else np.asarray(c) for c in labels]
    else:
        est._classes_fit = [None if c is None else np.asarray(c) for c in model.classes]
    est._set_fitted(model)
    return est
