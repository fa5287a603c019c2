"""Python API of the retrieval module: a fitted describer in front of a search engine.

    retriever = Retriever.from_index("outputs/index")
    hits = retriever.search("photo.jpg", top_k=10, box=[x0, y0, x1, y1])   # [{"rank", "path", "score"}]
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from dfcnn.config.retrieval import RetrievalConfig
from dfcnn.data.decode import DEFAULT_MAX_PIXELS, load_image
from dfcnn.data.records import ImageRecord
from dfcnn.methods import describer_kind, load_describer
from dfcnn.retrieval import store
from dfcnn.retrieval.engine import SearchEngine, SettingsMismatchError

log = logging.getLogger(__name__)


def clamp_top_k(top_k: int, ntotal: int) -> int:
    """top_k ≤ 0 is an error; above the index size it is clamped with a warning."""
    if int(top_k) <= 0:
        raise ValueError(f"top_k must be a positive number of results, got {top_k}")
    if int(top_k) > ntotal:
        log.warning("top_k=%d is larger than the index (%d images): returning all %d", top_k, ntotal, ntotal)
        return ntotal
    return int(top_k)


class Retriever:
    """Describer + engine + the indexed records (id order)."""

    def __init__(self, describer, engine: SearchEngine, records: Sequence[ImageRecord], method: str,
                 manifest: dict | None = None):
        if len(records) != engine.ntotal:
            raise ValueError(f"{len(records)} records for {engine.ntotal} indexed vectors")
        self.describer = describer
        self.engine = engine
        self.records = list(records)
        self.method = method
        self.manifest = manifest or {}

    # -- building --------------------------------------------------------------------------------
    @classmethod
    def build(cls, describer, fit_records: Sequence[ImageRecord], records: Sequence[ImageRecord],
              settings: RetrievalConfig, method: str, skip_log=None) -> "Retriever":
        """Fit the describer on ``fit_records``, describe ``records`` (bad images skipped), index them."""
        skip_log = OnceSkipLog(skip_log) if skip_log is not None else None
        describer.fit(fit_records, skip_log=skip_log)
        vectors, kept = describer.transform(records, skip_log=skip_log)
        if not kept:
            raise ValueError("no image could be described: nothing to index (see skipped.jsonl)")
        _check_dim(describer, vectors)
        return cls(describer, SearchEngine.build(vectors, settings), kept, method)

    def add(self, records: Sequence[ImageRecord], skip_log=None) -> int:
        """Describe and add the records whose path is not indexed yet; returns how many were added.

        The fitted describer is reused as is; DBA vectors, the search structure and the Eq. 14
        neighbour graph are rebuilt over the whole collection (neighbourhoods change).
        """
        known = {os.path.abspath(r.path) for r in self.records}
        new = [r for r in records if os.path.abspath(r.path) not in known]
        if not new:
            return 0
        vectors, kept = self.describer.transform(new, skip_log=skip_log)
        if not kept:
            return 0
        if vectors.shape[1] != self.engine.dim:
            raise ValueError(f"new descriptors have dimension {vectors.shape[1]}, the index {self.engine.dim}")
        descriptors = np.concatenate([np.asarray(self.engine.descriptors, np.float32), vectors])
        self.engine = SearchEngine.build(descriptors, self.engine.settings)
        self.records.extend(kept)
        return len(kept)

    def save(self, index_dir: str | os.PathLike, config_yaml: str = "") -> Path:
        return store.write_index_dir(index_dir, describer=self.describer, describer_kind=describer_kind(self.describer),
                                     engine=self.engine, records=self.records, method=self.method,
                                     config_yaml=config_yaml, created=self.manifest.get("created"))

    # -- loading ---------------------------------------------------------------------------------
    @classmethod
    def from_index(cls, index_dir: str | os.PathLike, overrides: dict | None = None, verify: bool = True,
                   mmap: bool = False) -> "Retriever":
        """Open an index written by dfcnn-index. ``overrides``: search-time retrieval settings
        (e.g. ``{"fuzzy": False}``); index-time ones must equal the stored values or it refuses."""
        manifest = store.read_manifest(index_dir, verify=verify)
        settings = store.stored_settings(manifest)
        try:
            engine = SearchEngine.load(str(index_dir), settings, mmap=mmap).with_settings(overrides)
            records = store.read_records(index_dir)
            describer = load_describer(manifest["describer_kind"], os.path.join(index_dir, store.DESCRIBER_DIR))
        except (OSError, KeyError, ValueError) as exc:
            if isinstance(exc, (store.IndexDirError, SettingsMismatchError)):
                raise
            raise store.IndexDirError(f"index_dir {str(index_dir)!r} cannot be read: {exc}") from exc
        if engine.ntotal != manifest["n_items"] or len(records) != engine.ntotal:
            raise store.IndexDirError(f"index_dir {str(index_dir)!r} is inconsistent: manifest says "
                                      f"{manifest['n_items']} items, {engine.ntotal} vectors, {len(records)} records")
        if engine.dim != manifest["dim"]:
            raise store.IndexDirError(f"index_dir {str(index_dir)!r}: descriptors have dimension {engine.dim}, "
                                      f"manifest says {manifest['dim']}")
        return cls(describer, engine, records, manifest["method"], manifest)

    # -- searching -------------------------------------------------------------------------------
    @property
    def ntotal(self) -> int:
        return self.engine.ntotal

    def _max_pixels(self) -> int:
        params = getattr(self.describer, "params", None) or getattr(getattr(self.describer, "cnn", None), "params", None)
        return int(getattr(params, "max_pixels", DEFAULT_MAX_PIXELS) or DEFAULT_MAX_PIXELS)

    def describe_query(self, image_or_path, box: Sequence[float] | None = None) -> np.ndarray:
        """Descriptor of a query image (path or PIL image), cropped to ``box`` = (x0, y0, x1, y1) if given.

        Raises ``ImageDecodeError`` for a file that is not a usable image.
        """
        image = image_or_path if isinstance(image_or_path, Image.Image) else load_image(image_or_path, self._max_pixels())
        if box is not None:
            from dfcnn.data.select import crop_box

            if len(box) != 4:
                raise ValueError(f"box must be [x0, y0, x1, y1], got {list(box)}")
            image = crop_box(image, tuple(float(v) for v in box))
        vector = np.asarray(self.describer.describe_image(image), dtype=np.float32)
        if vector.shape != (self.engine.dim,):
            raise ValueError(f"query descriptor has shape {vector.shape}, the index holds dimension {self.engine.dim}")
        return vector

    def search_vectors(self, q: np.ndarray, top_k: int) -> list[list[dict]]:
        """Ranked hits for each descriptor row of ``q``."""
        top_k = clamp_top_k(top_k, self.ntotal)
        scores, ids = self.engine.search(q, top_k)
        return [self._hits(s, i) for s, i in zip(scores, ids)]

    def search(self, image_or_path, top_k: int = 10, box: Sequence[float] | None = None) -> list[dict]:
        """``[{"rank": 1, "path": ..., "score": ...}, ...]`` for one query image or crop."""
        top_k = clamp_top_k(top_k, self.ntotal)
        return self.search_vectors(self.describe_query(image_or_path, box)[None, :], top_k)[0]

    def _hits(self, scores: np.ndarray, ids: np.ndarray) -> list[dict]:
        hits = []
        for s, i in zip(scores, ids):
            if i < 0:
                continue
            hits.append({"rank": len(hits) + 1, "path": self.records[int(i)].path, "score": round(float(s), 6)})
        return hits

    def timed_search(self, image_or_path, top_k: int, box=None) -> tuple[list[dict], float, float]:
        """Hits plus (describe ms, search ms) for one query."""
        started = time.perf_counter()
        q = self.describe_query(image_or_path, box)
        described = time.perf_counter()
        hits = self.search_vectors(q[None, :], top_k)[0]
        return hits, 1000 * (described - started), 1000 * (time.perf_counter() - described)


class OnceSkipLog:
    """Forwards each (path, reason) to the run's SkipLog once, though fit and transform both meet the file."""

    def __init__(self, skip_log):
        self.inner = skip_log
        self._seen: set[tuple[str, str]] = set()

    def add(self, path, reason: str, detail: str = "") -> None:
        key = (str(path), str(reason))
        if key not in self._seen:
            self._seen.add(key)
            self.inner.add(path, reason, detail)

    def add_error(self, error) -> None:
        self.add(error.path, error.reason, getattr(error, "detail", ""))

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _check_dim(describer, vectors: np.ndarray) -> None:
    dim = getattr(describer, "dim", None)
    if isinstance(dim, int) and vectors.shape[1] != dim:
        raise ValueError(f"describer says dimension {dim} but produced {vectors.shape[1]}")
