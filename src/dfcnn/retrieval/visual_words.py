"""A visual-word inverted file over an index's stored key-points, voting for the database items
that hold a query's key-points: a shortlist for geometric verification that does not depend on
the global descriptor (issue 9; beyond the paper).

Why: verification can only promote candidates that reach its shortlist, and the global CNN
descriptor of a cluttered photo holding several products ranks most of them too low. Local
features vote one by one, so each product in the photo collects the votes of its own key-points
however much else the photo holds.

How: a vocabulary (k-means, seeded, on the match vectors of a sample of the stored key-points)
splits descriptor space into cells; the inverted file lists each cell's key-points. A query
key-point is compared exactly with the key-points of its ``probes`` nearest cells (an IVF-flat
nearest-neighbour search); it votes for the item of its nearest neighbour when that passes Lowe's
ratio test against the nearest key-point of *another* item. An item's score is its vote count.
Measured on experiments/photo_benchmark.py (docs/photographed_products.md): this selective vote
finds the products of three-product photos where tf-idf bag-of-words over the same vocabulary
misses a third of them — most of a cluttered photo's key-points belong to the table.

Files (under ``<index_dir>/local/words/``, plain .npy + JSON, memory-mapped at search time)::

    words.json        format, vocabulary size, key-point count
    vocabulary.npy    float32 [V, D] cell centres
    ivf_offsets.npy   int64 [V + 1]: cell w owns ivf_points[ivf_offsets[w]:ivf_offsets[w+1]]
    ivf_points.npy    int32 (int64 past 2³¹ key-points) [T]: stored key-point rows (LocalFeatureStore order), grouped by cell
"""

from __future__ import annotations

import json
import logging
import os

import numpy as np

from dfcnn.persist import atomic_save_npy, atomic_write_text, load_format_json

log = logging.getLogger(__name__)

FORMAT = "dfcnn.visual_words/1"
WORDS_DIR = "words"
FILES = ("vocabulary.npy", "ivf_offsets.npy", "ivf_points.npy")
MIN_PER_WORD = 16  # the vocabulary shrinks so that each cell holds this many key-points on average
MAX_TRAIN = 200_000  # key-points sampled to train the vocabulary
PER_CELL = 4  # nearest key-points kept per query key-point and probed cell


def kmeans(x: np.ndarray, k: int, iters: int = 12, seed: int = 0) -> np.ndarray:
    """Lloyd's k-means from ``k`` distinct random rows; empty clusters are re-seeded from random rows."""
    import torch

    rng = np.random.default_rng(seed)
    xt = torch.from_numpy(np.ascontiguousarray(x, np.float32))
    centroids = xt[torch.from_numpy(rng.choice(len(x), k, replace=False))].clone()
    for _ in range(iters):
        labels = nearest_cells(xt, centroids, 1)[:, 0]
        sums = torch.zeros_like(centroids).index_add_(0, labels, xt)
        counts = torch.bincount(labels, minlength=k)
        empty = counts == 0
        centroids = sums / counts.clamp(min=1)[:, None].to(sums.dtype)
        if bool(empty.any()):
            centroids[empty] = xt[torch.from_numpy(rng.choice(len(x), int(empty.sum()), replace=False))]
    return centroids.numpy()


def nearest_cells(x, centroids, probes: int = 1, chunk: int = 32768):
    """The ``probes`` nearest centres (L2) of each row, nearest first: int64 tensor [n, probes]."""
    import torch

    xt = torch.as_tensor(np.ascontiguousarray(x, np.float32)) if isinstance(x, np.ndarray) else x
    ct = torch.as_tensor(np.ascontiguousarray(centroids, np.float32)) if isinstance(centroids, np.ndarray) else centroids
    probes = max(1, min(int(probes), len(ct)))
    half = 0.5 * (ct * ct).sum(dim=1)
    out = torch.empty((len(xt), probes), dtype=torch.int64)
    for a in range(0, len(xt), chunk):
        score = xt[a:a + chunk] @ ct.T - half  # argmax of x·c − ½‖c‖² = argmin ‖x − c‖²
        out[a:a + chunk] = score.argmax(dim=1, keepdim=True) if probes == 1 else score.topk(probes, dim=1).indices
    return out


def _cells(words: np.ndarray, n_words: int) -> tuple[np.ndarray, np.ndarray]:
    """(ivf_offsets, ivf_points) of the key-points' cells."""
    points = np.argsort(words, kind="stable")
    points = points.astype(np.int32 if len(points) < 2**31 else np.int64)  # 4 bytes per key-point where they suffice
    offsets = np.concatenate([[0], np.cumsum(np.bincount(words, minlength=n_words))]).astype(np.int64)
    return offsets, points


