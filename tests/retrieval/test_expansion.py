"""alpha-query-expansion, database-side augmentation and the fused descriptor, by hand."""

import numpy as np

from dfcnn.retrieval.exact import ExactIndex
from dfcnn.retrieval.expansion import alpha_query_expansion, database_augmentation
from dfcnn.retrieval.fused import fuse


def test_alpha_query_expansion_hand_computed():
    db = np.array([[0.8, 0.6], [0.6, 0.8]], dtype=np.float32)
    q = np.array([[1.0, 0.0]], dtype=np.float32)
    # alpha = 1: q' = q + 0.8 d0 + 0.6 d1 = [2.0, 0.96], then L2
    out = alpha_query_expansion(q, np.array([[0.8, 0.6]]), np.array([[0, 1]]), db, alpha=1.0)
    np.testing.assert_allclose(out, [[2.0, 0.96]] / np.hypot(2.0, 0.96), rtol=1e-6)
    # alpha = 3 weighs the closer neighbour more: 0.512 d0 + 0.216 d1
    out = alpha_query_expansion(q, np.array([[0.8, 0.6]]), np.array([[0, 1]]), db, alpha=3.0)
    v = np.array([1 + 0.512 * 0.8 + 0.216 * 0.6, 0.512 * 0.6 + 0.216 * 0.8])
    np.testing.assert_allclose(out[0], v / np.linalg.norm(v), rtol=1e-6)


def test_database_augmentation_hand_computed():
    x = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]], dtype=np.float32)
    index = ExactIndex(2)
    index.add(x)
    out = database_augmentation(index, x, k=2, alpha=1.0)
    expected = np.array([[1.64, 0.48], [1.6, 0.6], [0.48, 1.36]])
    np.testing.assert_allclose(out, expected / np.linalg.norm(expected, axis=1, keepdims=True), rtol=1e-6)


def test_fused_descriptor_hand_computed():
    F, a = np.array([0.6, 0.8]), np.array([3.0, 4.0])
    np.testing.assert_allclose(fuse(F, a, 0.5)[0], np.array([0.3, 0.4, 0.3, 0.4]) / np.sqrt(0.5), rtol=1e-6)
    np.testing.assert_allclose(fuse(F, a, 0.25)[0], np.array([0.45, 0.6, 0.15, 0.2]) / np.sqrt(0.625), rtol=1e-6)
    # w = 0: the attribute half is zero and cosines equal those of F alone
    assert np.allclose(fuse(F, a, 0.0)[0], [0.6, 0.8, 0, 0])
