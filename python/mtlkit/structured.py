"""Structural regularizers (the MALSAR family and more) as scikit-learn regressors.

Every estimator here fits ``W = sum_k P_k`` (``coef_`` is ``W.T``, ``parts_`` the ``P_k.T``)::

    min  sum_t c_t sum_i loss(y_ti, x_ti^T w_t + b_t) + alpha_graph ||W R||_F^2 + sum_k R_k(P_k)

with the squared loss (``loss="logistic"`` for binary 0/1 tasks), ``c_t = 1/n_t`` by default
(``scaling``), by accelerated proximal gradient stopped on the KKT residual (``tol``, relative
to the data gradient at zero). The regularizers, with ``P`` of shape (n_features, n_tasks):

================  ===========================================================
``lasso``         ``alpha * sum |P_jt|``
``task-lasso``    ``alpha * sum_t w_t sum_j |P_jt|`` (``("task-lasso", alpha, [w_1..w_T])``)
``l1-inf``        ``alpha * sum_j max_t |P_jt|``
``l21``           ``alpha * sum_j ||P_j.||_2`` (rows: joint feature selection)
``column-l21``    ``alpha * sum_t ||P_.t||_2`` (whole tasks: outlier tasks)
``trace-norm``    ``alpha * ||P||_*`` (low rank)
``ridge``         ``alpha/2 * ||P||_F^2``
``shared-mean``   all columns equal (``P = w0 1^T``), ``alpha/2 * ||P||_F^2``
``block-mcp``     block MCP on rows (``gamma``), non-convex
``block-scad``    block SCAD on rows (``gamma > 2``), non-convex
================  ===========================================================

Per-task data (``task_ids`` / ``fit_tasks``), missing targets (NaN) and ``sample_weight`` work
as in :mod:`mtlkit.linear_model`.
"""

from __future__ import annotations

import json
import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from . import _core
from .linear_model import _check_no_empty_task, _split_tasks, _task_positions

__all__ = [
    "StructuredRegressor",
    "MultiTaskLassoEntrywise",
    "L1InfRegression",
    "TraceNormRegression",
    "SparseLowRank",
    "DirtyModel",
    "RMTFL",
    "RobustMTL",
    "MeanRegularized",
    "GraphRegularized",
    "BlockMCP",
    "BlockSCAD",
    "MTRL",
    "MultiTaskFeatureLearning",
    "ClusteredMTL",
    "GOMTL",
]

_NONNEG = [Interval(numbers.Real, 0, None, closed="left")]
_COMMON = {
    "fit_intercept": ["boolean"],
    "tol": [Interval(numbers.Real, 0, None, closed="neither")],
    "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
    "scaling": [StrOptions({"task_mean", "all_samples", "sum"})],
    "loss": [StrOptions({"squared", "logistic"})],
}


