"""Every index backend honours the same contract: add, search(q, k) -> (scores, ids), ntotal, save/load."""

import numpy as np
import pytest

from dfcnn.retrieval import exact
from dfcnn.retrieval.index import load_index, make_index

pytest.importorskip("faiss")

BACKENDS = {
    "exact-float32": dict(backend="exact", dtype="float32"),
    "exact-float16": dict(backend="exact", dtype="float16"),
    "exact-threads": dict(backend="exact", dtype="float32", threads=3),
    "faiss-flat": dict(backend="faiss", factory="Flat"),
    "faiss-hnsw": dict(backend="faiss", factory="HNSW16", params="efSearch=128"),
    "faiss-ivfpq": dict(backend="faiss", factory="IVF4,PQ8x4", params="nprobe=4"),
}
EXACT = {"exact-float32", "exact-float16", "exact-threads", "faiss-flat"}


def _clustered(rng, n, d, n_centres=8):
    centres = rng.standard_normal((n_centres, d)).astype(np.float32)
    x = centres[rng.integers(0, n_centres, n)] + 0.3 * rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return _clustered(rng, 600, 32), _clustered(rng, 20, 32)


@pytest.mark.parametrize("name", list(BACKENDS))
def test_search_agrees_with_brute_force(name, data, monkeypatch, tmp_path):
    monkeypatch.setattr(exact, "BLOCK_ROWS", 97)  # several blocks for the exact backend
    db, q = data
    index = make_index(32, **BACKENDS[name])
    index.add(db[:400])
    index.add(db[400:])
    assert index.ntotal == 600
    scores, ids = index.search(q, 10)
    assert scores.shape == ids.shape == (20, 10)
    assert np.all(np.diff(scores, axis=1) <= 1e-6), "scores must come best first"
    truth = np.argsort(-(q @ db.T), axis=1, kind="stable")[:, :10]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, truth)])
    if name in EXACT:
        assert recall >= (0.97 if "float16" in name else 1.0)
        np.testing.assert_allclose(scores, np.take_along_axis(q @ db.T, ids, axis=1), atol=2e-3)
    else:
        # approximate: far above chance (10/600) -- HNSW near exact, 4-bit PQ on 32-d coarse
        assert recall >= (0.9 if "hnsw" in name else 0.3), f"{name}: recall@10 {recall:.2f}"

    index.save(str(tmp_path / name))
    again = load_index(str(tmp_path / name))
    assert again.ntotal == 600 and again.backend == index.backend
    s2, i2 = again.search(q, 10)
    np.testing.assert_array_equal(i2, ids)
    np.testing.assert_allclose(s2, scores, rtol=1e-6)


@pytest.mark.parametrize("name", ["exact-float32", "faiss-flat", "faiss-hnsw"])
def test_k_larger_than_index_is_clamped_and_bad_input_is_refused(name):
    index = make_index(3, **BACKENDS[name])
    with pytest.raises(ValueError, match="empty"):
        index.search(np.ones(3, np.float32), 1)
    index.add(np.eye(3, dtype=np.float32))
    scores, ids = index.search(np.array([0, 1, 0.5], np.float32), 10)
    assert ids.tolist() == [[1, 2, 0]]
    with pytest.raises(ValueError, match="dimension 3"):
        index.search(np.ones(4, np.float32), 1)
    with pytest.raises(ValueError, match="positive"):
        index.search(np.ones(3, np.float32), 0)
    with pytest.raises(ValueError, match="NaN"):
        index.add(np.full((1, 3), np.nan, np.float32))


def test_bad_backend_and_factory_are_clear():
    with pytest.raises(ValueError, match="backend"):
        make_index(4, "annoy")
    with pytest.raises(ValueError, match="factory"):
        make_index(4, "faiss", factory="NotAnIndex17")
    ivf = make_index(8, "faiss", factory="IVF64,Flat")
    with pytest.raises(ValueError, match="could not be trained"):
        ivf.add(np.eye(8, dtype=np.float32))
