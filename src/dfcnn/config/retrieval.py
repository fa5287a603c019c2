"""Schema of the Hydra group ``retrieval`` (SPEC §2.5).

Keys split in two: those fixed when an index is built (they shape the stored vectors, the
search structure and the neighbour graph) and those a search may change freely.

Defaults chosen on the development data (experiments/benchmarks/retrieval_quality.py, image
size 256): on caltech101-mini w = 0.3 with Eq. 14 re-ranking + αQE + DBA gave the best P@10
(0.919; mAP 0.871 vs 0.744 for plain cosine at the same w, 0.415 for CNN alone); on coco256
(2 forest classes) the attributes are neutral and the three switches add a little (mAP 0.4525 vs 0.4425).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass, make_dataclass
from typing import Optional, get_type_hints


@dataclass
class VerifyConfig:
    """Geometric verification of the global shortlist (issue 9, ``retrieval.verify``).

    Defaults chosen on experiments/photo_benchmark.py (see docs/photographed_products.md).
    """

    # --- fixed at index time: what local features the index stores ---
    local_features: bool = False  # extract and store database local features when the index is built
    detector: str = "sift"  # sift | orb | akaze | surf
    max_keypoints: int = 1000  # strongest key-points kept per database image
    max_side: int = 1024  # images shrunk to this longer side before detection
    contrast_threshold: float = 0.02  # SIFT's contrastThreshold on database images (OpenCV's default 0.04 leaves plain pictures < 50 key-points)
    visual_words: int = 1024  # cells of the key-point inverted file behind the word shortlist (0 = none)
    # --- free at search time ---
    enabled: bool = False  # re-rank the top-M by RANSAC homography inliers (needs local_features)
    top_m: int = 50  # shortlist verified
    words_top_m: int = 20  # items most voted for by the query's key-points, added to the shortlist (0 = off)
    words_probes: int = 4  # inverted-file cells searched per query key-point
    words_min_votes: int = 3  # unverified word candidates with this many votes rank after the verified, before the rest (0 = never)
    query_max_keypoints: int = 4000  # strongest key-points of a query photo
    query_contrast_threshold: float = 0.01  # SIFT's contrastThreshold on query photos (OpenCV's default 0.04 finds too few on blurred, glared products)
    query_max_side: int = 1280
    ratio: float = 0.8  # Lowe's ratio test on mutual nearest neighbours
    mutual: bool = True  # keep only mutual nearest neighbours
    ransac: str = "usac_magsac"  # ransac | rho | lmeds | usac_default | usac_magsac | usac_accurate | usac_fast
    ransac_px: float = 6.0  # reprojection threshold, query pixels
    ransac_iters: int = 2000
    min_inliers: int = 10  # below this a candidate keeps its global score and order
    inlier_scale: float = 25.0  # tau of the inlier term 1 - exp(-inliers / tau)
    global_weight: float = 0.2  # lambda: verified score = 1 + (1 - lambda)(1 - exp(-n/tau)) + lambda * global


VERIFY_INDEX_TIME_KEYS = ("local_features", "detector", "max_keypoints", "max_side", "contrast_threshold",
                          "visual_words")


@dataclass
class RetrievalConfig:
    # --- fixed at index time (a search asking for other values is refused) ---
    backend: str = "exact"  # exact | faiss
    dtype: str = "float32"  # float32 | float16 (exact backend storage)
    faiss_factory: str = "Flat"  # FAISS factory string (backend=faiss): Flat | IVF256,PQ32 | HNSW32 ...
    attribute_weight: float = 0.3  # w of the fused descriptor x = L2([(1-w) F ; w a/|a|])
    fuzzy_k: int = 10  # K neighbours per database item kept for Eq. 14
    dba: bool = True  # database-side augmentation (Fig. 6 feedback to the library)
    dba_k: int = 5  # neighbours averaged into each database vector (self included)
    dba_alpha: float = 3.0  # weight sim^alpha of each neighbour
    attribute_data: str = "catalogue"  # labelled data for the forest when the indexed images have < 2 labels; "none" = error
    # --- free at search time ---
    fuzzy: bool = True  # Eq. 14 re-ranking of the top-M
    fuzzy_m: int = 100  # candidates re-ranked
    fuzzy_eta: float = 0.5  # score = (1 - eta) cos + eta s / (2K)
    query_expansion: bool = True  # alpha-QE
    qe_k: int = 5  # top results averaged into the query
    qe_alpha: float = 3.0
    faiss_params: str = ""  # FAISS search parameters, e.g. "nprobe=16" or "efSearch=64"
    threads: int = 0  # search threads; 0 = all cores
    # --- multi-object queries (issue 9; free at search time) ---
    multi_object: bool = False  # find product regions, search each and the whole photo, merge
    max_objects: int = 6  # regions searched besides the whole photo
    object_map_side: int = 1024  # photo resized to this longer side for the proposal map S' (finer than image_size)
    object_min_side: int = 48  # regions with a shorter side (query pixels) are dropped, counted
    object_proposals: str = "both"  # activation (components of thresholded S') | grid (R-MAC + NMS) | both
    object_top_m: int = 20  # shortlist per region added to the verified candidates
    # --- geometric verification (issue 9) ---
    verify: VerifyConfig = field(default_factory=VerifyConfig)


INDEX_TIME_KEYS = ("backend", "dtype", "faiss_factory", "attribute_weight", "fuzzy_k", "dba", "dba_k",
                   "dba_alpha", "attribute_data")
SEARCH_TIME_KEYS = ("fuzzy", "fuzzy_m", "fuzzy_eta", "query_expansion", "qe_k", "qe_alpha",
                    "faiss_params", "threads", "multi_object", "max_objects", "object_min_side",
                    "object_proposals", "object_top_m", "object_map_side")
#: ``verify`` holds both kinds: VERIFY_INDEX_TIME_KEYS must match the index, the rest are free.
NESTED_KEYS = ("verify",)


def _optional_fields(cls) -> list:
    """Every field Optional with default None; a nested dataclass becomes an all-optional one."""
    hints = get_type_hints(cls)
    out = []
    for f in fields(cls):
        kind = hints[f.name]
        if is_dataclass(kind):
            nested = make_dataclass(f"Search{kind.__name__}", _optional_fields(kind))
            out.append((f.name, nested, field(default_factory=nested)))
        else:
            out.append((f.name, Optional[kind], None))  # noqa: UP045 (OmegaConf needs typing.Optional)
    return out


#: ``dfcnn-search``'s ``retrieval`` section: every RetrievalConfig key, default None = "as stored
#: with the index". Search-time keys replace the stored value; index-time keys must equal it.
SearchRetrievalConfig = make_dataclass("SearchRetrievalConfig", _optional_fields(RetrievalConfig))
