"""Database local features in the index dir: compact, pickle-free, memory-mapped (issue 9).

Layout under ``<index_dir>/local/``::

    local.json        format, detector settings, descriptor dim/dtype, item count, bytes per item
    offsets.npy       int64 [N + 1]: item i owns rows offsets[i]:offsets[i+1]
    keypoints.npy     float16 [T, 2]: x, y in the detector frame (longer side ≤ max_side, so ≤ 0.5 px error)
    descriptors.npy   uint8 [T, D] (SIFT 128, ORB 32, AKAZE 61) or float16 [T, 64] (SURF)
    sizes.npy         uint16 [N, 2]: (w, h) of each image in the detector frame
    words/            (visual_words > 0) vocabulary + inverted file of the key-points (visual_words.py)

Opened with ``mmap_mode="r"``, so a search touches only the rows of its shortlist and a large
index never loads every key-point into memory.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence

import numpy as np
from tqdm.auto import tqdm

from dfcnn.persist import atomic_save_npy, atomic_write_text, load_format_json
from dfcnn.retrieval.verify import (
    SIFT_CONTRAST,
    LocalFeatureExtractor,
    LocalFeatures,
    descriptor_spec,
    match_vectors,
)
from dfcnn.retrieval.visual_words import WORDS_DIR, VisualWords

log = logging.getLogger(__name__)

LOCAL_DIR = "local"
FORMAT = "dfcnn.local_features/1"
FILES = ("offsets.npy", "keypoints.npy", "descriptors.npy", "sizes.npy")


class LocalFeatureStore:
    """Per-image key-points of an index, in id order."""

    def __init__(self, meta: dict, offsets: np.ndarray, keypoints: np.ndarray, descriptors: np.ndarray, sizes: np.ndarray,
                 words: VisualWords | None = None):
        n = len(offsets) - 1
        if n < 0 or len(sizes) != n or int(offsets[-1]) != len(keypoints) or len(descriptors) != len(keypoints):
            raise ValueError(f"local features disagree: {n} items, {len(sizes)} sizes, offsets end {int(offsets[-1]) if n >= 0 else None}, "
                             f"{len(keypoints)} key-points, {len(descriptors)} descriptors")
        dim, dtype = descriptor_spec(meta["detector"])
        if descriptors.shape[1:] != (dim,) or descriptors.dtype != np.dtype(dtype):
            raise ValueError(f"descriptors are {descriptors.dtype} {descriptors.shape[1:]}, {meta['detector']} needs {dtype} ({dim},)")
        self.meta = dict(meta)
        # stores written before the key existed were detected at OpenCV's default
        self.meta.setdefault("contrast_threshold", SIFT_CONTRAST if meta["detector"] == "sift" else None)
        if words is not None and words.n_points != len(keypoints):
            raise ValueError(f"the visual words file {words.n_points} key-points, the store holds {len(keypoints)}")
        self.meta = {**self.meta, "visual_words": words.n_words if words is not None else 0}
        self.offsets, self.keypoints, self.descriptors, self.sizes = offsets, keypoints, descriptors, sizes
        self.words = words

    # -- building --------------------------------------------------------------------------------
    @classmethod
    def from_features(cls, features: Sequence[LocalFeatures], extractor: LocalFeatureExtractor) -> LocalFeatureStore:
        counts = np.array([len(f) for f in features], np.int64)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        if len(features):
            keypoints = np.concatenate([f.xy for f in features]).astype(np.float16).reshape(-1, 2)
            descriptors = np.concatenate([f.descriptors for f in features]).astype(extractor.dtype).reshape(-1, extractor.dim)
        else:
            keypoints = np.zeros((0, 2), np.float16)
            descriptors = np.zeros((0, extractor.dim), extractor.dtype)
        sizes = np.array([f.size for f in features], np.int64).reshape(-1, 2)
        sizes = np.clip(sizes, 0, np.iinfo(np.uint16).max).astype(np.uint16)
        meta = {"format": FORMAT, **extractor.info}
        return cls(meta, offsets, keypoints, descriptors, sizes)

    def with_words(self, n_words: int, seed: int = 0) -> LocalFeatureStore:
        """This store with a visual-word inverted file of ``n_words`` cells (fewer for a small store;
        none for ``n_words`` 0 or too few key-points) behind the word shortlist."""
        words = VisualWords.build(self.match_rows, len(self.keypoints), n_words, seed) if n_words > 0 else None
        return LocalFeatureStore(self.meta, self.offsets, self.keypoints, self.descriptors, self.sizes, words)

    @classmethod
    def extract(cls, images: Iterable, extractor: LocalFeatureExtractor, total: int | None = None) -> LocalFeatureStore:
        """Features of each image (PIL image, or None for one that could not be read: no key-points)."""
        feats = []
        for image in tqdm(images, total=total, desc=f"local features ({extractor.detector})", unit="image", leave=False):
            feats.append(extractor.empty() if image is None else extractor.extract(image))
        return cls.from_features(feats, extractor)

    def concat(self, other: LocalFeatureStore) -> LocalFeatureStore:
        """This store followed by ``other`` (same detector settings), for ``Retriever.add``."""
        keys = ("detector", "max_keypoints", "max_side", "contrast_threshold")
        if any(self.meta.get(k) != other.meta.get(k) for k in keys):
            raise ValueError(f"cannot join local features of different settings: {[self.meta.get(k) for k in keys]} "
                             f"vs {[other.meta.get(k) for k in keys]}")
        offsets = np.concatenate([self.offsets[:-1], other.offsets + self.offsets[-1]]).astype(np.int64)
        words = None
        if self.words is not None:  # same vocabulary; the new key-points are filed after the stored ones
            words = self.words.extended(other.match_rows(np.arange(len(other.keypoints))))
        return LocalFeatureStore(self.meta, offsets, np.concatenate([self.keypoints, other.keypoints]),
                                 np.concatenate([self.descriptors, other.descriptors]),
                                 np.concatenate([self.sizes, other.sizes]), words)

    # -- reading ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def detector(self) -> str:
        return self.meta["detector"]

    def get(self, i: int) -> LocalFeatures:
        """Item ``i``'s key-points (copied out of the memory map: only these rows are read)."""
        if not 0 <= i < len(self):
            raise IndexError(f"item {i} outside the {len(self)} items with local features")
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        w, h = (int(v) for v in self.sizes[i])
        return LocalFeatures(np.asarray(self.keypoints[a:b], np.float32), np.array(self.descriptors[a:b]), (w, h))

    def match_rows(self, rows: np.ndarray) -> np.ndarray:
        """Match vectors (RootSIFT etc., verify.match_vectors) of stored key-point rows."""
        return match_vectors(np.asarray(self.descriptors[np.asarray(rows)]), self.detector)

    def word_votes(self, vectors: np.ndarray, probes: int, ratio: float) -> np.ndarray:
        """Per item, how many of a query's key-points (match vectors) vote for it (VisualWords.votes)."""
        if self.words is None:
            return np.zeros(len(self), np.float64)
        return self.words.votes(vectors, self.match_rows, self.offsets, probes, ratio)

    def nbytes(self) -> int:
        arrays = [self.offsets, self.keypoints, self.descriptors, self.sizes]
        if self.words is not None:
            arrays += [self.words.vocabulary, self.words.ivf_offsets, self.words.ivf_points]
        return int(sum(a.nbytes for a in arrays))

    def bytes_per_item(self) -> float:
        return self.nbytes() / max(len(self), 1)

    # -- persistence -----------------------------------------------------------------------------
    def save(self, directory: str) -> list[str]:
        """Write the arrays (atomically, no pickle) and local.json; returns the names written."""
        os.makedirs(directory, exist_ok=True)
        arrays = dict(zip(FILES, (self.offsets, self.keypoints, self.descriptors, self.sizes)))
        for name, arr in arrays.items():
            atomic_save_npy(os.path.join(directory, name), np.ascontiguousarray(arr))
        meta = {**self.meta, "n_items": len(self), "n_keypoints": int(self.offsets[-1]),
                "bytes_per_item": round(self.bytes_per_item(), 1)}
        if self.words is not None:
            self.words.save(os.path.join(directory, WORDS_DIR))
        atomic_write_text(os.path.join(directory, "local.json"), json.dumps(meta, indent=2))
        return [*FILES, "local.json"]

    @classmethod
    def load(cls, directory: str, mmap: bool = True) -> LocalFeatureStore:
        meta = load_format_json(os.path.join(directory, "local.json"), FORMAT, "local-features")
        arrays = [np.load(os.path.join(directory, name), allow_pickle=False, mmap_mode="r" if mmap else None)
                  for name in FILES]
        offsets = np.asarray(arrays[0], np.int64)  # small: N + 1 integers
        words = None
        if int(meta.get("visual_words", 0)) > 0:
            words = VisualWords.load(os.path.join(directory, WORDS_DIR), mmap=mmap)
        return cls(meta, offsets, arrays[1], arrays[2], np.asarray(arrays[3]), words)


def extractor_for(cfg) -> LocalFeatureExtractor:
    """The database-side extractor of a ``retrieval.verify`` config."""
    return LocalFeatureExtractor(cfg.detector, int(cfg.max_keypoints), int(cfg.max_side), float(cfg.contrast_threshold))
