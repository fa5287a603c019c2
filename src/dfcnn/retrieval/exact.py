"""Exact inner-product index: a float32/float16 matrix, blocked matrix products, partial sort.

Follows FAISS's small contract (``add``, ``search(q, k) -> (scores, ids)``, ``ntotal``) so a
FAISS backend can replace it without callers knowing. Database blocks are scored in a thread
pool (NumPy's matrix product and ``argpartition`` release the GIL), each block keeps only its
own top-k, and the block winners are merged: memory stays bounded by one score block per thread.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from dfcnn.persist import atomic_save_npy, atomic_write_text

BLOCK_ROWS = 65_536  # database rows per matrix product (float32 storage)
FP16_BLOCK_ROWS = 8_192  # float16 blocks are converted to float32 before the product: keep them cache-sized
SCORE_BUDGET = 1 << 24  # floats per temporary score block (64 MiB): caps rows x queries
QUERY_CHUNK = 4_096  # queries scored together


def resolve_threads(threads: int) -> int:
    """``threads <= 0`` means every core this process may use."""
    if threads and threads > 0:
        return int(threads)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def topk_rows(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` columns of every row by a partial sort (unordered)."""
    if scores.shape[1] <= k:
        return scores, ids
    keep = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return np.take_along_axis(scores, keep, axis=1), np.take_along_axis(ids, keep, axis=1)


def sort_rows(scores: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order each row best first; ties broken by the smaller id so results are deterministic."""
    order = np.lexsort((ids, -scores), axis=-1)
    return np.take_along_axis(scores, order, axis=1), np.take_along_axis(ids, order, axis=1)


class ExactIndex:
    """Brute-force inner-product search over an in-memory float32 or float16 matrix."""

    backend = "exact"

    def __init__(self, dim: int, dtype: str = "float32", threads: int = 0):
        if dtype not in ("float32", "float16"):
            raise ValueError(f"dtype must be float32 or float16, got {dtype!r}")
        self.dim = int(dim)
        self.dtype = np.dtype(dtype)
        self.threads = int(threads)
        self._vectors = np.zeros((0, self.dim), dtype=self.dtype)

    @property
    def ntotal(self) -> int:
        return self._vectors.shape[0]

    @property
    def vectors(self) -> np.ndarray:
        return self._vectors

    def add(self, x: np.ndarray) -> None:
        x = check_vectors(x, self.dim)
        if self.ntotal == 0:
            self._vectors = np.ascontiguousarray(x, dtype=self.dtype)
        else:
            self._vectors = np.concatenate([self._vectors, x.astype(self.dtype)], axis=0)

    def search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` inner products for each query row, best first: (scores, ids), both [nq, k]."""
        q = check_query(q, k, self.dim, self.ntotal)
        k = min(int(k), self.ntotal)
        out_scores, out_ids = [], []
        for start in range(0, q.shape[0], QUERY_CHUNK):
            s, i = self._search_chunk(q[start:start + QUERY_CHUNK], k)
            out_scores.append(s)
            out_ids.append(i)
        return np.concatenate(out_scores), np.concatenate(out_ids)

    def _search_chunk(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        limit = BLOCK_ROWS if self.dtype == np.float32 else min(BLOCK_ROWS, FP16_BLOCK_ROWS)
        rows = max(1, min(limit, SCORE_BUDGET // max(1, q.shape[0])))
        blocks = [(s, min(s + rows, self.ntotal)) for s in range(0, self.ntotal, rows)]
        threads = min(resolve_threads(self.threads), len(blocks))

        def score(block: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
            lo, hi = block
            scores = q @ self._vectors[lo:hi].astype(np.float32, copy=False).T
            ids = np.broadcast_to(np.arange(lo, hi, dtype=np.int64), scores.shape)
            return topk_rows(scores, ids, k)

        if threads > 1:
            with ThreadPoolExecutor(threads) as pool:
                parts = list(pool.map(score, blocks))
        else:
            parts = [score(b) for b in blocks]
        scores = np.concatenate([p[0] for p in parts], axis=1)
        ids = np.concatenate([p[1] for p in parts], axis=1)
        return sort_rows(*topk_rows(scores, ids, k))

    def save(self, directory: str) -> None:
        """``vectors.npy`` + ``index.json`` (plain NumPy and JSON: no pickle)."""
        os.makedirs(directory, exist_ok=True)
        atomic_save_npy(os.path.join(directory, "vectors.npy"), self._vectors)
        atomic_write_text(os.path.join(directory, "index.json"),
                          json.dumps({"backend": self.backend, "dim": self.dim, "dtype": self.dtype.name}))

    @classmethod
    def load(cls, directory: str, threads: int = 0, mmap: bool = False) -> "ExactIndex":
        with open(os.path.join(directory, "index.json"), encoding="utf-8") as fh:
            meta = json.load(fh)
        index = cls(meta["dim"], meta["dtype"], threads=threads)
        vectors = np.load(os.path.join(directory, "vectors.npy"), allow_pickle=False,
                          mmap_mode="r" if mmap else None)
        if vectors.ndim != 2 or vectors.shape[1] != index.dim or vectors.dtype != index.dtype:
            raise ValueError(f"{directory}: vectors.npy has shape {vectors.shape} {vectors.dtype}, "
                             f"index.json says dim {index.dim} {index.dtype}")
        index._vectors = vectors
        return index


def check_vectors(x: np.ndarray, dim: int) -> np.ndarray:
    """Rows of width ``dim`` (a single vector becomes one row), all finite, or a ValueError saying why."""
    x = np.asarray(x)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != dim:
        raise ValueError(f"expected vectors of dimension {dim}, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("vectors contain NaN or inf")
    return x


def check_query(q: np.ndarray, k: int, dim: int, ntotal: int) -> np.ndarray:
    """The query rows as contiguous float32, after the checks every index backend makes."""
    q = np.ascontiguousarray(check_vectors(q, dim), dtype=np.float32)
    if ntotal == 0:
        raise ValueError("the index is empty")
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    return q
