"""One cascade layer: a group of k-fold estimators and how layers are chained (SPEC §2.4)."""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Callable, Optional

import numpy as np

from dfcnn.forest.kfold import KFoldClassVectors, fit_fold, fold_proba, fold_splits

# Fold models run in our own thread pool (each single-threaded); scikit-learn then warns on
# every forest call that its config is not propagated to the thread. Nothing depends on it.
warnings.filterwarnings("ignore", message=r"`sklearn\.utils\.parallel\.delayed` should be used", category=UserWarning)


def layer_input(X: np.ndarray, class_vectors: Optional[np.ndarray]) -> np.ndarray:
    """Input of layer t: [X ; class vectors of layer t−1], width D + n_estimators × n_classes.

    float32 because both scikit-learn trees and XGBoost work in float32 anyway; converting
    once per layer saves a copy per estimator.
    """
    if class_vectors is None:
        return np.ascontiguousarray(X, dtype=np.float32)
    n = X.shape[0]
    out = np.empty((n, X.shape[1] + class_vectors.shape[1] * class_vectors.shape[2]), dtype=np.float32)
    out[:, : X.shape[1]] = X
    out[:, X.shape[1] :] = class_vectors.reshape(n, -1)
    return out


def mean_class_vector(class_vectors: np.ndarray) -> np.ndarray:
    """The layer's prediction: class vectors ``[n, E, C]`` averaged over its estimators."""
    return class_vectors.mean(axis=1)


def attribute_vector(class_vectors: np.ndarray) -> np.ndarray:
    """Attribute vector [mean ; max] over the layer's estimators (the paper's "averaging and
    maximizing"), ``[n, E, C] -> [n, 2C]``."""
    return np.concatenate([class_vectors.mean(axis=1), class_vectors.max(axis=1)], axis=1)


class CascadeLayer:
    """The k-fold estimators of one layer; produces class vectors ``[n, n_estimators, n_classes]``.

    ``n_workers`` threads run the (estimator, fold) tasks; the fold models themselves are
    single-threaded, so the cores are used without oversubscription.
    """

    def __init__(self, index: int, estimators: list[KFoldClassVectors], n_classes: int, n_workers: int = 1):
        self.index = int(index)
        self.estimators = estimators
        self.n_classes = int(n_classes)
        self.n_workers = max(1, int(n_workers))

    @property
    def names(self) -> list[str]:
        return [e.spec.name for e in self.estimators]

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        X_val: Optional[np.ndarray] = None,
        y_val: Optional[np.ndarray] = None,
        on_estimator_end: Optional[Callable[[KFoldClassVectors], None]] = None,
    ) -> tuple[np.ndarray, Optional[np.ndarray]]:
        """Fit every estimator; return out-of-fold train class vectors and validation ones.

        ``on_estimator_end`` runs in the calling thread as soon as all folds of an estimator
        are done, in completion order.
        """
        E, C = len(self.estimators), self.n_classes
        train_cv = np.empty((X.shape[0], E, C), dtype=np.float64)
        val_cv = None if X_val is None else np.empty((X_val.shape[0], E, C), dtype=np.float64)
        splits = [fold_splits(y, est.n_folds, est.seed) for est in self.estimators]
        results: list[list] = [[None] * len(s) for s in splits]

        def task(j, k):
            est = self.estimators[j]
            tr, te = splits[j][k]
            return j, k, fit_fold(est.factory(est.fold_seed(k)), est.spec.kind, X, y, tr, te, C, X_val, y_val)

        def done(j):
            est = self.estimators[j]
            oof, val = est.collect(splits[j], results[j], X.shape[0], C)
            train_cv[:, j] = oof
            if val_cv is not None:
                val_cv[:, j] = val
            if on_estimator_end is not None:
                on_estimator_end(est)

        jobs = [(j, k) for j in range(E) for k in range(len(splits[j]))]
        if self.n_workers == 1:
            for j, k in jobs:
                results[j][k] = task(j, k)[2]
                if k == len(splits[j]) - 1:
                    done(j)
        else:
            pool = ThreadPoolExecutor(max_workers=self.n_workers)
            try:
                futures = [pool.submit(task, j, k) for j, k in jobs]
                for fut in as_completed(futures):
                    j, k, res = fut.result()
                    results[j][k] = res
                    if all(r is not None for r in results[j]):
                        done(j)
            finally:  # on error or interrupt, do not wait for queued fits
                pool.shutdown(wait=True, cancel_futures=True)
        return train_cv, val_cv

    def class_vectors(self, X: np.ndarray) -> np.ndarray:
        """Inference: each estimator's mean-of-folds class vector, ``[n, E, C]``."""
        E, C = len(self.estimators), self.n_classes
        jobs = [(j, m) for j, est in enumerate(self.estimators) for m in est.models]
        if self.n_workers == 1:
            probas = [fold_proba(m, X, C) for _, m in jobs]
        else:
            with ThreadPoolExecutor(max_workers=self.n_workers) as pool:
                probas = list(pool.map(lambda jm: fold_proba(jm[1], X, C), jobs))
        out = np.zeros((X.shape[0], E, C), dtype=np.float64)
        counts = np.zeros(E)
        for (j, _), p in zip(jobs, probas):
            out[:, j] += p
            counts[j] += 1
        if np.any(counts == 0):
            raise ValueError("a cascade layer estimator has no fitted fold models")
        return out / counts[None, :, None]