class _StructuredBase(MultiOutputMixin, RegressorMixin, BaseEstimator):
    """Validation, the call into ``_core.fit_structured`` and the fitted attributes."""

    _parameter_constraints: dict = dict(_COMMON)

    def _spec(self, n_tasks):
        """The model-specific part of the JSON settings."""
        raise NotImplementedError

    def _settings(self, n_tasks):
        spec = {
            "losses": [self.loss],
            "scaling": self.scaling,
            "fit_intercept": bool(self.fit_intercept),
            "tol": float(self.tol),
            "max_iter": int(self.max_iter),
        }
        spec.update(self._spec(n_tasks))
        return json.dumps(spec)

    def fit(self, X, y, sample_weight=None, task_ids=None):
        """Fit on a shared design (``y`` of shape (n_samples, n_tasks), NaN = missing) or on
        stacked per-task rows (1-D ``y`` with ``task_ids``)."""
        self._validate_params()
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        X = validate_data(self, X, accept_sparse=["csr", "csc"], dtype=np.float64, reset=True,
                          ensure_all_finite=False)
        if sp.issparse(X):
            X = X.toarray()
        task_names = getattr(y, "columns", None)
        y = check_array(y, ensure_2d=False, dtype=np.float64, ensure_all_finite=False,
                        input_name="y")
        check_consistent_length(X, y)
        if task_ids is not None:
            if y.ndim != 1:
                raise ValueError("with task_ids, y must be 1-D (one target per row)")
            if sample_weight is not None:
                raise ValueError("sample_weight is not supported with task_ids (per-task data)")
            labels, xs, ys = _split_tasks(X, y, task_ids)
            self.tasks_ = labels
            res = _core.fit_structured(self._settings(len(xs)), xs=xs, ys=ys)
        else:
            if y.ndim != 2:
                raise ValueError(
                    f"y must be 2-D (n_samples, n_tasks), got shape {y.shape}; for per-task "
                    "data give task_ids (stacked rows) or call fit_tasks(Xs, ys)"
                )
            if hasattr(self, "tasks_"):
                del self.tasks_
            if sample_weight is not None:
                sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
            res = _core.fit_structured(self._settings(y.shape[1]), x=np.asarray(X), y=y,
                                       sample_weight=sample_weight)
        self.task_names_ = (np.asarray([str(c) for c in task_names], dtype=object)
                            if task_names is not None else None)
        return self._set_fitted(res)

    def fit_tasks(self, Xs, ys):
        """Fit with one ``(X_t, y_t)`` per task."""
        if len(Xs) != len(ys) or len(Xs) == 0:
            raise ValueError("give one (X_t, y_t) per task, at least one task")
        _check_no_empty_task(Xs, ys)
        X = np.vstack([np.asarray(x) for x in Xs])
        ids = np.concatenate([np.full(np.shape(x)[0], t) for t, x in enumerate(Xs)])
        y = np.concatenate([np.ravel(np.asarray(v)) for v in ys])
        return self.fit(X, y, task_ids=ids)

    def _set_fitted(self, res):
        self.coef_ = np.ascontiguousarray(np.asarray(res["coef"]).T)
        self.parts_ = [np.ascontiguousarray(np.asarray(p).T) for p in res["parts"]]
        self.intercept_ = np.asarray(res["intercept"])
        self.n_iter_ = max(1, int(res["n_iter"]))
        self.kkt_residual_ = float(res["kkt_residual"])
        self.objective_ = float(res["objective"])
        self.converged_ = bool(res["converged"])
        self._metadata = res.get("metadata")
        if "basis" in res:
            self.basis_ = np.asarray(res["basis"])
            self.codes_ = np.asarray(res["codes"])
            self.objective_trace_ = np.asarray(res["objective_trace"])
        if "covariance" in res:
            self.covariance_ = np.asarray(res["covariance"])
            self.objective_trace_ = np.asarray(res["objective_trace"])
            self.converged_ = bool(res["outer_converged"])
        if not self.converged_:
            if "objective_trace" in res:
                # alternating models: the outer loop (or one of its inner fits) did not settle
                trace = np.asarray(res["objective_trace"], dtype=np.float64)
                # (relative to the previous value, as the outer loop's stopping test)
                change = (abs(trace[-1] - trace[-2]) / max(abs(trace[-2]), 1e-300)
                          if len(trace) >= 2 else float("nan"))
                msg = (f"{type(self).__name__} did not converge after {len(trace)} outer "
                       f"iterations (max_outer={self.max_outer}): last relative objective "
                       f"change {change:.2e}, or an inner fit did not reach tol {self.tol:.1e}. "
                       "Increase max_outer or max_iter.")
            else:
                msg = (f"{type(self).__name__} did not converge after {res['n_iter']} iterations: "
                       f"relative KKT residual {res['kkt_residual']:.2e} > tol {self.tol:.1e}. "
                       "Increase max_iter or tol.")
            warnings.warn(msg, ConvergenceWarning, stacklevel=3)
        return self

    def save(self, path):
        """Write the fitted model in the CLI's model format (safetensors + JSON metadata with
        the regularizers under ``structure``), atomically; ``mtlkit predict`` and
        :func:`mtlkit.load_model` read it."""
        check_is_fitted(self)
        if getattr(self, "_metadata", None) is None:
            raise ValueError("this model carries no metadata to save (it was loaded from a file)")
        model = _core.Model.from_parts(
            np.ascontiguousarray(self.coef_.T, dtype=np.float64),
            np.ascontiguousarray(self.intercept_, dtype=np.float64),
            self._metadata,
        )
        model.save(str(path))

    def _decision(self, X, task_ids=None):
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc"], dtype=np.float64, reset=False)
        if task_ids is None:
            return np.asarray(X @ self.coef_.T) + self.intercept_
        check_consistent_length(X, task_ids)
        pos = _task_positions(self, task_ids)
        if sp.issparse(X):
            X = X.toarray()
        return np.einsum("ij,ij->i", X, self.coef_[pos]) + self.intercept_[pos]

    def predict(self, X, task_ids=None):
        """``X W + b``: (n_samples, n_tasks), or (n_samples,) for the rows' ``task_ids``. With
        ``loss="logistic"`` these are log-odds (``predict_proba`` gives probabilities)."""
        return self._decision(X, task_ids)

    @available_if(lambda self: self.loss == "logistic")
    def predict_proba(self, X, task_ids=None):
        """P(y = 1) per task (available with ``loss="logistic"``)."""
        return 1.0 / (1.0 + np.exp(-self._decision(X, task_ids)))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = False
        tags.input_tags.sparse = True
        return tags


