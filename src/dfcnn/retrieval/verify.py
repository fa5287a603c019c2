"""Geometric verification of the global shortlist: local features, mutual-NN + ratio matches,
a RANSAC homography and its inlier count (issue 9; beyond the paper).

Why: a global CNN descriptor of a cluttered, tilted phone photo of a flat product often ranks the
right catalogue image low, while many local matches consistent with one homography are
near-certain evidence of the same object. The shortlist's order is changed only where that
evidence is strong enough (``min_inliers``); everything else keeps the global order.

Matching runs as one BLAS product per candidate on unit-normalised descriptors (RootSIFT for
SIFT, ±1 bit vectors for the binary ORB / AKAZE ones, whose dot product is B − 2·Hamming), which
yields both directions' nearest neighbours at once for the mutual check.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from dfcnn.config.retrieval import VerifyConfig

log = logging.getLogger(__name__)

DETECTORS = ("sift", "orb", "akaze", "surf")
BINARY = frozenset({"orb", "akaze"})
MIN_MATCHES = 4  # a homography needs four correspondences
SIFT_CONTRAST = 0.04  # OpenCV's default contrastThreshold
MAX_SCALE = 12.0  # a homography scaling its supported area by more than MAX_SCALE² either way is degenerate

#: fallback and outcome counters (``Verifier.counts``)
COUNT_KEYS = ("queries", "query_no_keypoints", "word_candidates", "candidates", "candidate_no_keypoints",
              "too_few_matches", "degenerate_homography", "below_min_inliers", "verified")


def ransac_method(name: str) -> int:
    import cv2

    methods = {"ransac": cv2.RANSAC, "rho": cv2.RHO, "lmeds": cv2.LMEDS, "usac_default": cv2.USAC_DEFAULT,
               "usac_magsac": cv2.USAC_MAGSAC, "usac_accurate": cv2.USAC_ACCURATE, "usac_fast": cv2.USAC_FAST}
    if name not in methods:
        raise ValueError(f"retrieval.verify.ransac must be one of {sorted(methods)}, got {name!r}")
    return methods[name]


# ----------------------------------------------------------------------------- local features
@dataclass(frozen=True)
class LocalFeatures:
    """Key-points of one image, strongest first, in the frame the detector saw.

    ``factor`` = detector pixels per original pixel (≤ 1), ``size`` = (w, h) in the detector frame.
    Descriptors: uint8 (SIFT, ORB, AKAZE) or float16 (SURF), as stored in the index.
    """

    xy: np.ndarray  # float32 [n, 2]
    descriptors: np.ndarray  # [n, D]
    size: tuple[int, int]
    factor: float = 1.0

    def __len__(self) -> int:
        return int(self.xy.shape[0])

    def original_xy(self) -> np.ndarray:
        """Key-point coordinates in the original image's pixels."""
        return ((self.xy + 0.5) / self.factor - 0.5).astype(np.float32)


def descriptor_spec(detector: str) -> tuple[int, str]:
    """(dimension, storage dtype) of a detector's descriptors."""
    specs = {"sift": (128, "uint8"), "orb": (32, "uint8"), "akaze": (61, "uint8"), "surf": (64, "float16")}
    if detector not in specs:
        raise ValueError(f"retrieval.verify.detector must be one of {', '.join(DETECTORS)}, got {detector!r}")
    return specs[detector]


