"""Ranking metrics of SPEC §5: AP/mAP, P@k, R@k, top-1, false retrieval proportion, content matching.

Each function takes, per query, a boolean vector ``rel`` of the ranked results (True = relevant)
and, where recall-type metrics need it, the number of relevant items in the whole database.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from dfcnn.data.records import ImageRecord


def is_relevant(query: ImageRecord, item: ImageRecord) -> bool:
    """Instance ids intersect where both sides have them; otherwise the label sets intersect."""
    query_ids, item_ids = query.instance_set(), item.instance_set()
    if query_ids and item_ids:
        return bool(query_ids & item_ids)
    return bool(query.label_set() & item.label_set())


def relevance_matrix(queries: Sequence[ImageRecord], database: Sequence[ImageRecord]) -> np.ndarray:
    """``[n_queries, n_database]`` booleans of SPEC §5's relevance rule."""
    return np.array([[is_relevant(q, d) for d in database] for q in queries], dtype=bool).reshape(
        len(queries), len(database))


def average_precision(rel: np.ndarray, n_relevant: int | None = None) -> float:
    """AP of one ranking: mean of precision@i over the ranks i of relevant results.

    ``n_relevant`` is the total relevant in the database (defaults to those in ``rel``, i.e.
    ``rel`` is the full ranking). A query with no relevant item has AP 0.
    """
    rel = np.asarray(rel, dtype=bool)
    total = int(rel.sum()) if n_relevant is None else int(n_relevant)
    if total == 0:
        return 0.0
    hits = np.cumsum(rel)
    ranks = np.arange(1, len(rel) + 1)
    return float((hits[rel] / ranks[rel]).sum() / total)


def precision_at(rel: np.ndarray, k: int) -> float:
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    return float(np.asarray(rel[:k], dtype=bool).sum() / k)


def recall_at(rel: np.ndarray, k: int, n_relevant: int) -> float:
    if n_relevant <= 0:
        return 0.0
    return float(np.asarray(rel[:k], dtype=bool).sum() / n_relevant)


def false_retrieval_proportion(rel: np.ndarray, top_l: int = 10) -> float:
    """FRP(L): fraction of the top-L results that are not relevant (Fig. 10)."""
    return 1.0 - precision_at(rel, top_l)


def cumulative_mean(values: Sequence[float]) -> np.ndarray:
    """Running mean over searches n = 1..N (Fig. 10's curve)."""
    values = np.asarray(values, dtype=float)
    return np.cumsum(values) / np.arange(1, len(values) + 1)


def jaccard(a: frozenset, b: frozenset) -> float:
    union = a | b
    return len(a & b) / len(union) if union else 1.0


def content_matching_degree(query_labels: frozenset, result_labels: Sequence[frozenset], top_l: int) -> float:
    """CMD(L): mean Jaccard between the query's label set and each top-L result's (Fig. 11)."""
    top = list(result_labels)[:top_l]
    if not top:
        return 0.0
    return float(np.mean([jaccard(query_labels, labels) for labels in top]))


def ranking_summary(rel_ranked: np.ndarray, n_relevant: np.ndarray, ks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    """mAP, P@k, R@k and top-1 over queries; ``rel_ranked[q]`` is query q's ranked relevance."""
    out = {"mAP": float(np.mean([average_precision(r, n) for r, n in zip(rel_ranked, n_relevant)]))}
    for k in ks:
        out[f"P_at_{k}"] = float(np.mean([precision_at(r, k) for r in rel_ranked]))
        out[f"R_at_{k}"] = float(np.mean([recall_at(r, k, n) for r, n in zip(rel_ranked, n_relevant)]))
    out["top1"] = float(np.mean([bool(r[0]) if len(r) else False for r in rel_ranked]))
    return out
