"""Fuzzy semantic similarity (Eq. 14 of the paper, as SPEC §2.5 reads it) and the re-ranking it drives.

Every database item i keeps its K nearest neighbours P_i^1..K with their cosines. The fuzzy set
ξ_i has membership μ_i(x) = cos(x, i) for x ∈ {i} ∪ N_K(i), 0 elsewhere, and

    s_ij = Σ_{k=1..K} ( μ_i(P_j^k) + μ_j(P_i^k) )           (Eq. 14)

so s_ij / (2K) ∈ [0, 1] measures how much the two neighbourhoods agree. A query gets its own K
neighbours from the index (the head of its ranking), and the top-M candidates are re-ranked by
(1 − η) · cos(q, d) + η · s_qd / (2K). Everything needed is in the neighbour lists and their
cosines, so re-ranking touches no vectors.
"""

from __future__ import annotations

import numpy as np

from dfcnn.retrieval.exact import sort_rows

GRAPH_CHUNK = 2_048  # database rows searched together when building the neighbour graph
RERANK_CHUNK = 256  # queries re-ranked together (bounds the [chunk, M, K, K] match tensor)


def neighbour_graph(index, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The K nearest neighbours of every indexed item, itself first: (ids [N, K], cos [N, K]).

    Each item leads its own list (cosine 1), as it leads any search for it: so the fuzzy set
    {i} ∪ N_K(i) of Eq. 14 is exactly the list, and a query that is a copy of item c treats c
    and c's look-alikes the same way on both sides of s_qc. K is capped at N. Approximate
    backends may leave slots empty: id −1, cosine 0 (they never match anything in Eq. 14).
    """
    n = index.ntotal
    k = min(int(k), n)
    if k <= 0:
        return np.zeros((n, 0), np.int64), np.zeros((n, 0), np.float32)
    all_ids, all_sims = [], []
    for start in range(0, n, GRAPH_CHUNK):
        block = np.asarray(vectors[start:start + GRAPH_CHUNK], dtype=np.float32)
        scores, ids = index.search(block, k)
        own = np.arange(start, start + len(block))[:, None]
        others = ids != own  # drop self wherever it landed (ties with duplicates), then put it first
        order = np.argsort(~others, axis=1, kind="stable")[:, : k - 1]
        ids = np.concatenate([own, np.take_along_axis(ids, order, axis=1)], axis=1)
        scores = np.concatenate([np.ones((len(block), 1), np.float32), np.take_along_axis(scores, order, axis=1)], axis=1)
        all_ids.append(np.where(ids < 0, -1, ids))
        all_sims.append(np.where(ids < 0, 0.0, scores).astype(np.float32))
    return np.concatenate(all_ids), np.concatenate(all_sims)


def fuzzy_similarity(q_ids: np.ndarray, q_sims: np.ndarray, cand_nbr_ids: np.ndarray, cand_nbr_sims: np.ndarray) -> np.ndarray:
    """Eq. 14 between each query and each of its candidates: s_qd, shape [nq, M].

    q_ids, q_sims: [nq, K] the query's neighbours P_q^k and cos(q, P_q^k);
    cand_nbr_ids, cand_nbr_sims: [nq, M, K] the stored neighbours P_d^k of each candidate d and
    cos(d, P_d^k).
    Term μ_q(P_d^k) = cos(q, P_d^k) when P_d^k ∈ N_K(q); term μ_d(P_q^k) = cos(d, P_q^k) when
    P_q^k is in d's stored list (which holds d itself, with cosine 1).
    """
    valid_q = q_ids >= 0
    match = (cand_nbr_ids[:, :, :, None] == q_ids[:, None, None, :]) & valid_q[:, None, None, :]
    mu_q = (match * q_sims[:, None, None, :]).sum(axis=(2, 3))
    mu_d = (match * cand_nbr_sims[:, :, :, None]).sum(axis=(2, 3))
    return (mu_q + mu_d).astype(np.float32)


def fuzzy_rerank(scores: np.ndarray, ids: np.ndarray, graph_ids: np.ndarray, graph_sims: np.ndarray,
                 eta: float) -> tuple[np.ndarray, np.ndarray]:
    """Re-rank each query's candidates (scores/ids [nq, M], best first) by
    (1 − η) cos(q, d) + η s_qd / (2K); the query's K neighbours are its first K candidates."""
    k = graph_ids.shape[1]
    if k == 0 or eta == 0 or scores.shape[1] == 0:
        return scores, ids
    if scores.shape[1] < k:
        raise ValueError(f"re-ranking needs at least K={k} candidates per query, got {scores.shape[1]}")
    out_s, out_i = [], []
    for start in range(0, len(ids), RERANK_CHUNK):
        s, i = scores[start:start + RERANK_CHUNK], ids[start:start + RERANK_CHUNK]
        valid = i >= 0
        safe = np.where(valid, i, 0)
        q_ids = np.where(valid[:, :k], i[:, :k], -1)
        q_sims = np.where(valid[:, :k], s[:, :k], 0.0)
        cand_nbr_ids = np.where(valid[:, :, None], graph_ids[safe], -1)
        cand_nbr_sims = np.where(valid[:, :, None], graph_sims[safe], 0.0)
        fuzzy = fuzzy_similarity(q_ids, q_sims, cand_nbr_ids, cand_nbr_sims)
        combined = (1.0 - eta) * s + eta * fuzzy / (2 * k)
        combined = np.where(valid, combined, -np.inf).astype(np.float32)
        cs, ci = sort_rows(combined, i)
        out_s.append(cs)
        out_i.append(ci)
    return np.concatenate(out_s), np.concatenate(out_i)