class LocalFeatureExtractor:
    """Grey conversion, shrinking to ``max_side`` and detection + description, capped at the
    ``max_keypoints`` strongest. SURF reuses the baseline's extractor (OpenCV non-free or mahotas)."""

    def __init__(self, detector: str = "sift", max_keypoints: int = 1000, max_side: int = 1024,
                 contrast_threshold: float | None = None):
        self.dim, self.dtype = descriptor_spec(detector)
        if max_keypoints < 1:
            raise ValueError(f"max_keypoints must be >= 1, got {max_keypoints}")
        self.detector = detector
        self.max_keypoints = int(max_keypoints)
        self.max_side = int(max_side or 0)
        # SIFT only (None for the others); None asks for OpenCV's default
        self.contrast_threshold = (SIFT_CONTRAST if contrast_threshold is None else float(contrast_threshold)) \
            if detector == "sift" else None
        self._cv = None
        self._surf = None

    @property
    def info(self) -> dict:
        out = {"detector": self.detector, "max_keypoints": self.max_keypoints, "max_side": self.max_side,
               "contrast_threshold": self.contrast_threshold, "descriptor_dim": self.dim, "descriptor_dtype": self.dtype}
        if self.detector == "surf":
            out["surf_implementation"] = self._surf_extractor().implementation
        return out

    def _surf_extractor(self):
        if self._surf is None:
            from dfcnn.baselines.surf_features import SurfExtractor

            self._surf = SurfExtractor(max_keypoints=self.max_keypoints, max_side=0)
        return self._surf

    def _opencv(self):
        if self._cv is None:
            import cv2

            if self.detector == "sift":
                self._cv = cv2.SIFT_create(nfeatures=self.max_keypoints, contrastThreshold=self.contrast_threshold)
            elif self.detector == "orb":
                self._cv = cv2.ORB_create(nfeatures=self.max_keypoints)
            else:  # OpenCV 5 moved AKAZE to the contrib module xfeatures2d
                create = getattr(cv2, "AKAZE_create", None) or cv2.xfeatures2d.AKAZE_create
                self._cv = create()
        return self._cv

    def empty(self, size=(0, 0), factor=1.0) -> LocalFeatures:
        return LocalFeatures(np.zeros((0, 2), np.float32), np.zeros((0, self.dim), self.dtype), tuple(size), factor)

    def extract(self, image: Image.Image | np.ndarray) -> LocalFeatures:
        from dfcnn.baselines.surf_features import downscale, to_gray

        gray, factor = downscale(to_gray(image), self.max_side)
        size = (int(gray.shape[1]), int(gray.shape[0]))
        if min(gray.shape) < 16:
            return self.empty(size, factor)
        if self.detector == "surf":
            kp = self._surf_extractor().extract(gray)
            if not len(kp):
                return self.empty(size, factor)
            return LocalFeatures(kp.xy.astype(np.float32), kp.descriptors.astype(np.float16), size, factor)
        det = self._opencv()
        kps = det.detect(gray, None)
        if not kps:
            return self.empty(size, factor)
        kps = sorted(kps, key=lambda k: -k.response)[: self.max_keypoints]
        kps, desc = det.compute(gray, kps)
        if desc is None or not kps:
            return self.empty(size, factor)
        if self.detector == "sift":  # OpenCV's SIFT values are whole numbers in [0, 255]: uint8 is lossless
            desc = np.clip(np.rint(desc), 0, 255)
        xy = np.array([k.pt for k in kps], np.float32).reshape(-1, 2)
        return LocalFeatures(xy, np.ascontiguousarray(desc, dtype=self.dtype), size, factor)


# ----------------------------------------------------------------------------- matching
def match_vectors(descriptors: np.ndarray, detector: str) -> np.ndarray:
    """Stored descriptors -> float32 rows whose dot product ranks neighbours.

    SIFT: RootSIFT (L1, square root; unit L2), SURF: unit L2, binary: bits as ±1 (dot = B − 2·Hamming).
    """
    d = np.asarray(descriptors)
    if detector in BINARY:
        bits = np.unpackbits(np.ascontiguousarray(d, np.uint8), axis=1).astype(np.float32)
        return 2.0 * bits - 1.0
    x = d.astype(np.float32)
    if detector == "sift":
        x = np.sqrt(x / np.maximum(x.sum(axis=1, keepdims=True), 1e-12))
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _distances(sims: np.ndarray, detector: str, n_bits: int) -> np.ndarray:
    if detector in BINARY:
        return (n_bits - sims) * 0.5  # Hamming distance
    return np.sqrt(np.maximum(2.0 - 2.0 * sims, 0.0))  # L2 distance of unit vectors


