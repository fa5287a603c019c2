"""FAISS backend (optional extra ``dfcnn[faiss]``): the same contract as ``ExactIndex``.

Built from a FAISS factory string with the inner-product metric (``Flat``, ``IVF256,PQ32``,
``HNSW32`` ...), for catalogues past ~1M images (SPEC §2.5). Saved with FAISS's own binary
format (``faiss.write_index``), which needs no pickle to read.
"""

from __future__ import annotations

import json
import os

import numpy as np

from dfcnn.errors import UnavailableError
from dfcnn.persist import atomic_write_text
from dfcnn.retrieval.exact import check_query, check_vectors, resolve_threads


def import_faiss():
    try:
        import faiss  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - faiss-cpu is installed in the dev venv
        raise UnavailableError("retrieval.backend=faiss needs faiss-cpu: pip install 'dfcnn[faiss]' "
                               "(or use retrieval.backend=exact)") from exc
    return faiss


class FaissIndex:
    backend = "faiss"

    def __init__(self, dim: int, factory: str = "Flat", threads: int = 0, params: str = ""):
        faiss = import_faiss()
        self.dim = int(dim)
        self.factory = str(factory)
        self.threads = int(threads)
        try:
            self.index = faiss.index_factory(self.dim, self.factory, faiss.METRIC_INNER_PRODUCT)
        except RuntimeError as exc:
            raise ValueError(f"retrieval.faiss_factory={self.factory!r} is not a valid FAISS factory string "
                             f"for dimension {self.dim}: {exc}") from exc
        self.set_params(params)

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def set_params(self, params: str) -> None:
        """Search-time knobs such as ``nprobe=16`` or ``efSearch=64``."""
        if params:
            faiss = import_faiss()
            try:
                faiss.ParameterSpace().set_index_parameters(self.index, params)
            except RuntimeError as exc:
                raise ValueError(f"retrieval.faiss_params={params!r} does not apply to {self.factory!r}: {exc}") from exc

    def add(self, x: np.ndarray) -> None:
        x = np.ascontiguousarray(check_vectors(x, self.dim), dtype=np.float32)
        if not self.index.is_trained:
            try:
                self.index.train(x)
            except RuntimeError as exc:
                raise ValueError(f"FAISS index {self.factory!r} could not be trained on {len(x)} vectors "
                                 f"(IVF/PQ need many more vectors than lists/centroids; use a smaller "
                                 f"factory string or retrieval.backend=exact): {exc}") from exc
        self.index.add(x)

    def search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, ids), best first; approximate indexes may return id -1 for missing slots."""
        q = check_query(q, k, self.dim, self.ntotal)
        faiss = import_faiss()
        faiss.omp_set_num_threads(resolve_threads(self.threads))
        scores, ids = self.index.search(q, min(int(k), self.ntotal))
        scores = np.where(ids < 0, -np.inf, scores).astype(np.float32)
        return scores, ids.astype(np.int64)

    def save(self, directory: str) -> None:
        faiss = import_faiss()
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, "faiss.index")
        tmp = path + ".tmp"
        faiss.write_index(self.index, tmp)
        os.replace(tmp, path)
        atomic_write_text(os.path.join(directory, "index.json"),
                          json.dumps({"backend": self.backend, "dim": self.dim, "factory": self.factory}))

    @classmethod
    def load(cls, directory: str, threads: int = 0, params: str = "") -> "FaissIndex":
        faiss = import_faiss()
        with open(os.path.join(directory, "index.json"), encoding="utf-8") as fh:
            meta = json.load(fh)
        obj = cls.__new__(cls)
        obj.dim, obj.factory, obj.threads = int(meta["dim"]), meta["factory"], int(threads)
        obj.index = faiss.read_index(os.path.join(directory, "faiss.index"))
        if obj.index.d != obj.dim:
            raise ValueError(f"{directory}: faiss.index has dimension {obj.index.d}, index.json says {obj.dim}")
        obj.set_params(params)
        return obj

