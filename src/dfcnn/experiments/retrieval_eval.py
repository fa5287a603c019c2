"""Describe a dataset with one method, search every query against the database, score it."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
from omegaconf import DictConfig

from dfcnn.data.records import ImageRecord
from dfcnn.metrics.ranking import ranking_summary, relevance_matrix
from dfcnn.methods import build_describer
from dfcnn.retrieval.engine import SearchEngine, settings_from

log = logging.getLogger(__name__)


@dataclass
class MethodResult:
    """Everything the figures need from one method's run over the splits."""

    method: str
    metrics: dict[str, float]
    database: list[ImageRecord]
    queries: list[ImageRecord]
    ranked_ids: np.ndarray  # [n_queries, n_database] database ids, best first
    relevance: np.ndarray  # [n_queries, n_database] relevance in ranked order
    info: dict
    describer: object = None  # the fitted describer, for timing and consistency experiments
    index: object = None
    query_vectors: np.ndarray | None = None
    database_vectors: np.ndarray | None = None


def evaluate_method(cfg: DictConfig, splits, skip_log=None) -> MethodResult:
    """Fit on ``splits.train``, index ``splits.database``, rank it for every ``splits.query``.

    Ranking goes through the same search engine as ``dfcnn-search`` (fuzzy re-ranking, alpha-QE
    and DBA as ``cfg.retrieval`` sets them).
    """
    describer = build_describer(cfg)
    started = time.perf_counter()
    describer.fit(splits.train, skip_log=skip_log)
    fit_s = time.perf_counter() - started

    started = time.perf_counter()
    db_vectors, database = describer.transform(splits.database, skip_log=skip_log)
    q_vectors, queries = describer.transform(splits.query, skip_log=skip_log)
    n_images = len(database) + len(queries)
    extract_ms = 1000 * (time.perf_counter() - started) / max(n_images, 1)
    if not database or not queries:
        raise ValueError(f"method {cfg.method.name}: no usable database ({len(database)}) or query ({len(queries)}) images")

    index = SearchEngine.build(db_vectors, settings_from(cfg.retrieval))  # re-ranking + feedback as configured
    started = time.perf_counter()
    _, ranked_ids = index.search(q_vectors, k=index.ntotal)
    search_ms = 1000 * (time.perf_counter() - started) / len(queries)

    relevant = relevance_matrix(queries, database)
    ranked_rel = np.take_along_axis(relevant, ranked_ids, axis=1)
    metrics = ranking_summary(ranked_rel, relevant.sum(axis=1), ks=(1, 5, 10))
    metrics.update({"fit_s": fit_s, "extract_ms_per_image": extract_ms, "search_ms_per_query": search_ms,
                    "n_database": float(len(database)), "n_queries": float(len(queries)),
                    "descriptor_dim": float(db_vectors.shape[1])})
    log.info("%s: mAP %.3f  P@10 %.3f  (%d db, %d queries)", cfg.method.name, metrics["mAP"],
             metrics["P_at_10"], len(database), len(queries))
    return MethodResult(cfg.method.name, metrics, database, queries, ranked_ids, ranked_rel,
                        dict(getattr(describer, "info", {})), describer, index, q_vectors, db_vectors)