def mutual_ratio_matches(qv: np.ndarray, dv: np.ndarray, detector: str, ratio: float = 0.8,
                         mutual: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Query/candidate index pairs that pass Lowe's ratio test (and, if ``mutual``, are each
    other's nearest neighbours): one [n, m] similarity product, then a product of the ratio-test
    survivors' candidate rows for the mutual check."""
    if len(qv) == 0 or len(dv) < 2:
        empty = np.zeros(0, np.int64)
        return empty, empty
    import torch  # its single-threaded sgemm and reductions beat numpy's here (benchmarks/verify.py)

    q = torch.from_numpy(np.ascontiguousarray(qv, np.float32))
    d = torch.from_numpy(np.ascontiguousarray(dv, np.float32))
    top = (q @ d.T).topk(2, dim=1)
    s1, s2 = top.values[:, 0].numpy(), top.values[:, 1].numpy()
    best = top.indices[:, 0].numpy()
    n_bits = qv.shape[1]
    keep = _distances(s1, detector, n_bits) < ratio * _distances(s2, detector, n_bits)
    qi = np.nonzero(keep)[0]
    if mutual and len(qi):
        # the query's nearest neighbour of each kept match's candidate key-point, from a product of
        # those rows only: a column argmax over the whole [n, m] product costs more than the product
        back = (d[torch.from_numpy(best[qi])] @ q.T).argmax(dim=1).numpy()
        qi = qi[back == qi]
    return qi, best[qi]


# ----------------------------------------------------------------------------- homography
def plausible_homography(H: np.ndarray | None, size: tuple[int, int], support: np.ndarray | None = None) -> bool:
    """False for a missing or non-finite homography, or one that mirrors, folds or scales area by
    more than MAX_SCALE² the candidate region its inliers cover (``support``: their candidate-pixel
    coordinates; the whole candidate image when None), mapped into the query through H⁻¹.

    Judged on the supported region, not on the whole picture: a homography fitted to a product a
    fifth of the photo wide is accurate where its inliers are, while its perspective terms can
    blow up at the far corners (on experiments/photo_benchmark.py a check on the whole outline
    rejected 19 of 100 true products of two- and three-product photos, with 20-80 inliers each).
    """
    if H is None or not np.all(np.isfinite(H)) or abs(H[2, 2]) < 1e-12:
        return False
    H = H / H[2, 2]
    if support is None:
        box = (0.0, 0.0, float(size[0]), float(size[1]))
    else:
        lo, hi = np.min(support, axis=0), np.max(support, axis=0)
        box = (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))
    area = (box[2] - box[0]) * (box[3] - box[1])
    quad = project_box(H, box)
    if area < 1.0 or quad is None or not convex_quad(quad):
        return False
    x, y = quad[:, 0], quad[:, 1]
    mapped = 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))  # < 0: mirrored
    return mapped > 0 and 1.0 / MAX_SCALE**2 < area / mapped < MAX_SCALE**2


def project_box(H: np.ndarray, box) -> np.ndarray | None:
    """The corners of ``box`` = (x0, y0, x1, y1) in candidate pixels mapped into the query by H⁻¹
    (H maps query -> candidate); None when the line at infinity crosses the box."""
    try:
        Hinv = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        return None
    x0, y0, x1, y1 = box
    corners = np.array([[x0, y0, 1], [x1, y0, 1], [x1, y1, 1], [x0, y1, 1]], np.float64).T
    p = Hinv @ corners
    # the homogeneous scale may be negative throughout (H is known up to sign); corners on both
    # sides of the line at infinity mean the outline is not a quadrilateral
    if not (np.all(p[2] > 1e-12) or np.all(p[2] < -1e-12)):
        return None
    return (p[:2] / p[2]).T


def project_outline(H: np.ndarray, size: tuple[int, int]) -> np.ndarray | None:
    """The candidate image's corners mapped into the query by H⁻¹."""
    return project_box(H, (0.0, 0.0, float(size[0]), float(size[1])))


