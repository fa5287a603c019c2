"""The index protocol (FAISS's small contract) and the factory that picks a backend."""

from __future__ import annotations

import json
import os
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Index(Protocol):
    """What the search engine needs from a backend: exact and FAISS both implement it."""

    dim: int
    backend: str

    @property
    def ntotal(self) -> int: ...

    def add(self, x: np.ndarray) -> None: ...

    def search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...

    def save(self, directory: str) -> None: ...


def make_index(dim: int, backend: str = "exact", *, dtype: str = "float32", factory: str = "Flat",
               threads: int = 0, params: str = "") -> Index:
    """A fresh, empty index of the configured backend (``retrieval.backend``)."""
    if backend == "exact":
        from dfcnn.retrieval.exact import ExactIndex

        return ExactIndex(dim, dtype=dtype, threads=threads)
    if backend == "faiss":
        from dfcnn.retrieval.faiss_index import FaissIndex

        return FaissIndex(dim, factory=factory, threads=threads, params=params)
    raise ValueError(f"retrieval.backend={backend!r} is unknown: choose exact or faiss")


def load_index(directory: str, *, threads: int = 0, params: str = "") -> Index:
    """Read an index saved by either backend's ``save`` (the backend is named in index.json)."""
    meta_path = os.path.join(directory, "index.json")
    if not os.path.isfile(meta_path):
        raise FileNotFoundError(f"{directory}: no index.json (not a saved index)")
    with open(meta_path, encoding="utf-8") as fh:
        backend = json.load(fh).get("backend")
    if backend == "exact":
        from dfcnn.retrieval.exact import ExactIndex

        return ExactIndex.load(directory, threads=threads)
    if backend == "faiss":
        from dfcnn.retrieval.faiss_index import FaissIndex

        return FaissIndex.load(directory, threads=threads, params=params)
    raise ValueError(f"{meta_path}: unknown backend {backend!r}")
