"""Feedback to the library (the paper's Fig. 6): α-query-expansion and database-side augmentation.

Both follow Radenović et al. (2018): a vector is replaced by the L2-normalised sum of itself and
its top neighbours, each neighbour weighted by max(cos, 0)^α.
"""

from __future__ import annotations

import numpy as np

CHUNK = 2_048


def l2_normalise(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), eps)


def weighted_neighbour_sum(scores: np.ndarray, ids: np.ndarray, vectors: np.ndarray, alpha: float) -> np.ndarray:
    """Σ_k max(s_k, 0)^α · vectors[ids_k] per row; missing ids (−1) count zero."""
    weights = np.where(ids >= 0, np.maximum(scores, 0.0) ** alpha, 0.0).astype(np.float32)
    gathered = np.asarray(vectors[np.where(ids >= 0, ids, 0).ravel()], dtype=np.float32)
    gathered = gathered.reshape(*ids.shape, -1)
    return np.einsum("qk,qkd->qd", weights, gathered)


def alpha_query_expansion(q: np.ndarray, scores: np.ndarray, ids: np.ndarray, vectors: np.ndarray,
                          alpha: float) -> np.ndarray:
    """αQE: q' = L2(q + Σ_{k ≤ n} max(cos(q, d_k), 0)^α d_k) over the query's top-n results."""
    q = np.atleast_2d(np.asarray(q, dtype=np.float32))
    return l2_normalise(q + weighted_neighbour_sum(scores, ids, vectors, alpha))


def database_augmentation(index, vectors: np.ndarray, k: int, alpha: float) -> np.ndarray:
    """DBA: each database vector becomes L2(Σ_{j ∈ top-k(i), i included} max(cos, 0)^α x_j).

    ``index`` holds ``vectors``; the item itself comes back first with weight 1 (cos = 1).
    """
    k = min(int(k), index.ntotal)
    out = np.empty((len(vectors), vectors.shape[1]), dtype=np.float32)
    for start in range(0, len(vectors), CHUNK):
        block = np.asarray(vectors[start:start + CHUNK], dtype=np.float32)
        scores, ids = index.search(block, k)
        out[start:start + len(block)] = l2_normalise(weighted_neighbour_sum(scores, ids, vectors, alpha))
    return out