def _common_init(self, fit_intercept, tol, max_iter, scaling, loss):
    self.fit_intercept = fit_intercept
    self.tol = tol
    self.max_iter = max_iter
    self.scaling = scaling
    self.loss = loss


class StructuredRegressor(_StructuredBase):
    """Any sum of parts: ``parts`` is a list of ``(kind, alpha)``, ``(kind, alpha, gamma)`` or
    ``("task-lasso", alpha, weights)`` (kinds in the module table); ``graph_edges`` / ``alpha_graph`` add ``alpha_graph ||W R||^2``
    with one column ``e_s - e_t`` of ``R`` per edge ``(s, t)``.

    Examples
    --------
    >>> import numpy as np
    >>> from mtlkit.structured import StructuredRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 8))
    >>> Y = X @ np.outer(rng.normal(size=8), [1.0, 2.0, -1.0]) + 0.1 * rng.normal(size=(100, 3))
    >>> m = StructuredRegressor(parts=[("lasso", 0.01), ("trace-norm", 0.1)]).fit(X, Y)
    >>> len(m.parts_), m.coef_.shape
    (2, (3, 8))
    """

    _parameter_constraints: dict = {**_COMMON, "parts": [list, tuple],
                                    "graph_edges": [None, list, tuple], "alpha_graph": _NONNEG}

    def __init__(self, parts=(("l21", 0.1),), *, graph_edges=None, alpha_graph=0.0,
                 fit_intercept=True, tol=1e-6, max_iter=10_000, scaling="task_mean",
                 loss="squared"):
        self.parts = parts
        self.graph_edges = graph_edges
        self.alpha_graph = alpha_graph
        _common_init(self, fit_intercept, tol, max_iter, scaling, loss)

    def _spec(self, n_tasks):
        parts = []
        for p in self.parts:
            p = tuple(p)
            if len(p) not in (2, 3):
                raise ValueError(f"a part is (kind, alpha) or (kind, alpha, gamma), got {p!r}")
            d = {"kind": str(p[0]), "alpha": float(p[1])}
            if len(p) == 3 and str(p[0]) == "task-lasso":
                d["weights"] = [float(w) for w in p[2]]
            elif len(p) == 3:
                d["gamma"] = float(p[2])
            parts.append(d)
        spec = {"parts": parts}
        if self.graph_edges is not None:
            spec["graph"] = {"edges": [[int(s), int(t)] for s, t in self.graph_edges],
                             "alpha": float(self.alpha_graph)}
        return spec