def convex_quad(quad: np.ndarray) -> bool:
    """True when the four points, in order, turn the same way at every corner (convex, simple)."""
    signs = []
    for i in range(4):
        a, b, c = quad[i], quad[(i + 1) % 4], quad[(i + 2) % 4]
        signs.append(np.cross(b - a, c - b))
    signs = np.array(signs)
    return bool(np.all(signs > 0) or np.all(signs < 0))


def verified_score(inliers: int, global_score: float, min_inliers: int, scale: float, weight: float) -> float:
    """Re-ranking score (ours): 1 + (1 − λ)(1 − e^(−n/τ)) + λ·s_global when n ≥ min_inliers, else s_global.

    Verified candidates score above 1 and so above every unverified one, whose cosine-based
    score is at most 1; among them more inliers rank higher, the global score breaking near-ties.
    """
    if inliers < min_inliers:
        return float(global_score)
    return 1.0 + (1.0 - weight) * (1.0 - math.exp(-inliers / scale)) + weight * float(global_score)


def voted_score(votes: int, min_votes: int) -> float | None:
    """Score (ours) of an unverified word-shortlist candidate with ``votes`` ≥ ``min_votes`` ratio-test
    votes: 1 + 0.05·v/(v + 10), in (1, 1.05): above every global score (≤ 1), below every verified
    one at the default threshold (≥ 1.06 even for a global score of −1); None below ``min_votes``.

    Why: on experiments/photo_benchmark.py the products that verification misses (blur, glare,
    few key-points) were among the three most voted-for items of their photo, while the global
    ranking there is led by the same few images for every cluttered photo.
    """
    if min_votes <= 0 or votes < min_votes:
        return None
    return 1.0 + 0.05 * votes / (votes + 10.0)


@dataclass
class Verification:
    """Outcome for one candidate: inlier count, why it stopped, the inliers' query indices and the
    candidate's outline in query pixels (when a plausible homography was found)."""

    inliers: int
    status: str  # verified | below_min_inliers | too_few_matches | degenerate_homography | candidate_no_keypoints
    query_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    outline: np.ndarray | None = None  # [4, 2] query pixels

    def box(self) -> list[float] | None:
        if self.outline is None:
            return None
        lo, hi = self.outline.min(axis=0), self.outline.max(axis=0)
        return [float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])]


@dataclass
class QueryFeatures:
    """A query photo's key-points (original pixels) and match-ready descriptor rows."""

    xy: np.ndarray
    vectors: np.ndarray
    size: tuple[int, int]

    def __len__(self) -> int:
        return int(self.xy.shape[0])

    def subset(self, box) -> QueryFeatures:
        """The key-points inside ``box`` = (x0, y0, x1, y1) (a region of the photo)."""
        x0, y0, x1, y1 = box
        m = (self.xy[:, 0] >= x0) & (self.xy[:, 0] <= x1) & (self.xy[:, 1] >= y0) & (self.xy[:, 1] <= y1)
        return QueryFeatures(self.xy[m], self.vectors[m], self.size)


