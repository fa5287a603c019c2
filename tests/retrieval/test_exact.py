import numpy as np
import pytest

from dfcnn.retrieval import exact
from dfcnn.retrieval.exact import ExactIndex


def _unit(rng, n, d):
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_search_matches_brute_force(monkeypatch, dtype):
    monkeypatch.setattr(exact, "BLOCK_ROWS", 7)  # force several blocks
    rng = np.random.default_rng(0)
    db, q = _unit(rng, 50, 16), _unit(rng, 4, 16)
    index = ExactIndex(16, dtype=dtype)
    index.add(db[:30])
    index.add(db[30:])
    assert index.ntotal == 50
    scores, ids = index.search(q, 5)
    full = q @ db.astype(dtype).astype(np.float32).T
    expected = np.argsort(-full, axis=1)[:, :5]
    np.testing.assert_array_equal(ids, expected)
    np.testing.assert_allclose(scores, np.take_along_axis(full, expected, axis=1), rtol=1e-5)


def test_k_larger_than_index_and_errors():
    index = ExactIndex(3)
    with pytest.raises(ValueError, match="empty"):
        index.search(np.ones(3), 1)
    index.add(np.eye(3, dtype=np.float32))
    scores, ids = index.search(np.array([0, 1, 0.5], np.float32), 10)
    assert ids.tolist() == [[1, 2, 0]]
    with pytest.raises(ValueError, match="dimension 3"):
        index.search(np.ones(4), 1)
    with pytest.raises(ValueError, match="positive"):
        index.search(np.ones(3), 0)
    with pytest.raises(ValueError, match="NaN"):
        index.add(np.full((1, 3), np.nan))
