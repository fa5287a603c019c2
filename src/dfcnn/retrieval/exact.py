"""Exact inner-product index: a float32/float16 matrix, blocked matrix products, partial sort.

Follows FAISS's small contract (``add``, ``search(q, k) -> (scores, ids)``, ``ntotal``) so a
FAISS backend can replace it without callers knowing.
"""

from __future__ import annotations

import numpy as np

BLOCK_ROWS = 65_536  # database rows per matrix product: bounds the temporary score block


class ExactIndex:
    def __init__(self, dim: int, dtype: str = "float32"):
        if dtype not in ("float32", "float16"):
            raise ValueError(f"dtype must be float32 or float16, got {dtype!r}")
        self.dim = int(dim)
        self.dtype = np.dtype(dtype)
        self._vectors = np.zeros((0, self.dim), dtype=self.dtype)

    @property
    def ntotal(self) -> int:
        return self._vectors.shape[0]

    @property
    def vectors(self) -> np.ndarray:
        return self._vectors

    def add(self, x: np.ndarray) -> None:
        x = self._check(x)
        self._vectors = np.concatenate([self._vectors, x.astype(self.dtype)], axis=0)

    def search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` inner products for each query row, best first: (scores, ids), both [nq, k]."""
        q = self._check(q).astype(np.float32)
        if self.ntotal == 0:
            raise ValueError("the index is empty")
        if k <= 0:
            raise ValueError(f"k must be positive, got {k}")
        k = min(k, self.ntotal)
        best_scores = np.full((q.shape[0], 0), -np.inf, dtype=np.float32)
        best_ids = np.zeros((q.shape[0], 0), dtype=np.int64)
        for start in range(0, self.ntotal, BLOCK_ROWS):
            block = self._vectors[start:start + BLOCK_ROWS]
            scores = q @ block.T.astype(np.float32, copy=False)
            ids = np.broadcast_to(np.arange(start, start + block.shape[0]), scores.shape)
            scores = np.concatenate([best_scores, scores], axis=1)
            ids = np.concatenate([best_ids, ids], axis=1)
            keep = np.argpartition(-scores, k - 1, axis=1)[:, :k] if scores.shape[1] > k else \
                np.tile(np.arange(scores.shape[1]), (scores.shape[0], 1))
            best_scores = np.take_along_axis(scores, keep, axis=1)
            best_ids = np.take_along_axis(ids, keep, axis=1)
        order = np.argsort(-best_scores, axis=1, kind="stable")
        return np.take_along_axis(best_scores, order, axis=1), np.take_along_axis(best_ids, order, axis=1)

    def _check(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"expected vectors of dimension {self.dim}, got shape {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("vectors contain NaN or inf")
        return x