class MultiTaskLassoEntrywise(_StructuredBase):
    """Lasso on every coefficient: ``alpha * sum_jt |W_jt|`` (independent sparse tasks)."""

    _parameter_constraints: dict = {**_COMMON, "alpha": _NONNEG}

    def __init__(self, alpha=0.1, *, fit_intercept=True, tol=1e-6, max_iter=10_000,
                 scaling="task_mean", loss="squared"):
        self.alpha = alpha
        _common_init(self, fit_intercept, tol, max_iter, scaling, loss)

    def _spec(self, n_tasks):
        return {"parts": [{"kind": "lasso", "alpha": float(self.alpha)}]}


class L1InfRegression(_StructuredBase):
    """L1,inf (simultaneous Lasso): ``alpha * sum_j max_t |W_jt|``."""

    _parameter_constraints: dict = {**_COMMON, "alpha": _NONNEG}

    def __init__(self, alpha=0.1, *, fit_intercept=True, tol=1e-6, max_iter=10_000,
                 scaling="task_mean", loss="squared"):
        self.alpha = alpha
        _common_init(self, fit_intercept, tol, max_iter, scaling, loss)

    def _spec(self, n_tasks):
        return {"parts": [{"kind": "l1-inf", "alpha": float(self.alpha)}]}


class TraceNormRegression(_StructuredBase):
    """Trace norm (low rank): ``alpha * ||W||_*``."""

    _parameter_constraints: dict = {**_COMMON, "alpha": _NONNEG}

    def __init__(self, alpha=0.1, *, fit_intercept=True, tol=1e-6, max_iter=10_000,
                 scaling="task_mean", loss="squared"):
        self.alpha = alpha
        _common_init(self, fit_intercept, tol, max_iter, scaling, loss)

    def _spec(self, n_tasks):
        return {"parts": [{"kind": "trace-norm", "alpha": float(self.alpha)}]}


class SparseLowRank(_StructuredBase):
    """Sparse + low rank: ``W = P + Q``, ``alpha_sparse * ||P||_1 + alpha_rank * ||Q||_*``."""

    _parameter_constraints: dict = {**_COMMON, "alpha_sparse": _NONNEG, "alpha_rank": _NONNEG}

    def __init__(self, alpha_sparse=0.1, alpha_rank=0.1, *, fit_intercept=True, tol=1e-6, max_iter=10_000,
                 scaling="task_mean", loss="squared"):
        self.alpha_sparse = alpha_sparse
        self.alpha_rank = alpha_rank
        _common_init(self, fit_intercept, tol, max_iter, scaling, loss)

    def _spec(self, n_tasks):
        return {"parts": [{"kind": "lasso", "alpha": float(self.alpha_sparse)},
                {"kind": "trace-norm", "alpha": float(self.alpha_rank)}]}


class DirtyModel(_StructuredBase):
    """Dirty model (Jalali et al.): ``W = P + Q``, ``alpha_group * sum_j max_t |P_jt| +
    alpha_sparse * ||Q||_1``."""

    _parameter_constraints: dict = {**_COMMON, "alpha_group": _NONNEG, "alpha_sparse": _NONNEG}

    def __init__(self, alpha_group=0.1, alpha_sparse=0.1, *, fit_intercept=True, tol=1e-6, max_iter=10_000,
                 scaling="task_mean", loss="squared"):
        self.alpha_group = alpha_group
        self.alpha_sparse = alpha_sparse
        _common_init(self, fit_intercept, tol, max_iter, scaling, loss)

    def _spec(self, n_tasks):
        return {"parts": [{"kind": "l1-inf", "alpha": float(self.alpha_group)},
                {"kind": "lasso", "alpha": float(self.alpha_sparse)}]}