class VisualWords:
    """Vocabulary + inverted file of one index's key-points (rows of its LocalFeatureStore)."""

    def __init__(self, vocabulary: np.ndarray, ivf_offsets: np.ndarray, ivf_points: np.ndarray):
        if len(ivf_offsets) != len(vocabulary) + 1 or int(ivf_offsets[-1]) != len(ivf_points):
            raise ValueError(f"inverted file disagrees with its vocabulary: {len(vocabulary)} words, "
                             f"{len(ivf_offsets)} offsets ending at {int(ivf_offsets[-1])}, {len(ivf_points)} points")
        self.vocabulary = np.array(vocabulary, np.float32)  # small, read by every query: in memory
        self.ivf_offsets = np.asarray(ivf_offsets, np.int64)
        self.ivf_points = ivf_points

    @property
    def n_words(self) -> int:
        return len(self.vocabulary)

    @property
    def n_points(self) -> int:
        return len(self.ivf_points)

    # -- building --------------------------------------------------------------------------------
    @classmethod
    def build(cls, vectors, total: int, n_words: int, seed: int = 0, chunk: int = 65536) -> VisualWords | None:
        """Train a vocabulary on a sample of the ``total`` stored key-points and file them all;
        ``vectors(rows)`` gives their match vectors (read in chunks, so memory stays flat).
        None when there are too few key-points for a vocabulary."""
        k = min(int(n_words), total // MIN_PER_WORD)
        if k < 2:
            log.warning("only %d key-points in the index: no visual-word shortlist (needs %d)", total, 2 * MIN_PER_WORD)
            return None
        if k < n_words:
            log.info("visual words: %d key-points, vocabulary shrunk from %d to %d cells", total, n_words, k)
        rng = np.random.default_rng(seed)
        sample = np.sort(rng.choice(total, min(total, max(MAX_TRAIN, 20 * k)), replace=False))
        vocabulary = kmeans(vectors(sample), k, seed=seed)
        words = np.concatenate([nearest_cells(vectors(np.arange(a, min(a + chunk, total))), vocabulary)[:, 0].numpy()
                                for a in range(0, total, chunk)])
        return cls(vocabulary, *_cells(words, k))

    def words(self) -> np.ndarray:
        """The cell of every filed key-point, in store order."""
        out = np.empty(self.n_points, np.int64)
        out[np.asarray(self.ivf_points)] = np.repeat(np.arange(self.n_words), np.diff(self.ivf_offsets))
        return out

    def extended(self, vectors: np.ndarray) -> VisualWords:
        """The same vocabulary with further key-points (their match vectors) filed after the stored ones."""
        new = nearest_cells(np.asarray(vectors, np.float32), self.vocabulary)[:, 0].numpy()
        return VisualWords(self.vocabulary, *_cells(np.concatenate([self.words(), new]), self.n_words))

    # -- searching -------------------------------------------------------------------------------
    def votes(self, query: np.ndarray, stored_vectors, offsets: np.ndarray, probes: int = 4,
              ratio: float = 0.8) -> np.ndarray:
        """Vote count per item (float64 [n_items]) of a query's key-points (match vectors, unit rows).

        ``stored_vectors(rows)`` gives the match vectors of stored key-point rows; item i owns rows
        ``offsets[i]:offsets[i+1]``. A query key-point votes for its nearest neighbour's item
        when that neighbour passes the ratio test against the nearest key-point of another item.
        """
        import torch

        n_items = len(offsets) - 1
        out = np.zeros(n_items, np.float64)
        if len(query) == 0 or self.n_points == 0:
            return out
        q = torch.from_numpy(np.ascontiguousarray(query, np.float32))
        cells = nearest_cells(q, self.vocabulary, probes).numpy()
        rows = np.repeat(np.arange(len(query)), cells.shape[1])
        flat = cells.ravel()
        order = np.argsort(flat, kind="stable")
        rows, flat = rows[order], flat[order]
        bounds = np.flatnonzero(np.diff(flat)) + 1
        pair_rows, pair_points, pair_sims = [], [], []
        for grp in np.split(np.arange(len(flat)), bounds):
            w = int(flat[grp[0]])
            a, b = int(self.ivf_offsets[w]), int(self.ivf_offsets[w + 1])
            if b == a:
                continue
            points = np.asarray(self.ivf_points[a:b])
            sims = q[rows[grp]] @ torch.from_numpy(stored_vectors(points)).T
            top = sims.topk(min(PER_CELL, b - a), dim=1)
            pair_rows.append(np.repeat(rows[grp], top.indices.shape[1]))
            pair_points.append(points[top.indices.numpy().ravel()])
            pair_sims.append(top.values.numpy().ravel())
        if not pair_rows:
            return out
        qr, pts, sims = (np.concatenate(v) for v in (pair_rows, pair_points, pair_sims))
        order = np.lexsort((-sims, qr))  # per query key-point, most similar first
        qr, sims = qr[order], sims[order]
        items = np.searchsorted(np.asarray(offsets), pts[order], side="right") - 1
        first = np.flatnonzero(np.r_[True, qr[1:] != qr[:-1]])
        group = np.cumsum(np.r_[True, qr[1:] != qr[:-1]]) - 1
        best_item, best_sim = items[first], sims[first]
        other = items != best_item[group]  # candidates from another item than the nearest one
        second = np.full(len(first), -1.0)
        g_other, idx = np.unique(group[other], return_index=True)  # sorted: first = most similar
        second[g_other] = sims[other][idx]
        d1 = np.sqrt(np.maximum(2.0 - 2.0 * best_sim, 0.0))
        d2 = np.sqrt(np.maximum(2.0 - 2.0 * second, 0.0))  # no other item probed: d2 = 2, the farthest
        ok = d1 < ratio * d2
        return np.bincount(best_item[ok], minlength=n_items).astype(np.float64)

    # -- persistence -----------------------------------------------------------------------------
    def save(self, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        for name, arr in zip(FILES, (self.vocabulary, self.ivf_offsets, self.ivf_points)):
            atomic_save_npy(os.path.join(directory, name), np.ascontiguousarray(arr))
        meta = {"format": FORMAT, "n_words": self.n_words, "n_points": self.n_points}
        atomic_write_text(os.path.join(directory, "words.json"), json.dumps(meta, indent=2))

    @classmethod
    def load(cls, directory: str, mmap: bool = True) -> VisualWords:
        load_format_json(os.path.join(directory, "words.json"), FORMAT, "visual-words")
        arrays = [np.load(os.path.join(directory, name), allow_pickle=False, mmap_mode="r" if mmap else None)
                  for name in FILES]
        return cls(*arrays)
