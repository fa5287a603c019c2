"""Database local features: compact, pickle-free, memory-mapped round trip."""

import json

import numpy as np
import pytest
from photo_helpers import product

from dfcnn.retrieval.local_store import FILES, LocalFeatureStore
from dfcnn.retrieval.verify import LocalFeatureExtractor


@pytest.fixture(scope="module")
def store():
    ex = LocalFeatureExtractor("sift", max_keypoints=300, max_side=512)
    flat = product(0).point(lambda v: 128)  # flat colour: no key-points at all
    return LocalFeatureStore.extract([product(0), product(1), flat, None], ex, total=4)


def test_round_trip_is_memory_mapped_and_pickle_free(store, tmp_path):
    store.save(str(tmp_path))
    for name in FILES:
        np.load(tmp_path / name, allow_pickle=False)  # readable without pickle
    back = LocalFeatureStore.load(str(tmp_path))
    assert isinstance(back.descriptors, np.memmap) and isinstance(back.keypoints, np.memmap)
    assert len(back) == 4 and back.detector == "sift"
    for i in range(4):
        a, b = store.get(i), back.get(i)
        np.testing.assert_array_equal(a.descriptors, b.descriptors)
        np.testing.assert_allclose(a.xy, b.xy)
        assert a.size == b.size
    meta = json.loads((tmp_path / "local.json").read_text())
    assert meta["n_items"] == 4 and meta["descriptor_dtype"] == "uint8"


def test_compact_storage(store):
    assert store.descriptors.dtype == np.uint8 and store.keypoints.dtype == np.float16
    n = int(store.offsets[-1])
    assert 0 < n <= 2 * 300
    # 128 descriptor bytes + 4 coordinate bytes per key-point, plus tiny per-image overhead
    assert store.nbytes() == n * 132 + 5 * 8 + 4 * 4
    assert len(store.get(0)) > 50 and len(store.get(2)) == 0 and len(store.get(3)) == 0  # flat / unreadable: empty


def test_concat_and_bad_index(store):
    both = store.concat(store)
    assert len(both) == 8
    np.testing.assert_array_equal(both.get(5).descriptors, store.get(1).descriptors)
    with pytest.raises(IndexError):
        store.get(4)
    other = LocalFeatureStore.from_features([], LocalFeatureExtractor("orb", 300, 512))
    with pytest.raises(ValueError, match="different settings"):
        store.concat(other)


def test_inconsistent_arrays_are_refused(store):
    with pytest.raises(ValueError, match="disagree"):
        LocalFeatureStore(store.meta, store.offsets[:-1], store.keypoints, store.descriptors, store.sizes)


def test_lower_sift_contrast_finds_more_keypoints_and_is_part_of_the_settings(store):
    plain = product(5).resize((120, 90))  # a small picture: few key-points at OpenCV's default contrast
    default = LocalFeatureExtractor("sift", 1000, 512).extract(plain)
    sensitive = LocalFeatureExtractor("sift", 1000, 512, contrast_threshold=0.01).extract(plain)
    assert len(sensitive) > len(default) > 0
    assert store.meta["contrast_threshold"] == 0.04  # None asks for OpenCV's default
    lower = LocalFeatureStore.extract([product(0)], LocalFeatureExtractor("sift", 300, 512, contrast_threshold=0.02))
    with pytest.raises(ValueError, match="different settings"):
        store.concat(lower)