class RMTFL(_StructuredBase):
    """Robust multi-task feature learning (Gong et al.): ``W = P + Q``,
    ``alpha_features * ||P||_{2,1} + alpha_tasks * ||Q^T||_{2,1}``."""

    _parameter_constraints: dict = {**_COMMON, "alpha_features": _NONNEG, "alpha_tasks": _NONNEG}

    def __init__(self, alpha_features=0.1, alpha_tasks=0.1, *, fit_intercept=True, tol=1e-6, max_iter=10_000,
                 scaling="task_mean", loss="squared"):
        self.alpha_features = alpha_features
        self.alpha_tasks = alpha_tasks
        _common_init(self, fit_intercept, tol, max_iter, scaling, loss)

    def _spec(self, n_tasks):
        return {"parts": [{"kind": "l21", "alpha": float(self.alpha_features)},
                {"kind": "column-l21", "alpha": float(self.alpha_tasks)}]}


class RobustMTL(_StructuredBase):
    """Robust MTL (Chen et al.): low rank plus outlier tasks, ``W = P + Q``,
    ``alpha_rank * ||P||_* + alpha_outlier * ||Q^T||_{2,1}``."""

    _parameter_constraints: dict = {**_COMMON, "alpha_rank": _NONNEG, "alpha_outlier": _NONNEG}

    def __init__(self, alpha_rank=0.1, alpha_outlier=0.1, *, fit_intercept=True, tol=1e-6, max_iter=10_000,
                 scaling="task_mean", loss="squared"):
        self.alpha_rank = alpha_rank
        self.alpha_outlier = alpha_outlier
        _common_init(self, fit_intercept, tol, max_iter, scaling, loss)

    def _spec(self, n_tasks):
        return {"parts": [{"kind": "trace-norm", "alpha": float(self.alpha_rank)},
                {"kind": "column-l21", "alpha": float(self.alpha_outlier)}]}


class MeanRegularized(_StructuredBase):
    """Mean regularization (Evgeniou & Pontil): ``w_t = w0 + v_t``,
    ``alpha_mean * T/2 * ||w0||^2 + alpha_task/2 * sum_t ||v_t||^2``; ``parts_[0]`` holds ``w0`` in
    every row, ``parts_[1]`` the ``v_t``."""

    _parameter_constraints: dict = {**_COMMON, "alpha_mean": _NONNEG, "alpha_task": _NONNEG}

    def __init__(self, alpha_mean=0.1, alpha_task=1.0, *, fit_intercept=True, tol=1e-6, max_iter=10_000,
                 scaling="task_mean", loss="squared"):
        self.alpha_mean = alpha_mean
        self.alpha_task = alpha_task
        _common_init(self, fit_intercept, tol, max_iter, scaling, loss)

    def _spec(self, n_tasks):
        return {"parts": [{"kind": "shared-mean", "alpha": float(self.alpha_mean)},
                {"kind": "ridge", "alpha": float(self.alpha_task)}]}


class BlockMCP(_StructuredBase):
    """Block MCP on feature rows (non-convex; warm-started from the L2,1 solution)."""

    _parameter_constraints: dict = {**_COMMON, "alpha": _NONNEG, "gamma": _NONNEG}

    def __init__(self, alpha=0.1, gamma=3.0, *, fit_intercept=True, tol=1e-6, max_iter=10_000,
                 scaling="task_mean", loss="squared"):
        self.alpha = alpha
        self.gamma = gamma
        _common_init(self, fit_intercept, tol, max_iter, scaling, loss)

    def _spec(self, n_tasks):
        return {"parts": [{"kind": "block-mcp", "alpha": float(self.alpha), "gamma": float(self.gamma)}]}


