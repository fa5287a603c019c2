"""Schema of the Hydra group ``retrieval`` (SPEC §2.5)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RetrievalConfig:
    backend: str = "exact"  # exact | faiss
    dtype: str = "float32"  # float32 | float16 (exact backend)
    attribute_weight: float = 0.3  # w of the fused descriptor
    fuzzy: bool = True  # Eq. 14 re-ranking
    fuzzy_k: int = 10
    fuzzy_m: int = 100
    fuzzy_eta: float = 0.5
    query_expansion: bool = False  # alpha-QE
    qe_k: int = 5
    qe_alpha: float = 3.0
    dba: bool = False  # database-side augmentation
    dba_k: int = 5