class Verifier:
    """Verifies shortlist candidates of one index against query photos; counts every fallback."""

    def __init__(self, cfg: VerifyConfig, store):
        self.cfg = cfg
        self.store = store
        self.method = ransac_method(cfg.ransac)
        self.query_extractor = LocalFeatureExtractor(store.detector, cfg.query_max_keypoints, cfg.query_max_side,
                                                     cfg.query_contrast_threshold)
        self.counts: Counter = Counter({k: 0 for k in COUNT_KEYS})

    def prepare_query(self, image: Image.Image) -> QueryFeatures:
        feats = self.query_extractor.extract(image)
        self.counts["queries"] += 1
        if len(feats) < MIN_MATCHES:
            self.counts["query_no_keypoints"] += 1
        return QueryFeatures(feats.original_xy(), match_vectors(feats.descriptors, self.store.detector),
                             (int(image.width), int(image.height)))

    def word_shortlist(self, query: QueryFeatures) -> dict[int, int]:
        """{item: votes} of the ``words_top_m`` items most voted for by the query's key-points (at
        least one vote each), most votes first; empty without visual words or query key-points."""
        m = int(self.cfg.words_top_m)
        if m <= 0 or self.store.words is None or len(query) < MIN_MATCHES:
            return {}
        votes = self.store.word_votes(query.vectors, int(self.cfg.words_probes), float(self.cfg.ratio))
        m = min(m, int((votes > 0).sum()))
        if m == 0:
            return {}
        top = np.argpartition(-votes, m - 1)[:m]
        top = top[np.argsort(-votes[top], kind="stable")]
        self.counts["word_candidates"] += len(top)
        return {int(i): int(votes[i]) for i in top}

    def verify(self, query: QueryFeatures, item: int) -> Verification:
        """Match the query against database item ``item``, fit a homography, count its inliers."""
        import cv2

        cfg = self.cfg
        self.counts["candidates"] += 1
        cand = self.store.get(item)
        if len(cand) < MIN_MATCHES:
            self.counts["candidate_no_keypoints"] += 1
            return Verification(0, "candidate_no_keypoints")
        qi, di = mutual_ratio_matches(query.vectors, match_vectors(cand.descriptors, self.store.detector),
                                      self.store.detector, cfg.ratio, cfg.mutual)
        if len(qi) < max(MIN_MATCHES, min(cfg.min_inliers, 8)):
            self.counts["too_few_matches"] += 1
            return Verification(0, "too_few_matches")
        src = np.ascontiguousarray(query.xy[qi], np.float32)
        dst = np.ascontiguousarray(cand.xy[di], np.float32)
        cv2.setRNGSeed(0)
        try:
            H, mask = cv2.findHomography(src, dst, self.method, float(cfg.ransac_px), maxIters=int(cfg.ransac_iters),
                                         confidence=0.995)
        except cv2.error as exc:  # e.g. all points collinear
            log.debug("findHomography failed on item %d: %s", item, exc)
            H, mask = None, None
        inl = mask.ravel().astype(bool) if mask is not None else np.zeros(0, bool)
        if H is None or inl.sum() < MIN_MATCHES or not plausible_homography(H, cand.size, dst[inl]):
            self.counts["degenerate_homography"] += 1
            return Verification(0, "degenerate_homography")
        n = int(inl.sum())
        status = "verified" if n >= cfg.min_inliers else "below_min_inliers"
        self.counts[status] += 1
        H = H / H[2, 2]
        outline = project_outline(H, cand.size)
        if outline is None or not convex_quad(outline):  # far from the inliers H is not to be trusted
            lo, hi = dst[inl].min(axis=0), dst[inl].max(axis=0)
            outline = project_box(H, (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])))
        return Verification(n, status, qi[inl], outline)

    def rerank(self, query: QueryFeatures, scores: np.ndarray, ids: np.ndarray,
               cache: dict | None = None) -> tuple[np.ndarray, np.ndarray, dict[int, Verification]]:
        """Re-rank one query's shortlist (the first ``top_m`` of ``ids``) by :func:`verified_score`;
        the rest keeps its order below. With no usable query key-points the order is unchanged."""
        cfg = self.cfg
        cache = {} if cache is None else cache
        scores = np.asarray(scores, np.float64)
        ids = np.asarray(ids)
        m = min(int(cfg.top_m), len(ids))
        if len(query) < MIN_MATCHES or m == 0:
            return scores, ids, cache
        head = []
        for s, i in zip(scores[:m], ids[:m]):
            i = int(i)
            if i < 0:
                continue
            if i not in cache:
                cache[i] = self.verify(query, i)
            head.append((verified_score(cache[i].inliers, s, cfg.min_inliers, cfg.inlier_scale, cfg.global_weight), i))
        head.sort(key=lambda t: -t[0])  # stable: ties keep the global order
        new_scores = np.concatenate([[s for s, _ in head], scores[m:]])
        new_ids = np.concatenate([np.array([i for _, i in head], ids.dtype), ids[m:]])
        return new_scores, new_ids, cache