class BlockSCAD(_StructuredBase):
    """Block SCAD on feature rows (non-convex, ``gamma > 2``; warm-started from L2,1)."""

    _parameter_constraints: dict = {**_COMMON, "alpha": _NONNEG, "gamma": _NONNEG}

    def __init__(self, alpha=0.1, gamma=3.7, *, fit_intercept=True, tol=1e-6, max_iter=10_000,
                 scaling="task_mean", loss="squared"):
        self.alpha = alpha
        self.gamma = gamma
        _common_init(self, fit_intercept, tol, max_iter, scaling, loss)

    def _spec(self, n_tasks):
        return {"parts": [{"kind": "block-scad", "alpha": float(self.alpha), "gamma": float(self.gamma)}]}


class GraphRegularized(_StructuredBase):
    """SRMTL: ``alpha_graph * ||W R||_F^2`` over a task graph (``edges``: pairs of task indices
    that should be similar) plus ``alpha_l1 * ||W||_1``."""

    _parameter_constraints: dict = {**_COMMON, "edges": [list, tuple], "alpha_graph": _NONNEG,
                                    "alpha_l1": _NONNEG}

    def __init__(self, edges=(), *, alpha_graph=1.0, alpha_l1=0.0, fit_intercept=True, tol=1e-6,
                 max_iter=10_000, scaling="task_mean", loss="squared"):
        self.edges = edges
        self.alpha_graph = alpha_graph
        self.alpha_l1 = alpha_l1
        _common_init(self, fit_intercept, tol, max_iter, scaling, loss)

    def _spec(self, n_tasks):
        return {"parts": [{"kind": "lasso", "alpha": float(self.alpha_l1)}],
                "graph": {"edges": [[int(s), int(t)] for s, t in self.edges],
                          "alpha": float(self.alpha_graph)}}


class MTRL(_StructuredBase):
    """Multi-task relationship learning (Zhang & Yeung): learned task covariance ``covariance_``
    (``Omega``, trace one, can be negative between tasks)::

        min f(W) + lambda1/2 ||W||_F^2 + lambda2/2 tr(W Omega^-1 W^T),  Omega PSD, tr Omega = 1

    by alternating minimisation (``objective_trace_`` per outer iteration)."""

    _parameter_constraints: dict = {**_COMMON, "lambda1": _NONNEG, "lambda2": _NONNEG,
                                    "epsilon": [Interval(numbers.Real, 0, None, closed="neither")],
                                    "max_outer": [Interval(numbers.Integral, 1, None, closed="left")]}

    def __init__(self, lambda1=0.01, lambda2=0.1, *, epsilon=1e-4, max_outer=100,
                 fit_intercept=True, tol=1e-6, max_iter=10_000, scaling="task_mean",
                 loss="squared"):
        self.lambda1 = lambda1
        self.lambda2 = lambda2
        self.epsilon = epsilon
        self.max_outer = max_outer
        _common_init(self, fit_intercept, tol, max_iter, scaling, loss)

    def _spec(self, n_tasks):
        return {"model": "mtrl", "parts": [{"kind": "ridge", "alpha": float(self.lambda1)}],
                "lambda1": float(self.lambda1), "lambda2": float(self.lambda2),
                "epsilon": float(self.epsilon), "max_outer": int(self.max_outer)}


class MultiTaskFeatureLearning(_StructuredBase):
    """Multi-task feature learning (Argyriou, Evgeniou & Pontil): a shared feature covariance
    ``covariance_`` (``D``)::

        min f(W) + gamma tr(W^T D^-1 W),  D PSD, tr D <= 1

    by alternating minimisation."""

    _parameter_constraints: dict = {**_COMMON, "gamma": _NONNEG,
                                    "epsilon": [Interval(numbers.Real, 0, None, closed="neither")],
                                    "max_outer": [Interval(numbers.Integral, 1, None, closed="left")]}

    def __init__(self, gamma=0.1, *, epsilon=1e-4, max_outer=100, fit_intercept=True, tol=1e-6,
                 max_iter=10_000, scaling="task_mean", loss="squared"):
        self.gamma = gamma
        self.epsilon = epsilon
        self.max_outer = max_outer
        _common_init(self, fit_intercept, tol, max_iter, scaling, loss)

    def _spec(self, n_tasks):
        return {"model": "feature-learning", "parts": [{"kind": "ridge", "alpha": 0.0}],
                "gamma": float(self.gamma), "epsilon": float(self.epsilon),
                "max_outer": int(self.max_outer)}


