"""Schema of the Hydra group ``retrieval`` (SPEC §2.5).

Keys split in two: those fixed when an index is built (they shape the stored vectors, the
search structure and the neighbour graph) and those a search may change freely.

Defaults chosen on the development data (experiments/benchmarks/retrieval_quality.py, image
size 256): on caltech101-mini w = 0.3 with Eq. 14 re-ranking + αQE + DBA gave the best P@10
(0.919; mAP 0.871 vs 0.744 for plain cosine at the same w, 0.415 for CNN alone); on coco256
(2 forest classes) the attributes are neutral and the three switches add a little (mAP 0.4525 vs 0.4425).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, make_dataclass
from typing import Optional, get_type_hints


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


INDEX_TIME_KEYS = ("backend", "dtype", "faiss_factory", "attribute_weight", "fuzzy_k", "dba", "dba_k",
                   "dba_alpha", "attribute_data")
SEARCH_TIME_KEYS = ("fuzzy", "fuzzy_m", "fuzzy_eta", "query_expansion", "qe_k", "qe_alpha",
                    "faiss_params", "threads")


def _optional_fields(cls) -> list:
    hints = get_type_hints(cls)
    return [(f.name, Optional[hints[f.name]], None) for f in fields(cls)]


#: ``dfcnn-search``'s ``retrieval`` section: every RetrievalConfig key, default None = "as stored
#: with the index". Search-time keys replace the stored value; index-time keys must equal it.
SearchRetrievalConfig = make_dataclass("SearchRetrievalConfig", _optional_fields(RetrievalConfig))
