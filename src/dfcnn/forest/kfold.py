"""Out-of-fold class vectors of one estimator (SPEC §2.4, DF21's ``kfoldwrapper``).

Training: stratified k-fold; each fold model predicts the fold it did not see, so every
training sample gets a class vector from a model that never saw it. Inference: the mean of
the k fold models' class-probability vectors.

Fitting one fold is a self-contained task (:func:`fit_fold`) so that a layer can run all its
(estimator, fold) tasks on a thread pool with single-threaded models: both cores stay busy
without nested thread pools fighting over them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np
from sklearn.model_selection import StratifiedKFold

from dfcnn.forest.estimators import XGB, XGB_METRICS, EstimatorSpec


def fold_proba(model, X: np.ndarray, n_classes: int) -> np.ndarray:
    """Class probabilities of one fitted fold model, checked to cover every class."""
    proba = np.asarray(model.predict_proba(X), dtype=np.float64)
    if proba.ndim != 2 or proba.shape[1] != n_classes:
        raise ValueError(
            f"fold model returned probabilities of shape {proba.shape}, expected (n, {n_classes}); "
            "a fold's training part must contain every class"
        )
    return proba


def fold_splits(y: np.ndarray, n_folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified, shuffled (train, held-out) index pairs."""
    return list(StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


@dataclass
class FoldResult:
    model: Any
    fit_time: float  # seconds inside model.fit
    total_time: float  # fit + predictions
    oof: np.ndarray  # class vectors of the held-out fold
    val: Optional[np.ndarray] = None  # class vectors of the validation set
    evals: dict = field(default_factory=dict)  # XGBoost per-round validation metrics


def fit_fold(
    model, kind: str, X: np.ndarray, y: np.ndarray, train_idx: np.ndarray, test_idx: np.ndarray,
    n_classes: int, X_val: Optional[np.ndarray] = None, y_val: Optional[np.ndarray] = None,
) -> FoldResult:
    """Fit one fold model and predict its held-out fold (and the validation set, if any)."""
    t0 = time.perf_counter()
    kwargs = {}
    if kind == XGB and X_val is not None:
        kwargs = {"eval_set": [(X_val, y_val)], "verbose": False}
    model.fit(X[train_idx], y[train_idx], **kwargs)
    fit_time = time.perf_counter() - t0
    oof = fold_proba(model, X[test_idx], n_classes)
    val = None if X_val is None else fold_proba(model, X_val, n_classes)
    evals = dict(model.evals_result()["validation_0"]) if kwargs else {}
    return FoldResult(model, fit_time, time.perf_counter() - t0, oof, val, evals)


class KFoldClassVectors:
    """k fold models of one estimator slot and how long fitting them took."""

    def __init__(self, spec: EstimatorSpec, factory: Callable[[int], Any], n_folds: int, seed: int):
        self.spec = spec
        self.factory = factory  # fold seed -> unfitted estimator
        self.n_folds = int(n_folds)
        self.seed = int(seed)
        self.models: list = []
        self.fit_time = 0.0  # seconds inside the fold models' .fit calls (summed over folds)
        self.total_time = 0.0  # fit + out-of-fold and validation predictions (summed over folds)
        self.evals: dict[str, list[float]] = {}  # XGBoost: per-round validation metrics, mean over folds

    def fold_seed(self, k: int) -> int:
        return self.seed + k

    def collect(
        self, splits, results: list[FoldResult], n_samples: int, n_classes: int
    ) -> tuple[np.ndarray, Optional[np.ndarray]]:
        """Keep the fold models; assemble out-of-fold and mean validation class vectors."""
        oof = np.zeros((n_samples, n_classes), dtype=np.float64)
        for (_, te), r in zip(splits, results):
            oof[te] = r.oof
        val = None
        if results[0].val is not None:
            val = np.mean([r.val for r in results], axis=0)
        self.models = [r.model for r in results]
        self.fit_time = sum(r.fit_time for r in results)
        self.total_time = sum(r.total_time for r in results)
        histories = [r.evals for r in results if r.evals]
        self.evals = {m: np.mean([h[m] for h in histories], axis=0).tolist() for m in XGB_METRICS} if histories else {}
        return oof, val

    def fit(
        self, X: np.ndarray, y: np.ndarray, n_classes: int,
        X_val: Optional[np.ndarray] = None, y_val: Optional[np.ndarray] = None,
    ) -> np.ndarray:
        """Sequential fit of the k fold models; returns the out-of-fold class vectors ``[n, C]``."""
        splits = fold_splits(y, self.n_folds, self.seed)
        results = [
            fit_fold(self.factory(self.fold_seed(k)), self.spec.kind, X, y, tr, te, n_classes, X_val, y_val)
            for k, (tr, te) in enumerate(splits)
        ]
        return self.collect(splits, results, X.shape[0], n_classes)[0]

    def predict_proba(self, X: np.ndarray, n_classes: int) -> np.ndarray:
        """Mean of the fold models' class vectors ``[n, n_classes]``."""
        if not self.models:
            raise ValueError(f"estimator {self.spec.name!r} has no fitted fold models")
        out = np.zeros((X.shape[0], n_classes), dtype=np.float64)
        for model in self.models:
            out += fold_proba(model, X, n_classes)
        return out / len(self.models)
