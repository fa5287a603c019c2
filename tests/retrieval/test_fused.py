"""The DF-CNN fused describer with a real CNN describer and a real (small) cascade forest."""

import numpy as np
import pytest

from dfcnn.data.records import ImageRecord
from dfcnn.data.skipped import SkipLog
from dfcnn.retrieval.fused import AttributeLabelsError, FusedDescriber

from retrieval_helpers import FOREST, folder_records as records, small_cnn as cnn


@pytest.fixture(scope="module")
def fitted(built, image_folder):
    _, paths = image_folder
    return built[0].describer, records(paths)


def test_fused_vectors_are_l2_of_weighted_parts(fitted):
    describer, recs = fitted
    X, kept = describer.transform(recs)
    F, _ = describer.cnn.transform(recs)
    a = describer.forest.transform(F)
    assert X.shape == (len(recs), describer.cnn.dim + 6) == (len(recs), describer.dim)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-5)
    d = describer.cnn.dim
    # each half keeps its direction, and the halves' norms are in the ratio (1 - w) : w
    ratio = np.linalg.norm(X[:, d:], axis=1) / np.linalg.norm(X[:, :d], axis=1)
    np.testing.assert_allclose(ratio, 0.3 / 0.7 / np.linalg.norm(F, axis=1), rtol=1e-4)
    np.testing.assert_allclose(X[:, d:] / np.linalg.norm(X[:, d:], axis=1, keepdims=True),
                               a / np.linalg.norm(a, axis=1, keepdims=True), atol=1e-5)
    assert describer.info["attribute_source"] == "indexed images' labels"


def test_save_load_round_trip_and_describe_image(fitted, tmp_path):
    from PIL import Image

    describer, recs = fitted
    describer.save(str(tmp_path / "d"))
    again = FusedDescriber.load(str(tmp_path / "d"))
    X1, _ = describer.transform(recs[:4])
    X2, _ = again.transform(recs[:4])
    np.testing.assert_allclose(X1, X2, atol=1e-5)
    one = again.describe_image(Image.open(recs[0].path).convert("RGB"))
    assert one.shape == (again.dim,) and float(one @ X1[0]) > 0.99


def test_forest_disabled_gives_plain_cnn(image_folder):
    _, paths = image_folder
    plain = FusedDescriber(cnn(), forest_cfg=FOREST, enabled=False).fit(records(paths[:3]))
    X, _ = plain.transform(records(paths[:3]))
    F, _ = plain.cnn.transform(records(paths[:3]))
    np.testing.assert_array_equal(X, F)


def test_one_class_is_a_clear_error(image_folder):
    _, paths = image_folder
    one = [ImageRecord(path=p, label="all") for p in paths]
    with pytest.raises(AttributeLabelsError, match="at least 2 classes"):
        FusedDescriber(cnn(), forest_cfg=FOREST, attribute_data="none").fit(one)


def test_bad_images_are_skipped_and_logged(image_folder, tmp_path):
    root, paths = image_folder
    bad = [f"{root}/circles/empty.jpg", f"{root}/squares/truncated.jpg"]
    log = SkipLog(tmp_path / "skipped.jsonl")
    plain = FusedDescriber(cnn(), forest_cfg=FOREST, enabled=False).fit(records(paths[:2]))
    X, kept = plain.transform(records(paths[:2] + bad), skip_log=log)
    assert [r.path for r in kept] == paths[:2] and X.shape[0] == 2
    assert log.count == 2 and set(log.reasons()) == {"empty_file", "truncated"}
