"""Eq. 14 fuzzy semantic similarity and the re-ranking, against hand-computed values."""

import numpy as np
import pytest

from dfcnn.retrieval.exact import ExactIndex
from dfcnn.retrieval.fuzzy import fuzzy_rerank, fuzzy_similarity, neighbour_graph

# K = 2 neighbours per database item, itself first (cos 1), hand-made graph of 4 items
GRAPH_IDS = np.array([[0, 1], [1, 0], [2, 3], [3, 2]])
GRAPH_SIMS = np.array([[1, 0.9], [1, 0.9], [1, 0.8], [1, 0.8]], dtype=np.float32)
# one query's ranking: candidates and cos(q, d); its own K neighbours are 0 and 2
CAND = np.array([[0, 2, 1, 3]])
COS = np.array([[0.95, 0.7, 0.6, 0.1]], dtype=np.float32)


def test_eq14_hand_computed():
    # s_qd = mu_q(P_d^1) + mu_q(P_d^2) + mu_d(P_q^1 = 0) + mu_d(P_q^2 = 2)
    # s_q0 = .95 + 0 + 1 + 0 ; s_q2 = .7 + 0 + 0 + 1 ; s_q1 = 0 + .95 + .9 + 0 ; s_q3 = 0 + .7 + 0 + .8
    s = fuzzy_similarity(CAND[:, :2], COS[:, :2], GRAPH_IDS[CAND], GRAPH_SIMS[CAND])
    np.testing.assert_allclose(s, [[1.95, 1.7, 1.85, 1.5]], rtol=1e-6)


def test_rerank_combines_cosine_and_fuzzy_score():
    # eta = 0.9: score = 0.1 cos + 0.9 s / 4 -> item 1 (a neighbour of the query's best match) climbs over 2
    scores, ids = fuzzy_rerank(COS, CAND, GRAPH_IDS, GRAPH_SIMS, eta=0.9)
    assert ids.tolist() == [[0, 1, 2, 3]]
    np.testing.assert_allclose(scores, [[0.53375, 0.47625, 0.4525, 0.3475]], rtol=1e-5)
    # eta = 0.5 keeps the cosine order here
    scores, ids = fuzzy_rerank(COS, CAND, GRAPH_IDS, GRAPH_SIMS, eta=0.5)
    assert ids.tolist() == [[0, 2, 1, 3]]
    np.testing.assert_allclose(scores, [[0.71875, 0.5625, 0.53125, 0.2375]], rtol=1e-5)


def test_missing_slots_never_match():
    ids = np.array([[0, -1, 1, 3]])
    cos = np.array([[0.95, -np.inf, 0.6, 0.1]], dtype=np.float32)
    scores, out = fuzzy_rerank(cos, ids, GRAPH_IDS, GRAPH_SIMS, eta=0.5)
    assert out[0, -1] == -1 and np.isneginf(scores[0, -1])
    # query neighbours = [0, -1]: s_q0 = mu_q(0) + mu_q(1) + mu_0(0) = .95 + 0 + 1
    assert scores[0, 0] == pytest.approx(0.5 * 0.95 + 0.5 * 1.95 / 4)


def test_exact_copy_stays_first_against_a_close_lookalike():
    # database: c, a look-alike of c, and two others; the query is c itself
    x = np.array([[1, 0, 0], [0.98, 0.199, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    index = ExactIndex(3)
    index.add(x)
    graph_ids, graph_sims = neighbour_graph(index, x, k=2)
    scores, ids = index.search(x[:1], 4)
    _, reranked = fuzzy_rerank(scores, ids, graph_ids, graph_sims, eta=0.5)
    assert reranked[0, 0] == 0


def test_neighbour_graph_puts_self_first_even_with_duplicates():
    angles = np.deg2rad([0, 30, 90, 100])
    x = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)
    index = ExactIndex(2)
    index.add(x)
    ids, sims = neighbour_graph(index, x, k=2)
    assert ids.tolist() == [[0, 1], [1, 0], [2, 3], [3, 2]]
    np.testing.assert_allclose(sims[:, 1], np.cos(np.deg2rad([30, 30, 10, 10])), rtol=1e-5)
    np.testing.assert_allclose(sims[:, 0], 1.0)

    dup = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32)
    index = ExactIndex(2)
    index.add(dup)
    ids, sims = neighbour_graph(index, dup, k=5)  # K capped at N
    assert ids.shape == (3, 3)
    assert ids[:, 0].tolist() == [0, 1, 2]
    assert ids[0].tolist() == [0, 1, 2] and ids[1].tolist() == [1, 0, 2]
