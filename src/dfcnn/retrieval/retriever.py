"""Python API of the retrieval module: a fitted describer in front of a search engine.

    retriever = Retriever.from_index("outputs/index")
    hits = retriever.search("photo.jpg", top_k=10, box=[x0, y0, x1, y1])   # [{"rank", "path", "score"}]
    found = retriever.search_objects("photo.jpg", top_k=10)   # {"results": merged, "objects": [{"box", "results"}]}

With ``retrieval.verify.enabled`` the shortlist is re-ranked by geometric verification (hits of
verified candidates carry ``"inliers"``); with ``retrieval.multi_object`` the photo's product
regions are searched too and ``results`` is the merged ranking (issue 9).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from dfcnn.config.retrieval import RetrievalConfig
from dfcnn.data.decode import DEFAULT_MAX_PIXELS, load_image
from dfcnn.data.records import ImageRecord
from dfcnn.methods import describer_kind, load_describer
from dfcnn.retrieval import store
from dfcnn.retrieval.engine import SearchEngine, SettingsMismatchError
from dfcnn.retrieval.local_store import LOCAL_DIR, LocalFeatureStore, extractor_for

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
                 manifest: dict | None = None, local: LocalFeatureStore | None = None):
        if len(records) != engine.ntotal:
            raise ValueError(f"{len(records)} records for {engine.ntotal} indexed vectors")
        if local is not None and len(local) != engine.ntotal:
            raise ValueError(f"local features of {len(local)} images for {engine.ntotal} indexed vectors")
        self.describer = describer
        self.engine = engine
        self.records = list(records)
        self.method = method
        self.manifest = manifest or {}
        self.local = local
        self._verifier = None
        self._photo = None
        self._last = None  # (image, top_k, result) of the last photo search, for object_search

    # -- building --------------------------------------------------------------------------------
    @classmethod
    def build(cls, describer, fit_records: Sequence[ImageRecord], records: Sequence[ImageRecord],
              settings: RetrievalConfig, method: str, skip_log=None) -> Retriever:
        """Fit the describer on ``fit_records``, describe ``records`` (bad images skipped), index them."""
        skip_log = OnceSkipLog(skip_log) if skip_log is not None else None
        describer.fit(fit_records, skip_log=skip_log)
        vectors, kept = describer.transform(records, skip_log=skip_log)
        if not kept:
            raise ValueError("no image could be described: nothing to index (see skipped.jsonl)")
        _check_dim(describer, vectors)
        retriever = cls(describer, SearchEngine.build(vectors, settings), kept, method)
        if settings.verify.local_features or settings.verify.enabled:
            words = int(settings.verify.visual_words)  # the word shortlist's inverted file (seeded: reproducible)
            retriever.local = retriever._extract_local(kept, skip_log).with_words(words, seed=0)
        return retriever

    def _extract_local(self, records: Sequence[ImageRecord], skip_log=None) -> LocalFeatureStore:
        """Database local features for geometric verification (decoded again, at verify.max_side)."""
        from dfcnn.data.decode import ImageDecodeError

        max_pixels = self._max_pixels()

        def images():
            for r in records:
                try:
                    yield load_image(r.path, max_pixels)
                except ImageDecodeError as err:  # described a moment ago, so rare: no key-points for it
                    log.warning("no local features for %s: %s", r.path, err.reason)
                    yield None

        return LocalFeatureStore.extract(images(), extractor_for(self.engine.settings.verify), total=len(records))

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
        settings = self.engine.settings
        if self.local is not None:
            self.local = self.local.concat(self._extract_local(kept, skip_log))
        self.engine = SearchEngine.build(descriptors, settings)
        self.records.extend(kept)
        self._verifier = self._photo = self._last = None
        return len(kept)

    def save(self, index_dir: str | os.PathLike, config_yaml: str = "") -> Path:
        return store.write_index_dir(index_dir, describer=self.describer, describer_kind=describer_kind(self.describer),
                                     engine=self.engine, records=self.records, method=self.method,
                                     config_yaml=config_yaml, created=self.manifest.get("created"),
                                     local_features=self.local)

    # -- loading ---------------------------------------------------------------------------------
    @classmethod
    def from_index(cls, index_dir: str | os.PathLike, overrides: dict | None = None, verify: bool = True,
                   mmap: bool = False) -> Retriever:
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
        local = None
        if settings.verify.local_features or settings.verify.enabled:
            try:
                local = LocalFeatureStore.load(os.path.join(index_dir, LOCAL_DIR), mmap=True)
            except (OSError, KeyError, ValueError) as exc:
                raise store.IndexDirError(f"index_dir {str(index_dir)!r}: its local features cannot be read ({exc}); "
                                          "rebuild the index") from exc
            if len(local) != engine.ntotal:
                raise store.IndexDirError(f"index_dir {str(index_dir)!r}: local features of {len(local)} images, "
                                          f"{engine.ntotal} indexed")
        return cls(describer, engine, records, manifest["method"], manifest, local=local)

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
        """``[{"rank": 1, "path": ..., "score": ...}, ...]`` for one query image or crop (the merged
        ranking when multi-object search is on; verified hits add ``"inliers"``)."""
        top_k = clamp_top_k(top_k, self.ntotal)
        if self.photo_mode:
            return self._photo_search(image_or_path, top_k, box)["results"]
        return self.search_vectors(self.describe_query(image_or_path, box)[None, :], top_k)[0]

    # -- photographed products (issue 9) ---------------------------------------------------------
    @property
    def photo_mode(self) -> bool:
        """True when verification or multi-object search is on (the search needs the image itself)."""
        s = self.engine.settings
        return bool(s.verify.enabled or s.multi_object)

    def verifier(self):
        """The geometric verifier under the current settings (needs local features in the index)."""
        from dfcnn.retrieval.verify import Verifier

        cfg = self.engine.settings.verify
        if self.local is None:
            raise SettingsMismatchError("retrieval.verify.enabled=true needs database local features, and this index "
                                        "has none: rebuild it with dfcnn-index retrieval.verify.local_features=true")
        if self._verifier is None or self._verifier.cfg != cfg:
            counts = self._verifier.counts if self._verifier is not None else None
            self._verifier = Verifier(cfg, self.local)
            if counts is not None:
                self._verifier.counts = counts
        return self._verifier

    def _photo_search(self, image_or_path, top_k: int, box=None) -> dict:
        """One photo search; the last one is remembered (same image object or path, top_k, box and
        settings), so ``timed_search`` then ``object_search`` of one photo do the work once."""
        from dfcnn.retrieval.objects import PhotoSearch

        if box is not None and len(box) != 4:
            raise ValueError(f"box must be [x0, y0, x1, y1], got {list(box)}")
        is_image = isinstance(image_or_path, Image.Image)
        who = id(image_or_path) if is_image else (os.fspath(image_or_path), _mtime(image_or_path))
        key = (who, int(top_k), None if box is None else tuple(float(v) for v in box), self.engine.settings)
        if self._last is not None and self._last[0] == key and (not is_image or self._last[2] is image_or_path):
            return self._last[1]
        image = image_or_path if is_image else load_image(image_or_path, self._max_pixels())
        if self._photo is None:
            self._photo = PhotoSearch(self)
        out = self._photo.search(image, top_k, box)
        self._last = (key, out, image_or_path)  # holds the image, so its id stays unique while cached
        return out

    def search_objects(self, image_or_path, top_k: int = 10, box: Sequence[float] | None = None) -> dict:
        """``{"results": merged ranking, "objects": [{"box": [x0, y0, x1, y1], "results": [...]}, ...]}``
        (SPEC §7); ``objects`` is empty unless multi-object search is on (or verification found products)."""
        top_k = clamp_top_k(top_k, self.ntotal)
        if not self.photo_mode:
            return {"results": self.search(image_or_path, top_k, box), "objects": []}
        out = self._photo_search(image_or_path, top_k, box)
        return {"results": out["results"], "objects": out["objects"]}

    def object_search(self, image, top_k: int) -> list[dict]:
        """Per-object rankings of a photo (the serve app's ``ObjectSearch`` hook); reuses the work of a
        ``search``/``timed_search`` of the same image object just before."""
        return self.search_objects(image, top_k)["objects"]

    @property
    def counts(self) -> dict[str, int]:
        """Fallback and outcome counters of verification and multi-object search so far."""
        out: dict[str, int] = {}
        if self._verifier is not None:
            out.update({f"verify/{k}": int(v) for k, v in self._verifier.counts.items()})
        if self._photo is not None:
            out.update({f"objects/{k}": int(v) for k, v in self._photo.counts.items()})
        return out

    def hits(self, scores: np.ndarray, ids: np.ndarray, verifications: dict | None = None) -> list[dict]:
        """Result dicts for ranked (scores, ids); verified candidates also get ``"inliers"``."""
        hits = []
        for s, i in zip(scores, ids):
            if i < 0:
                continue
            hit = {"rank": len(hits) + 1, "path": self.records[int(i)].path, "score": round(float(s), 6)}
            if verifications and int(i) in verifications:
                hit["inliers"] = int(verifications[int(i)].inliers)
            hits.append(hit)
        return hits

    _hits = hits

    def timed_search(self, image_or_path, top_k: int, box=None) -> tuple[list[dict], float, float]:
        """Hits plus (describe ms, search ms) for one query."""
        if self.photo_mode:
            top_k = clamp_top_k(top_k, self.ntotal)
            out = self._photo_search(image_or_path, top_k, box)
            return out["results"], out["describe_ms"], out["search_ms"]
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


def _mtime(path) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


def _check_dim(describer, vectors: np.ndarray) -> None:
    dim = getattr(describer, "dim", None)
    if isinstance(dim, int) and vectors.shape[1] != dim:
        raise ValueError(f"describer says dimension {dim} but produced {vectors.shape[1]}")
