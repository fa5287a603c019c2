"""VLAD: a set of local descriptors -> one global vector (Jégou et al. 2010; SPEC §3).

Vocabulary: k-means centres learned on training images' descriptors only. Encoding: sum of
residuals to the nearest centre per cluster, then intra-normalisation (each cluster block L2,
Arandjelović & Zisserman 2013), signed square root, and a final L2 - in the order SPEC §3 lists.
Persisted as ``vlad_centers.npy`` + ``vlad.json``; reading them needs no pickle.
"""

from __future__ import annotations

import logging
import os
from typing import Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.utils.validation import check_is_fitted

from dfcnn.persist import atomic_save_npy as save_npy, atomic_write_json as save_json, load_npy, load_format_json

logger = logging.getLogger(__name__)

_FORMAT = "dfcnn.vlad/1"
CENTERS_FILE = "vlad_centers.npy"
META_FILE = "vlad.json"


def assign_nearest(descriptors: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Index of the nearest centre (squared Euclidean) for each descriptor row."""
    d2 = (
        np.einsum("ij,ij->i", descriptors, descriptors)[:, None]
        - 2.0 * descriptors @ centers.T
        + np.einsum("ij,ij->i", centers, centers)[None, :]
    )
    return np.argmin(d2, axis=1)


def vlad_residuals(descriptors: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """v_k = sum over descriptors x assigned to centre c_k of (x - c_k); [k, d]."""
    k, d = centers.shape
    v = np.zeros((k, d), np.float64)
    if descriptors.shape[0] == 0:
        return v
    x = descriptors.astype(np.float64)
    c = centers.astype(np.float64)
    nearest = assign_nearest(x, c)
    np.add.at(v, nearest, x - c[nearest])
    return v


def normalise_vlad(v: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Intra-normalisation per cluster block, signed square root, final L2 -> flat [k*d].

    An all-zero input (an image without descriptors) stays all-zero.
    """
    block = np.linalg.norm(v, axis=1, keepdims=True)
    v = np.where(block > eps, v / np.maximum(block, eps), 0.0)
    v = np.sign(v) * np.sqrt(np.abs(v))
    flat = v.reshape(-1)
    norm = np.linalg.norm(flat)
    return flat / norm if norm > eps else flat


class VladEncoder(TransformerMixin, BaseEstimator):
    """Learns a k-means vocabulary; ``transform`` maps descriptor sets to [n, k*d] float32.

    ``X`` is a sequence of per-image descriptor arrays ([n_i, d], n_i may be 0), not a matrix:
    VLAD describes a set. Deterministic for a fixed ``random_state``.
    """

    def __init__(
        self,
        n_clusters: int = 64,
        max_training_descriptors: int = 100_000,
        n_init: int = 1,
        max_iter: int = 100,
        random_state: int = 0,
    ):
        self.n_clusters = n_clusters
        self.max_training_descriptors = max_training_descriptors
        self.n_init = n_init
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, X: Sequence[np.ndarray], y=None) -> "VladEncoder":
        sets = [np.asarray(s, np.float32).reshape(len(s), -1) if len(s) else None for s in X]
        nonempty = [s for s in sets if s is not None]
        if not nonempty:
            raise ValueError("VladEncoder.fit: no descriptors in any training image")
        dims = {s.shape[1] for s in nonempty}
        if len(dims) != 1:
            raise ValueError(f"VladEncoder.fit: descriptor widths differ across images: {sorted(dims)}")
        data = np.concatenate(nonempty, axis=0)
        if data.shape[0] < self.n_clusters:
            raise ValueError(
                f"VladEncoder.fit: {data.shape[0]} training descriptors < n_clusters={self.n_clusters}; "
                "use more training images, a lower surf.hessian_threshold or fewer clusters"
            )
        rng = np.random.default_rng(self.random_state)
        if self.max_training_descriptors and data.shape[0] > self.max_training_descriptors:
            idx = np.sort(rng.choice(data.shape[0], self.max_training_descriptors, replace=False))
            data = data[idx]
        km = KMeans(
            n_clusters=self.n_clusters,
            n_init=self.n_init,
            max_iter=self.max_iter,
            random_state=self.random_state,
        ).fit(data)
        self.cluster_centers_ = km.cluster_centers_.astype(np.float32)
        self.descriptor_dim_ = int(data.shape[1])
        self.n_training_descriptors_ = int(data.shape[0])
        self.inertia_ = float(km.inertia_)
        logger.info(
            "VLAD vocabulary: k=%d on %d descriptors from %d images (inertia %.4g)",
            self.n_clusters, data.shape[0], len(nonempty), km.inertia_,
        )
        return self

    @property
    def dim(self) -> int:
        """Output width k x d."""
        check_is_fitted(self, "cluster_centers_")
        return int(self.cluster_centers_.size)

    def encode(self, descriptors: np.ndarray) -> np.ndarray:
        """One image's descriptors [n, d] -> VLAD vector [k*d] float32 (zeros when n = 0)."""
        check_is_fitted(self, "cluster_centers_")
        desc = np.asarray(descriptors, np.float32).reshape(-1, self.descriptor_dim_)
        return normalise_vlad(vlad_residuals(desc, self.cluster_centers_)).astype(np.float32)

    def transform(self, X: Sequence[np.ndarray]) -> np.ndarray:
        check_is_fitted(self, "cluster_centers_")
        out = np.zeros((len(X), self.dim), np.float32)
        for i, desc in enumerate(X):
            out[i] = self.encode(desc)
        return out

    def save(self, directory: str) -> None:
        check_is_fitted(self, "cluster_centers_")
        os.makedirs(directory, exist_ok=True)
        save_npy(os.path.join(directory, CENTERS_FILE), self.cluster_centers_)
        save_json(
            os.path.join(directory, META_FILE),
            {
                "format": _FORMAT,
                "params": self.get_params(),
                "descriptor_dim": self.descriptor_dim_,
                "n_training_descriptors": self.n_training_descriptors_,
                "inertia": self.inertia_,
            },
        )

    @classmethod
    def load(cls, directory: str) -> "VladEncoder":
        meta = load_format_json(os.path.join(directory, META_FILE), _FORMAT, "VLAD encoder")
        enc = cls(**meta["params"])
        centers = load_npy(os.path.join(directory, CENTERS_FILE)).astype(np.float32)
        if centers.shape != (enc.n_clusters, meta["descriptor_dim"]):
            raise ValueError(f"{directory}: centres of shape {centers.shape} do not match {meta}")
        enc.cluster_centers_ = centers
        enc.descriptor_dim_ = int(meta["descriptor_dim"])
        enc.n_training_descriptors_ = int(meta["n_training_descriptors"])
        enc.inertia_ = float(meta["inertia"])
        return enc
