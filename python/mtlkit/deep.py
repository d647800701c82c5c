"""Deep multi-task models trained by ``mtlkit train`` (the CLI), loaded for prediction.

``mtlkit train --config exp.toml --out runs/x`` saves the selected model as
``runs/x/model.safetensors`` (weights + JSON metadata: architecture, tasks, feature names,
input standardisation). From Python::

    import mtlkit.deep
    m = mtlkit.deep.load("runs/x/model.safetensors")
    m.tasks            # ['income', 'marital']
    m.feature_names    # the input columns, in order
    out = m.predict(X) # {'income': P(income = 1) per row, 'marital': ...}

``X`` is a 2-D array of the raw features (the recorded standardisation is applied by the
model) or a pandas DataFrame holding the ``feature_names`` columns (other columns are ignored).
Predictions: regression tasks give values, binary tasks the probability of the positive class,
multiclass tasks the class probabilities (``n × K``), multilabel tasks one probability per
label; ``predict_raw`` gives values and logits. The forward pass is the same Rust code the CLI
runs (burn's CPU backend).
"""

import json

import numpy as np

from . import _core

__all__ = ["DeepModel", "load"]


class DeepModel:
    """A deep multi-task model saved by ``mtlkit train``. Create it with :func:`load`."""

    def __init__(self, core):
        self._core = core
        self.metadata = json.loads(core.metadata_json())
        self.tasks = core.task_names()
        self.feature_names = core.feature_names()
        self.task_kinds = [t["kind"]["type"] for t in self.metadata["tasks"]]

    @classmethod
    def load(cls, path):
        """Load ``path`` (a ``.safetensors`` file written by ``mtlkit train``)."""
        return cls(_core.DeepModel.load(str(path)))

    def _inputs(self, X):
        if hasattr(X, "columns") and hasattr(X, "loc"):  # a pandas DataFrame
            missing = [c for c in self.feature_names if c not in X.columns]
            if missing:
                raise ValueError(f"X lacks the model's feature columns {missing}")
            X = X.loc[:, self.feature_names].to_numpy()
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (rows × {len(self.feature_names)} features), got shape {X.shape}")
        if not np.issubdtype(X.dtype, np.number):
            raise ValueError(f"X must be numeric, got dtype {X.dtype}")
        X = np.asarray(X, dtype=np.float64)
        big = np.isfinite(X) & (np.abs(X) > np.finfo(np.float32).max)
        if big.any():
            r, c = np.argwhere(big)[0]
            raise ValueError(
                f"X[{r}, {c}] = {X[r, c]:g} is beyond float32's range (±3.4e38; the model runs "
                "in single precision): rescale it"
            )
        return np.ascontiguousarray(X, dtype=np.float32)

    def _per_task(self, outs):
        res = {}
        for name, kind, o in zip(self.tasks, self.task_kinds, outs):
            res[name] = o[:, 0] if o.shape[1] == 1 and kind in ("regression", "binary") else o
        return res

    def predict(self, X):
        """Per task (a dict keyed by task name): values (regression), probabilities of the
        positive class (binary, ``(n,)``), class probabilities (multiclass, ``(n, K)``), label
        probabilities (multilabel, ``(n, L)``)."""
        return self._per_task(self._core.predict(self._inputs(X), raw=False))

    def predict_raw(self, X):
        """Per task: values (regression) or logits (classification), before any link."""
        return self._per_task(self._core.predict(self._inputs(X), raw=True))

    def __repr__(self):
        arch = self.metadata.get("architecture", {}).get("architecture", "?")
        return f"DeepModel({arch}, tasks={self.tasks}, {len(self.feature_names)} features)"


def load(path):
    """Load a deep model saved by ``mtlkit train`` (see :class:`DeepModel`)."""
    return DeepModel.load(path)
