import numpy as np
import pytest

from dfcnn.data.records import ImageRecord
from dfcnn.metrics.ranking import (
    average_precision, content_matching_degree, cumulative_mean, false_retrieval_proportion,
    is_relevant, jaccard, precision_at, ranking_summary, recall_at, relevance_matrix,
)


def test_average_precision_hand_computed():
    # relevant at ranks 1, 3 and 6 out of 3 relevant: (1/1 + 2/3 + 3/6) / 3
    rel = np.array([1, 0, 1, 0, 0, 1, 0], dtype=bool)
    assert average_precision(rel) == pytest.approx((1 + 2 / 3 + 0.5) / 3)
    # a fourth relevant item never retrieved lowers AP
    assert average_precision(rel, n_relevant=4) == pytest.approx((1 + 2 / 3 + 0.5) / 4)
    assert average_precision(np.zeros(5, bool)) == 0.0


def test_precision_recall_frp():
    rel = np.array([0, 1, 1, 0, 1, 0, 0, 0, 0, 1], dtype=bool)
    assert precision_at(rel, 3) == pytest.approx(2 / 3)
    assert recall_at(rel, 3, n_relevant=5) == pytest.approx(2 / 5)
    assert false_retrieval_proportion(rel, 10) == pytest.approx(0.6)
    with pytest.raises(ValueError):
        precision_at(rel, 0)


def test_cumulative_mean_and_cmd():
    np.testing.assert_allclose(cumulative_mean([0.2, 0.4, 0.0]), [0.2, 0.3, 0.2])
    q = frozenset({"A", "B", "C"})
    results = [frozenset({"A"}), frozenset({"A", "B", "C"}), frozenset({"D"})]
    assert jaccard(q, results[0]) == pytest.approx(1 / 3)
    assert content_matching_degree(q, results, 2) == pytest.approx((1 / 3 + 1) / 2)
    assert content_matching_degree(q, results, 3) == pytest.approx((1 / 3 + 1 + 0) / 3)


def test_relevance_rule_instance_then_label():
    q = ImageRecord("q.jpg", "A", instance_id="A/1")
    same_inst = ImageRecord("d1.jpg", "A", instance_id="A/1")
    same_field = ImageRecord("d2.jpg", "A", instance_id="A/2")
    no_ids = ImageRecord("d3.jpg", "A")
    scene = ImageRecord("s.jpg", "A", labels=("A", "B", "C"), instance_ids=("A/2", "B/1", "C/3"))
    assert is_relevant(q, same_inst) and not is_relevant(q, same_field)
    assert is_relevant(q, no_ids)  # falls back to labels
    assert is_relevant(scene, same_field) and not is_relevant(scene, same_inst)
    assert relevance_matrix([q, scene], [same_inst, same_field]).tolist() == [[True, False], [False, True]]


def test_ranking_summary():
    ranked = np.array([[1, 0, 1], [0, 0, 1]], dtype=bool)
    out = ranking_summary(ranked, np.array([2, 1]), ks=(1, 2))
    assert out["mAP"] == pytest.approx(((1 + 2 / 3) / 2 + 1 / 3) / 2)
    assert out["P_at_1"] == pytest.approx(0.5) and out["top1"] == pytest.approx(0.5)
    assert out["R_at_2"] == pytest.approx((0.5 + 0.0) / 2)
