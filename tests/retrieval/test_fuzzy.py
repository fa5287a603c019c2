"""Eq. 14 fuzzy semantic similarity and the re-ranking, against hand-computed values."""

import numpy as np
import pytest

from dfcnn.retrieval.exact import ExactIndex
from dfcnn.retrieval.fuzzy import fuzzy_rerank, fuzzy_similarity, neighbour_graph

# K = 2 neighbours per database item, with their cosines (hand-made graph of 4 items)
GRAPH_IDS = np.array([[1, 2], [0, 3], [3, 0], [2, 1]])
GRAPH_SIMS = np.array([[0.9, 0.5], [0.9, 0.4], [0.8, 0.5], [0.8, 0.4]], dtype=np.float32)
# one query's ranking: candidates and cos(q, d); its own K neighbours are 0 and 2
CAND = np.array([[0, 2, 1, 3]])
COS = np.array([[0.95, 0.7, 0.6, 0.1]], dtype=np.float32)


def test_eq14_hand_computed():
    # s_q0 = mu_q(1) + mu_q(2) + mu_0(0) + mu_0(2) = 0 + .7 + 1 + .5 ; s_q2 = 0 + .95 + .5 + 1
    # s_q1 = .95 + 0 + .9 + 0 ; s_q3 = .7 + 0 + 0 + .8
    s = fuzzy_similarity(CAND[:, :2], COS[:, :2], CAND, GRAPH_IDS[CAND], GRAPH_SIMS[CAND])
    np.testing.assert_allclose(s, [[2.2, 2.45, 1.85, 1.5]], rtol=1e-6)


def test_rerank_combines_cosine_and_fuzzy_score():
    # eta = 0.9: score = 0.1 cos + 0.9 s / 4
    scores, ids = fuzzy_rerank(COS, CAND, GRAPH_IDS, GRAPH_SIMS, eta=0.9)
    assert ids.tolist() == [[2, 0, 1, 3]]
    np.testing.assert_allclose(scores, [[0.62125, 0.59, 0.47625, 0.3475]], rtol=1e-5)
    # eta = 0.5 keeps the cosine order here
    scores, ids = fuzzy_rerank(COS, CAND, GRAPH_IDS, GRAPH_SIMS, eta=0.5)
    assert ids.tolist() == [[0, 2, 1, 3]]
    np.testing.assert_allclose(scores, [[0.75, 0.65625, 0.53125, 0.2375]], rtol=1e-5)


def test_missing_slots_never_match():
    ids = np.array([[0, -1, 1, 3]])
    cos = np.array([[0.95, -np.inf, 0.6, 0.1]], dtype=np.float32)
    scores, out = fuzzy_rerank(cos, ids, GRAPH_IDS, GRAPH_SIMS, eta=0.5)
    assert out[0, -1] == -1 and np.isneginf(scores[0, -1])
    # query neighbours = [0, -1]: s_q0 = mu_q(1) + mu_q(2) + mu_0(0) = 0 + 0 + 1
    assert scores[0, 0] == pytest.approx(0.5 * 0.95 + 0.5 * 1.0 / 4)


def test_neighbour_graph_excludes_self_even_with_duplicates():
    angles = np.deg2rad([0, 30, 90, 100])
    x = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)
    index = ExactIndex(2)
    index.add(x)
    ids, sims = neighbour_graph(index, x, k=1)
    assert ids[:, 0].tolist() == [1, 0, 3, 2]
    np.testing.assert_allclose(sims[:, 0], np.cos(np.deg2rad([30, 30, 10, 10])), rtol=1e-5)

    dup = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32)
    index = ExactIndex(2)
    index.add(dup)
    ids, sims = neighbour_graph(index, dup, k=5)  # K capped at N - 1
    assert ids.shape == (3, 2)
    assert ids[0].tolist() == [1, 2] and ids[1].tolist() == [0, 2]
    assert all(i not in row for i, row in enumerate(ids.tolist()))
