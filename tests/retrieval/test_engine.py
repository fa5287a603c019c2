"""The search pipeline over vectors: switches, composition, settings checks, persistence."""

from dataclasses import replace

import numpy as np
import pytest

from dfcnn.config.retrieval import RetrievalConfig
from dfcnn.retrieval.engine import SearchEngine, SettingsMismatchError, apply_overrides
from dfcnn.retrieval.expansion import alpha_query_expansion
from dfcnn.retrieval.fuzzy import fuzzy_rerank


@pytest.fixture(scope="module")
def vectors():
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((5, 16))
    x = centres[np.arange(200) % 5] + 0.5 * rng.standard_normal((200, 16))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


PLAIN = RetrievalConfig(fuzzy=False, query_expansion=False, dba=False, fuzzy_k=5, fuzzy_m=30)


def test_plain_search_is_exact_cosine(vectors):
    engine = SearchEngine.build(vectors, PLAIN)
    scores, ids = engine.search(vectors[:4], 7)
    truth = np.argsort(-(vectors[:4] @ vectors.T), axis=1, kind="stable")[:, :7]
    np.testing.assert_array_equal(ids, truth)
    assert ids[:, 0].tolist() == [0, 1, 2, 3]


def test_fuzzy_is_rerank_of_top_m(vectors):
    settings = replace(PLAIN, fuzzy=True, fuzzy_eta=0.7)
    engine = SearchEngine.build(vectors, settings)
    q = vectors[10:13] + 0.1
    s_top, i_top = engine.index.search(q, 30)
    expected_s, expected_i = fuzzy_rerank(s_top, i_top, engine.graph_ids, engine.graph_sims, 0.7)
    scores, ids = engine.search(q, 8)
    np.testing.assert_array_equal(ids, expected_i[:, :8])
    np.testing.assert_allclose(scores, expected_s[:, :8], rtol=1e-6)
    assert engine.graph_ids.shape == (200, 5)


def test_query_expansion_searches_the_expanded_query(vectors):
    settings = replace(PLAIN, query_expansion=True, qe_k=3, qe_alpha=2.0)
    engine = SearchEngine.build(vectors, settings)
    q = vectors[20:22] + 0.2
    s0, i0 = engine.index.search(q, 3)
    q2 = alpha_query_expansion(q, s0, i0, vectors, 2.0)
    expected = engine.index.search(q2, 6)
    got = engine.search(q, 6)
    np.testing.assert_array_equal(got[1], expected[1])


def test_dba_changes_the_indexed_vectors_not_the_descriptors(vectors):
    engine = SearchEngine.build(vectors, replace(PLAIN, dba=True, dba_k=3, dba_alpha=1.0))
    assert np.array_equal(engine.descriptors, vectors)
    assert not np.allclose(engine.vectors, vectors)
    np.testing.assert_allclose(np.linalg.norm(engine.vectors, axis=1), 1.0, rtol=1e-5)


def test_dimension_and_top_k_errors(vectors):
    engine = SearchEngine.build(vectors, PLAIN)
    with pytest.raises(ValueError, match="dimension 17.*dimension 16"):
        engine.search(np.ones(17, np.float32), 3)
    with pytest.raises(ValueError, match="positive"):
        engine.search(vectors[0], 0)
    assert engine.search(vectors[0], 10_000)[1].shape == (1, 200)
    with pytest.raises(ValueError, match="no images"):
        SearchEngine.build(np.zeros((0, 16), np.float32), PLAIN)


def test_overrides_search_time_free_index_time_refused():
    stored = RetrievalConfig(attribute_weight=0.3, dba=True)
    out = apply_overrides(stored, {"fuzzy": False, "fuzzy_eta": 0.2, "attribute_weight": 0.3})
    assert (out.fuzzy, out.fuzzy_eta, out.dba) == (False, 0.2, True)
    with pytest.raises(SettingsMismatchError, match=r"attribute_weight=0.5 \(index built with 0.3\)"):
        apply_overrides(stored, {"attribute_weight": 0.5})
    with pytest.raises(SettingsMismatchError, match="dba"):
        apply_overrides(stored, {"dba": False})
    with pytest.raises(ValueError, match="unknown"):
        apply_overrides(stored, {"fuzy": True})


@pytest.mark.parametrize("settings", [
    RetrievalConfig(fuzzy_k=4, fuzzy_m=20, dba=False, query_expansion=False),
    RetrievalConfig(fuzzy_k=4, fuzzy_m=20, dtype="float16", dba=True, query_expansion=True),
    RetrievalConfig(fuzzy_k=4, fuzzy_m=20, backend="faiss", faiss_factory="HNSW16"),
], ids=["exact", "exact-fp16-dba-qe", "faiss-hnsw"])
def test_save_load_round_trip(vectors, settings, tmp_path):
    pytest.importorskip("faiss")
    engine = SearchEngine.build(vectors, settings)
    names = engine.save(str(tmp_path))
    assert all((tmp_path / n).is_file() for n in names)
    again = SearchEngine.load(str(tmp_path), settings)
    q = vectors[:5] + 0.05
    for a, b in zip(engine.search(q, 9), again.search(q, 9)):
        np.testing.assert_array_equal(a, b)


def test_only_the_top_m_are_reranked(vectors):
    settings = replace(PLAIN, fuzzy=True, fuzzy_eta=0.6, fuzzy_m=12)
    engine = SearchEngine.build(vectors, settings)
    q = vectors[30:32] + 0.1
    s_all, i_all = engine.index.search(q, 200)
    scores, ids = engine.search(q, 200)
    head_s, head_i = fuzzy_rerank(s_all[:, :12], i_all[:, :12], engine.graph_ids, engine.graph_sims, 0.6)
    np.testing.assert_array_equal(ids[:, :12], head_i)
    np.testing.assert_array_equal(ids[:, 12:], i_all[:, 12:])
    np.testing.assert_allclose(scores[:, 12:], 0.4 * s_all[:, 12:], rtol=1e-6)
    assert np.all(np.diff(scores, axis=1) <= 1e-6)
