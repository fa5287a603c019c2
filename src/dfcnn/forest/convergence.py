"""XGBoost's per-round validation error and loss for given descriptors (the paper's Fig. 7).

Every method's descriptors feed the same XGBoost stage (SPEC §5 "Convergence"); its native
``merror`` and ``mlogloss`` on a validation set, per boosting round, are the curves of Fig. 7.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_array
from sklearn.utils.multiclass import check_classification_targets

from dfcnn.forest.estimators import XGB_METRICS, make_xgboost


def xgb_convergence(
    X_train, y_train, X_val, y_val, xgb_cfg: Any = None, n_jobs: int = 1, seed: int = 0
) -> dict[str, list[float]]:
    """Fit one XGBoost classifier (λ, γ, rounds... from ``xgb_cfg``, the ``forest.xgb`` config) and
    return its validation history ``{"merror": [...], "mlogloss": [...]}``, one value per round."""
    from dfcnn.forest.cascade import _as_dict

    X_train = check_array(X_train, dtype=[np.float64, np.float32])
    X_val = check_array(X_val, dtype=[np.float64, np.float32])
    if X_train.shape[1] != X_val.shape[1]:
        raise ValueError(f"X_train has {X_train.shape[1]} features but X_val has {X_val.shape[1]}")
    y_train, y_val = np.asarray(y_train), np.asarray(y_val)
    if len(y_train) != len(X_train) or len(y_val) != len(X_val):
        raise ValueError("X and y differ in number of samples")
    check_classification_targets(y_train)
    encoder = LabelEncoder().fit(y_train)
    if len(encoder.classes_) < 2:
        raise ValueError("y_train has 1 class; a classifier needs at least 2 classes")
    unseen = np.setdiff1d(np.unique(y_val), encoder.classes_)
    if unseen.size:
        raise ValueError(f"y_val has classes absent from y_train: {unseen.tolist()}")
    model = make_xgboost(_as_dict(xgb_cfg), len(encoder.classes_), n_jobs=n_jobs, seed=seed)
    model.fit(X_train, encoder.transform(y_train), eval_set=[(X_val, encoder.transform(y_val))], verbose=False)
    history = model.evals_result()["validation_0"]
    return {m: [float(v) for v in history[m]] for m in XGB_METRICS}


def best_round(values, mode: str = "min") -> int:
    """1-based boosting round at which a history reaches its best (first, on ties) value."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        raise ValueError("empty history")
    return int(np.argmin(values) if mode == "min" else np.argmax(values)) + 1