class ClusteredMTL(_StructuredBase):
    """Clustered multi-task learning, convex relaxation (Zhou, Chen & Ye; MALSAR's CMTL)::

        min f(W) + rho1 eta (1 + eta) tr(W (eta I + M)^-1 W^T),  tr M = k,  0 <= M <= I

    with ``eta = rho2 / rho1``, by alternating minimisation. ``covariance_`` is ``M``
    (``n_tasks x n_tasks``): large entries join tasks of one cluster. A ``k`` above the number
    of tasks is reduced to it (each task its own cluster)."""

    _parameter_constraints: dict = {**_COMMON,
                                    "rho1": [Interval(numbers.Real, 0, None, closed="neither")],
                                    "rho2": [Interval(numbers.Real, 0, None, closed="neither")],
                                    "k": [Interval(numbers.Integral, 1, None, closed="left")],
                                    "max_outer": [Interval(numbers.Integral, 1, None, closed="left")]}

    def __init__(self, k=2, rho1=0.1, rho2=0.01, *, max_outer=100, fit_intercept=True, tol=1e-6,
                 max_iter=10_000, scaling="task_mean", loss="squared"):
        self.k = k
        self.rho1 = rho1
        self.rho2 = rho2
        self.max_outer = max_outer
        _common_init(self, fit_intercept, tol, max_iter, scaling, loss)

    def _spec(self, n_tasks):
        return {"model": "clustered", "parts": [{"kind": "ridge", "alpha": 0.0}],
                "rho1": float(self.rho1), "rho2": float(self.rho2),
                "k": int(min(self.k, n_tasks)), "max_outer": int(self.max_outer)}


class GOMTL(_StructuredBase):
    """GO-MTL (Kumar & Daume III): a latent basis shared by all tasks, ``W = L S``::

        min f(L S) + alpha_codes ||S||_1 + alpha_basis ||L||_F^2

    ``basis_`` is ``L`` (n_features x k), ``codes_`` is ``S`` (k x n_tasks): which basis vectors
    each task uses. Alternating minimisation from an SVD start (non-convex; thousands of cheap
    outer iterations are usual). A ``k`` above ``min(n_features, n_tasks)`` is reduced to it."""

    _parameter_constraints: dict = {**_COMMON,
                                    "k": [Interval(numbers.Integral, 1, None, closed="left")],
                                    "alpha_codes": _NONNEG, "alpha_basis": _NONNEG,
                                    "max_outer": [Interval(numbers.Integral, 1, None, closed="left")]}

    def __init__(self, k=2, alpha_codes=0.01, alpha_basis=0.001, *, max_outer=5000,
                 fit_intercept=True, tol=1e-6, max_iter=10_000, scaling="task_mean",
                 loss="squared"):
        self.k = k
        self.alpha_codes = alpha_codes
        self.alpha_basis = alpha_basis
        self.max_outer = max_outer
        _common_init(self, fit_intercept, tol, max_iter, scaling, loss)

    def _spec(self, n_tasks):
        d = self.n_features_in_
        return {"model": "go-mtl", "parts": [{"kind": "ridge", "alpha": 0.0}],
                "k": int(max(1, min(self.k, n_tasks, d))), "mu": float(self.alpha_codes),
                "lambda": float(self.alpha_basis), "max_outer": int(self.max_outer)}
