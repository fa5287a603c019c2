"""The search pipeline over descriptor vectors: DBA at build time; αQE, search, Eq. 14 re-ranking at query time.

Knows nothing about images; ``Retriever`` puts a describer in front of it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass, fields, is_dataclass, replace

import numpy as np

from dfcnn.config.retrieval import (
    INDEX_TIME_KEYS,
    NESTED_KEYS,
    SEARCH_TIME_KEYS,
    VERIFY_INDEX_TIME_KEYS,
    RetrievalConfig,
    VerifyConfig,
)
from dfcnn.persist import atomic_save_npy
from dfcnn.retrieval.expansion import alpha_query_expansion, database_augmentation
from dfcnn.retrieval.fuzzy import fuzzy_rerank, neighbour_graph
from dfcnn.retrieval.index import Index, load_index, make_index

log = logging.getLogger(__name__)


class SettingsMismatchError(ValueError):
    """A search asked for index-time settings that differ from those the index was built with."""


def settings_from(cfg) -> RetrievalConfig:
    """A RetrievalConfig from a DictConfig / dict / RetrievalConfig (unknown keys are an error)."""
    if isinstance(cfg, RetrievalConfig):
        return cfg
    if cfg is None:
        return RetrievalConfig()
    from omegaconf import DictConfig, OmegaConf

    data = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    known = {f.name for f in fields(RetrievalConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown retrieval setting(s) {unknown}; known: {sorted(known)}")
    if "verify" in data:  # absent from indexes built before issue 9: defaults (no local features)
        data["verify"] = verify_settings_from(data["verify"])
    return RetrievalConfig(**data)


def verify_settings_from(cfg) -> VerifyConfig:
    """A VerifyConfig from a dict / VerifyConfig / None (unknown keys are an error)."""
    if isinstance(cfg, VerifyConfig):
        return cfg
    data = _plain(cfg)
    known = {f.name for f in fields(VerifyConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown retrieval.verify setting(s) {unknown}; known: {sorted(known)}")
    return VerifyConfig(**data)


def _plain(cfg) -> dict:
    if cfg is None:
        return {}
    if is_dataclass(cfg):
        return asdict(cfg)
    from omegaconf import DictConfig, OmegaConf

    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)


def apply_overrides(stored: RetrievalConfig, overrides: dict | None) -> RetrievalConfig:
    """Search-time keys replace the stored ones; index-time keys must equal them (else refuse)."""
    overrides = {k: v for k, v in dict(overrides or {}).items() if v is not None}
    known = set(INDEX_TIME_KEYS) | set(SEARCH_TIME_KEYS) | set(NESTED_KEYS)
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown retrieval setting(s) {unknown}; known: {sorted(known)}")
    verify = stored.verify
    if "verify" in overrides:  # nested: None = as stored; index-time keys must match, the rest replace
        asked = {k: v for k, v in _plain(overrides.pop("verify")).items() if v is not None}
        verify_settings_from(asked)  # unknown keys are an error
        v_clashes = {f"verify.{k}": (getattr(verify, k), v) for k, v in asked.items()
                     if k in VERIFY_INDEX_TIME_KEYS and v != getattr(verify, k)}
        if asked.get("enabled") and not verify.local_features and "local_features" not in v_clashes:
            v_clashes["verify.local_features"] = (False, True)
        if v_clashes:
            text = ", ".join(f"retrieval.{k}={new!r} (index built with {old!r})" for k, (old, new) in v_clashes.items())
            raise SettingsMismatchError(
                f"these settings are fixed when the index is built and differ from it: {text}. Geometric "
                f"verification needs the database local features stored at index time: rebuild the index with "
                f"dfcnn-index retrieval.verify.local_features=true (and the same detector settings).")
        verify = replace(verify, **{k: v for k, v in asked.items() if k not in VERIFY_INDEX_TIME_KEYS})
    clashes = {key: (getattr(stored, key), value) for key, value in overrides.items()
               if key in INDEX_TIME_KEYS and value != getattr(stored, key)}
    if clashes:
        text = ", ".join(f"retrieval.{k}={new!r} (index built with {old!r})" for k, (old, new) in clashes.items())
        raise SettingsMismatchError(
            f"these settings are fixed when the index is built and differ from it: {text}. "
            f"Rebuild the index with dfcnn-index using them, or drop them from the search.")
    return replace(stored, verify=verify, **{k: v for k, v in overrides.items() if k in SEARCH_TIME_KEYS})


@dataclass
class SearchEngine:
    """Indexed vectors + neighbour graph + the retrieval settings they were built with."""

    settings: RetrievalConfig
    descriptors: np.ndarray  # [N, d] float32 describer outputs, id order
    index: Index
    vectors: np.ndarray  # [N, d] float32 what is indexed (descriptors, or their DBA)
    graph_ids: np.ndarray  # [N, K] Eq. 14 neighbours
    graph_sims: np.ndarray  # [N, K]

    @classmethod
    def build(cls, descriptors: np.ndarray, settings: RetrievalConfig) -> SearchEngine:
        descriptors = np.ascontiguousarray(descriptors, dtype=np.float32)
        if descriptors.ndim != 2 or len(descriptors) == 0:
            raise ValueError(f"cannot index descriptors of shape {descriptors.shape}: no images were described")
        vectors = descriptors
        if settings.dba:
            exact = make_index(descriptors.shape[1], "exact", threads=settings.threads)
            exact.add(descriptors)
            vectors = database_augmentation(exact, descriptors, settings.dba_k, settings.dba_alpha)
        index = cls._new_index(vectors, settings)
        graph_ids, graph_sims = neighbour_graph(index, vectors, settings.fuzzy_k)
        id_dtype = np.int32 if len(vectors) < 2**31 else np.int64
        return cls(settings, descriptors, index, vectors, graph_ids.astype(id_dtype), graph_sims)

    @staticmethod
    def _new_index(vectors: np.ndarray, settings: RetrievalConfig) -> Index:
        index = make_index(vectors.shape[1], settings.backend, dtype=settings.dtype, factory=settings.faiss_factory,
                           threads=settings.threads, params=settings.faiss_params)
        index.add(vectors)
        return index

    @property
    def ntotal(self) -> int:
        return self.index.ntotal

    @property
    def dim(self) -> int:
        return self.descriptors.shape[1]

    def with_settings(self, overrides: dict | None) -> SearchEngine:
        """The same engine under search-time overrides (index-time ones must match)."""
        settings = apply_overrides(self.settings, overrides)
        if settings.backend == "faiss" and settings.faiss_params != self.settings.faiss_params:
            self.index.set_params(settings.faiss_params)
        if hasattr(self.index, "threads"):
            self.index.threads = settings.threads
        return replace(self, settings=settings)

    def search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Ranked (scores, ids), [nq, min(k, N)]: αQE (if on) → search → Eq. 14 re-ranking (if on)."""
        q = np.atleast_2d(np.asarray(q, dtype=np.float32))
        if q.shape[1] != self.dim:
            raise ValueError(f"query descriptor has dimension {q.shape[1]}, the index holds dimension {self.dim} "
                             f"(was the index built with another method or settings?)")
        if k <= 0:
            raise ValueError(f"top_k must be positive, got {k}")
        s = self.settings
        k = min(int(k), self.ntotal)
        if s.query_expansion and s.qe_k > 0:
            first_s, first_i = self.index.search(q, min(s.qe_k, self.ntotal))
            q = alpha_query_expansion(q, first_s, first_i, self.vectors, s.qe_alpha)
        rerank = s.fuzzy and self.graph_ids.shape[1] > 0 and s.fuzzy_eta > 0
        m = min(max(s.fuzzy_m, self.graph_ids.shape[1]), self.ntotal)
        scores, ids = self.index.search(q, max(k, m) if rerank else k)
        if rerank:
            # the top-M are re-ranked; any deeper results keep their cosine order, scored (1 - eta) cos
            # (no fuzzy term computed), which keeps every score below those of the re-ranked head
            head_s, head_i = fuzzy_rerank(scores[:, :m], ids[:, :m], self.graph_ids, self.graph_sims, s.fuzzy_eta)
            scores = np.concatenate([head_s, (1.0 - s.fuzzy_eta) * scores[:, m:]], axis=1)
            ids = np.concatenate([head_i, ids[:, m:]], axis=1)
        return scores[:, :k], ids[:, :k]

    # --- persistence (plain .npy + FAISS's binary format; no pickle) ---
    def save(self, directory: str) -> list[str]:
        """Write the arrays into ``directory``; returns the file names written."""
        os.makedirs(directory, exist_ok=True)
        names = ["descriptors.npy", "graph_ids.npy", "graph_sims.npy"]
        atomic_save_npy(os.path.join(directory, "descriptors.npy"), self.descriptors)
        atomic_save_npy(os.path.join(directory, "graph_ids.npy"), self.graph_ids)
        atomic_save_npy(os.path.join(directory, "graph_sims.npy"), self.graph_sims)
        if self.settings.dba:
            atomic_save_npy(os.path.join(directory, "vectors.npy"), self.vectors)
            names.append("vectors.npy")
        if self.settings.backend != "exact":
            self.index.save(os.path.join(directory, "index"))
            names += ["index/index.json", "index/faiss.index"]
        return names

    @classmethod
    def load(cls, directory: str, settings: RetrievalConfig, mmap: bool = False) -> SearchEngine:
        def npy(name):
            return np.load(os.path.join(directory, name), allow_pickle=False, mmap_mode="r" if mmap else None)

        descriptors = npy("descriptors.npy")
        vectors = npy("vectors.npy") if settings.dba else descriptors
        graph_ids, graph_sims = npy("graph_ids.npy"), npy("graph_sims.npy")
        n = len(descriptors)
        if vectors.shape != descriptors.shape or graph_ids.shape[0] != n or graph_sims.shape != graph_ids.shape:
            raise ValueError(f"{directory}: array shapes disagree (descriptors {descriptors.shape}, vectors "
                             f"{vectors.shape}, graph {graph_ids.shape}/{graph_sims.shape})")
        if settings.backend == "exact":
            index = cls._new_index(np.asarray(vectors), settings)
        else:
            index = load_index(os.path.join(directory, "index"), threads=settings.threads, params=settings.faiss_params)
        if index.ntotal != n:
            raise ValueError(f"{directory}: the search index holds {index.ntotal} vectors, descriptors.npy {n}")
        return cls(settings, descriptors, index, vectors, graph_ids, graph_sims)


def settings_dict(settings: RetrievalConfig) -> dict:
    return asdict(settings)
