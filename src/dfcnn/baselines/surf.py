"""The ``surf`` method (SPEC §3): SURF descriptors of an image encoded to one VLAD vector.

Implements the describer protocol shared with ``dfcnn.features.describer.CnnDescriber``:
``fit`` learns the VLAD vocabulary on training images only, ``transform`` describes records
(skipping and logging undecodable files), ``describe_image`` describes one query image.
An image without any key-point (flat colour, tiny) gets an all-zero vector - cosine 0 to every
other image - and is counted in ``info["surf_images_without_keypoints"]``.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Sequence

import numpy as np
from PIL import Image
from tqdm import tqdm

from dfcnn.persist import atomic_write_json as save_json, load_format_json
from dfcnn.baselines.surf_features import SurfExtractor
from dfcnn.baselines.vlad import VladEncoder
from dfcnn.config.baselines import SurfConfig
from dfcnn.data.decode import ImageDecodeError, load_image
from dfcnn.data.records import ImageRecord

logger = logging.getLogger(__name__)

_FORMAT = "dfcnn.surf_vlad/1"
META_FILE = "surf_describer.json"

CAVEAT_MAHOTAS = (
    "mahotas SURF (dlib port) ran: rotation-robust but weak across scale and much less "
    "distinctive than OpenCV's non-free SURF; it may flatter DF-CNN (SPEC §3)"
)


class SurfVladDescriber:
    """SURF key-points (hessian threshold 400, capped, downscaled images) -> VLAD (k=64) -> L2."""

    def __init__(
        self,
        implementation: str = "auto",
        hessian_threshold: float = 400.0,
        max_keypoints: int = 1000,
        max_side: int = 512,
        n_clusters: int = 64,
        max_training_descriptors: int = 100_000,
        kmeans_n_init: int = 1,
        kmeans_max_iter: int = 100,
        n_jobs: int = 1,
        seed: int = 0,
        max_pixels: int = 89_478_485,
    ):
        self.extractor = SurfExtractor(implementation, hessian_threshold, max_keypoints, max_side)
        self.vlad = VladEncoder(n_clusters, max_training_descriptors, kmeans_n_init, kmeans_max_iter, seed)
        self.n_jobs = max(1, int(n_jobs))
        self.seed = int(seed)
        self.max_pixels = int(max_pixels)
        self._stats_lock = threading.Lock()
        self._n_described = 0
        self._n_keypoints = 0
        self._n_without_keypoints = 0

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_config(cls, cfg) -> "SurfVladDescriber":
        """``cfg`` is the whole run config; reads ``cfg.surf`` (SurfConfig), ``seed``, ``data.max_pixels``."""
        surf = cfg.get("surf") if hasattr(cfg, "get") else getattr(cfg, "surf", None)
        params = asdict(SurfConfig())
        if surf is not None:
            params.update({k: surf[k] for k in params if k in surf})
        data = cfg.get("data") if hasattr(cfg, "get") else getattr(cfg, "data", None)
        max_pixels = data.get("max_pixels", 89_478_485) if data is not None else 89_478_485
        seed = cfg.get("seed", 0) if hasattr(cfg, "get") else getattr(cfg, "seed", 0)
        return cls(**params, seed=int(seed), max_pixels=int(max_pixels))

    def get_params(self) -> dict:
        return {
            "implementation": self.extractor.implementation,
            "hessian_threshold": self.extractor.hessian_threshold,
            "max_keypoints": self.extractor.max_keypoints,
            "max_side": self.extractor.max_side,
            "n_clusters": self.vlad.n_clusters,
            "max_training_descriptors": self.vlad.max_training_descriptors,
            "kmeans_n_init": self.vlad.n_init,
            "kmeans_max_iter": self.vlad.max_iter,
            "n_jobs": self.n_jobs,
            "seed": self.seed,
            "max_pixels": self.max_pixels,
        }

    @property
    def info(self) -> dict:
        out = {"method": "surf", **self.extractor.info, "vlad_k": self.vlad.n_clusters}
        if hasattr(self.vlad, "cluster_centers_"):
            out["dim"] = self.vlad.dim
            out["vlad_training_descriptors"] = self.vlad.n_training_descriptors_
        if self._n_described:
            out["surf_mean_keypoints"] = self._n_keypoints / self._n_described
        out["surf_images_without_keypoints"] = self._n_without_keypoints
        if self.extractor.implementation == "mahotas":
            out["caveat"] = CAVEAT_MAHOTAS
        return out

    # -- describer protocol ---------------------------------------------------------------
    def fit(self, records: Sequence[ImageRecord], skip_log=None) -> "SurfVladDescriber":
        """Learn the VLAD vocabulary from the training records' SURF descriptors."""
        descriptors, kept = self._describe_records(records, skip_log, "SURF (vocabulary)")
        if not kept:
            raise ValueError("SurfVladDescriber.fit: none of the training images could be read")
        self.vlad.fit(descriptors)
        return self

    def transform(self, records: Sequence[ImageRecord], skip_log=None) -> tuple[np.ndarray, list[ImageRecord]]:
        """VLAD vectors [n_kept, k*64] float32 of the readable records, in order."""
        self._check_fitted()
        descriptors, kept = self._describe_records(records, skip_log, "SURF+VLAD")
        if not kept:
            return np.zeros((0, self.vlad.dim), np.float32), []
        return self.vlad.transform(descriptors), kept

    def describe_image(self, image: Image.Image) -> np.ndarray:
        """One query image or crop -> VLAD vector [k*64]."""
        self._check_fitted()
        return self.vlad.encode(self._descriptors_of(image))

    # -- persistence ----------------------------------------------------------------------
    def save(self, directory: str) -> None:
        self._check_fitted()
        os.makedirs(directory, exist_ok=True)
        self.vlad.save(directory)
        save_json(os.path.join(directory, META_FILE), {"format": _FORMAT, "params": self.get_params(),
                                                       "info": self.info})

    @classmethod
    def load(cls, directory: str) -> "SurfVladDescriber":
        """Rebuild with the SURF implementation the vocabulary was learned with (or fail clearly)."""
        meta = load_format_json(os.path.join(directory, META_FILE), _FORMAT, "SURF+VLAD describer")
        obj = cls(**meta["params"])
        obj.vlad = VladEncoder.load(directory)
        return obj

    # -- internals ------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self.vlad, "cluster_centers_"):
            raise RuntimeError("SurfVladDescriber is not fitted: call fit() on training records or load()")

    def _descriptors_of(self, image) -> np.ndarray:
        kp = self.extractor.extract(image)
        with self._stats_lock:
            self._n_described += 1
            self._n_keypoints += len(kp)
            self._n_without_keypoints += int(len(kp) == 0)
        return kp.descriptors

    def _load_and_describe(self, record: ImageRecord):
        try:
            image = load_image(record.path, max_pixels=self.max_pixels)
        except ImageDecodeError as exc:
            return exc
        return self._descriptors_of(image)

    def _describe_records(self, records, skip_log, desc):
        records = list(records)
        descriptors: list[np.ndarray] = []
        kept: list[ImageRecord] = []
        without_before = self._n_without_keypoints
        if self.n_jobs > 1:
            pool = ThreadPoolExecutor(self.n_jobs)
            results = pool.map(self._load_and_describe, records)
        else:
            pool, results = None, map(self._load_and_describe, records)
        try:
            for record, result in tqdm(zip(records, results), total=len(records), desc=desc,
                                       leave=False, disable=len(records) < 2):
                if isinstance(result, ImageDecodeError):
                    if skip_log is not None:
                        skip_log.add(result.path, result.reason, result.detail)
                    else:
                        logger.warning("skipped %s: %s", result.path, result.reason)
                    continue
                descriptors.append(result)
                kept.append(record)
        finally:
            if pool is not None:
                pool.shutdown()
        n_empty = self._n_without_keypoints - without_before
        if n_empty:
            logger.warning("%d of %d images had no SURF key-points (zero VLAD vectors)", n_empty, len(kept))
        return descriptors, kept
