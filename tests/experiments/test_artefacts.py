"""The artefact computations on a hand-made ranking, and their 'not enough data' messages."""

import numpy as np
import pytest

from dfcnn.data.records import ImageRecord
from dfcnn.experiments.artefacts import MissingData
from dfcnn.experiments.fig10_false_retrieval import frp_curves, frp_floor
from dfcnn.experiments.fig11_content_matching import cmd_table
from dfcnn.experiments.retrieval_eval import MethodResult
from dfcnn.metrics.ranking import relevance_matrix


def _result():
    database = [ImageRecord(f"d{i}.jpg", lab, instance_id=f"{lab}{i % 2}") for i, lab in enumerate("AABB")]
    queries = [
        ImageRecord("q0.jpg", "A", instance_id="A0"),  # single object, instance A0 = d0
        ImageRecord("q1.jpg", "B", instance_id="B1"),  # single object, instance B1 = d3
        ImageRecord("s0.jpg", "A", labels=("A", "B", "C"), instance_ids=("A1", "B0", "C0")),  # three objects
    ]
    ranked = np.array([[0, 2, 1, 3], [2, 3, 0, 1], [1, 2, 0, 3]])
    rel = np.take_along_axis(relevance_matrix(queries, database), ranked, axis=1)
    return MethodResult("m", {}, database, queries, ranked, rel, {})


def test_frp_curves_hand_computed():
    curves = frp_curves(_result(), n_searches=1, top_l=2)
    # q0's top-2 = d0 (A0, relevant), d2 (B0, not): FRP 50 %; scene s0's top-2 = d1 (A1), d2 (B0): both relevant
    assert curves["single"].tolist() == [50.0]
    assert curves["three"].tolist() == [0.0]
    with pytest.raises(MissingData, match="needs 2 three-object searches, the data has 1"):
        frp_curves(_result(), n_searches=2, top_l=2)
    # q0 has a single relevant database item, so its top 2 holds at least one false result
    assert frp_floor(_result(), n_searches=1, top_l=2) == {"single": 50.0, "three": 0.0}


def test_cmd_table_hand_computed():
    table = cmd_table(_result(), lengths=[1, 2], searches_per_field=1)
    # field A: q0 (first A query) top-1 d0 {A}: Jaccard 1; top-2 + d2 {B}: (1 + 0) / 2
    # field B: q1 top-1 d2 {B}: 1; top-2 + d3 {B}: 1
    np.testing.assert_allclose(table[1], [100.0, 100.0])
    np.testing.assert_allclose(table[2], [50.0, 100.0])
    with pytest.raises(MissingData, match="per field"):
        cmd_table(_result(), lengths=[1], searches_per_field=3)
    with pytest.raises(MissingData, match="at least 9 database images"):
        cmd_table(_result(), lengths=[9], searches_per_field=1)
