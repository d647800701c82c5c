"""mtlkit: multi-task learning with scikit-learn estimators over a fast Rust core.

Estimators (``mtlkit.linear_model``, re-exported here):

- :class:`MultiTaskLasso`, :class:`MultiTaskElasticNet` — scikit-learn's objectives, exactly
- :class:`MultiTaskLassoCV`, :class:`MultiTaskElasticNetCV` — cross-validated ``alpha``
- :class:`MultiTaskLogisticRegression` — binary classification tasks, L2,1 / elastic net
- :class:`MultiTaskMixedLoss` — regression and classification tasks together

Structural regularizers (trace norm, dirty models, rMTFL, robust MTL, mean and graph
regularization, MTRL, multi-task feature learning, block MCP/SCAD, ...) are in
:mod:`mtlkit.structured`. Task structure (affinity, grouping, negative-transfer reports) is in
:mod:`mtlkit.relate`. Deep models trained by ``mtlkit train`` load for prediction with
:func:`mtlkit.deep.load`.

Every estimator accepts per-task data (``fit(X, y, task_ids=...)`` with stacked rows, or
``fit_tasks(Xs, ys)``), NaN as a missing target, and saves models the ``mtlkit`` CLI reads
(``save`` / :func:`load_model`).
"""

from . import _core, deep, relate, structured
from .linear_model import (
    MultiTaskElasticNet,
    MultiTaskElasticNetCV,
    MultiTaskLasso,
    MultiTaskLassoCV,
    MultiTaskLogisticRegression,
    MultiTaskMixedLoss,
    load_model,
)

__version__ = _core.__version__

__all__ = [
    "MultiTaskLasso",
    "MultiTaskElasticNet",
    "MultiTaskLassoCV",
    "MultiTaskElasticNetCV",
    "MultiTaskLogisticRegression",
    "MultiTaskMixedLoss",
    "load_model",
    "structured",
    "relate",
    "deep",
    "__version__",
]
