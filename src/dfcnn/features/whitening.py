"""PCA-whitening learned on training descriptors or region vectors (SPEC §2.3), never on queries.

A scikit-learn estimator: ``fit``/``partial_fit`` accumulate the mean and covariance in float64
(so millions of region vectors stream through in chunks), then the projection
``P = diag((s_i + eps·s_max)^-1/2) U_d^T`` of the top-``d`` eigenvectors is solved. ``shrinkage``
pulls the covariance towards a scaled identity before the eigen-decomposition, which tames the
small, noisy eigenvalues of a short training set. Persisted as ``.npy`` + JSON, never pickle.
"""

from __future__ import annotations

import logging
import os
from typing import Optional

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from dfcnn.persist import atomic_save_npy, atomic_write_json, load_format_json

logger = logging.getLogger(__name__)

DEFAULT_MAX_DIM = 512
FORMAT = "dfcnn.pca_whitening/1"


class PCAWhitening(TransformerMixin, BaseEstimator):
    """PCA-whitening ``x -> P (x - mean)``; output dimension ``n_components`` (None: min(L, 512))."""

    def __init__(self, n_components: Optional[int] = None, shrinkage: float = 0.0, eps: float = 1e-6):
        self.n_components = n_components
        self.shrinkage = shrinkage
        self.eps = eps

    # -- fitting -------------------------------------------------------------------------------

    def fit(self, X, y=None):
        for attr in ("n_samples_seen_", "sum_", "scatter_"):
            self.__dict__.pop(attr, None)
        return self.partial_fit(X)

    def partial_fit(self, X, y=None):
        """Add a chunk of training vectors to the running moments and re-solve the projection."""
        fresh = not hasattr(self, "scatter_")  # a loaded estimator keeps no moments: start anew
        X = self._validate(X, reset=fresh)
        if fresh:
            self.n_samples_seen_ = 0
            self.sum_ = np.zeros(X.shape[1])
            self.scatter_ = np.zeros((X.shape[1], X.shape[1]))
        X64 = X.astype(np.float64)
        self.n_samples_seen_ += X64.shape[0]
        self.sum_ += X64.sum(axis=0)
        self.scatter_ += X64.T @ X64
        self._solve()
        return self

    def _validate(self, X, reset: bool) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2:
            raise ValueError(f"expected a 2-D array of vectors, got shape {X.shape}")
        if not np.all(np.isfinite(X)):
            raise ValueError("input contains NaN or infinity")
        if reset:
            self.n_features_in_ = X.shape[1]
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but PCAWhitening is expecting {self.n_features_in_}")
        return X

    def _target_dim(self, n_features: int, n_samples: int) -> int:
        wanted = self.n_components if self.n_components is not None else min(n_features, DEFAULT_MAX_DIM)
        if wanted < 1:
            raise ValueError(f"n_components must be >= 1, got {wanted}")
        dim = min(wanted, n_features)
        # directions beyond the sample rank carry no variance; whitening them amplifies noise
        if n_samples - 1 < dim and n_samples > 1:
            dim = n_samples - 1
            logger.warning("whitening: %d training vectors only, output dimension lowered to %d", n_samples, dim)
        return max(dim, 1)

    def _solve(self) -> None:
        n = self.n_samples_seen_
        mean = self.sum_ / n
        cov = self.scatter_ / n - np.outer(mean, mean)
        cov = (cov + cov.T) / 2.0
        if self.shrinkage:
            target = np.trace(cov) / cov.shape[0]
            cov = (1.0 - self.shrinkage) * cov + self.shrinkage * target * np.eye(cov.shape[0])
        eigval, eigvec = (t.numpy() for t in torch.linalg.eigh(torch.from_numpy(cov)))  # faster than numpy's here
        order = np.argsort(eigval)[::-1]
        eigval = np.clip(eigval[order], 0.0, None)
        eigvec = eigvec[:, order]
        dim = self._target_dim(cov.shape[0], n)
        floor = self.eps * max(float(eigval[0]), np.finfo(np.float64).tiny)
        self.mean_ = mean.astype(np.float32)
        self.components_ = eigvec[:, :dim].T.astype(np.float32)
        self.explained_variance_ = eigval[:dim].astype(np.float32)
        self.projection_ = (eigvec[:, :dim] / np.sqrt(eigval[:dim] + floor)).T.astype(np.float32)
        self.n_components_ = dim

    # -- applying --------------------------------------------------------------------------------

    def transform(self, X) -> np.ndarray:
        check_is_fitted(self, "projection_")
        X = self._validate(X, reset=False)
        return (X - self.mean_) @ self.projection_.T

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "projection_")
        return np.array([f"pcaw{i}" for i in range(self.n_components_)], dtype=object)

    # -- persistence -----------------------------------------------------------------------------

    def save(self, directory: str) -> None:
        """``mean.npy``, ``projection.npy``, ``components.npy``, ``explained_variance.npy`` + JSON."""
        check_is_fitted(self, "projection_")
        os.makedirs(directory, exist_ok=True)
        for name in ("mean", "projection", "components", "explained_variance"):
            atomic_save_npy(os.path.join(directory, f"{name}.npy"), getattr(self, f"{name}_"))
        meta = {
            "format": FORMAT,
            "params": self.get_params(),
            "n_features_in": int(self.n_features_in_),
            "n_components": int(self.n_components_),
            "n_samples_seen": int(self.n_samples_seen_),
        }
        atomic_write_json(os.path.join(directory, "whitening.json"), meta)

    @classmethod
    def load(cls, directory: str) -> "PCAWhitening":
        meta = load_format_json(os.path.join(directory, "whitening.json"), FORMAT, "PCA-whitening")
        obj = cls(**meta["params"])
        for name in ("mean", "projection", "components", "explained_variance"):
            setattr(obj, f"{name}_", np.load(os.path.join(directory, f"{name}.npy"), allow_pickle=False))
        obj.n_features_in_ = meta["n_features_in"]
        obj.n_components_ = meta["n_components"]
        obj.n_samples_seen_ = meta["n_samples_seen"]
        return obj

