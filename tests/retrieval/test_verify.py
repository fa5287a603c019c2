"""Geometric verification: matching maths, homography checks, re-ranking, fallbacks, index round trip."""

import math

import numpy as np
import pytest
from photo_helpers import photo, product

from dfcnn.config.retrieval import VerifyConfig
from dfcnn.retrieval.local_store import LocalFeatureStore
from dfcnn.retrieval.verify import (
    LocalFeatureExtractor,
    Verifier,
    convex_quad,
    match_vectors,
    mutual_ratio_matches,
    plausible_homography,
    verified_score,
    voted_score,
)

PRODUCTS = [product(s) for s in range(5)]


def test_mutual_ratio_matches_by_hand():
    q = np.array([[1, 0, 0], [0, 1, 0], [0.6, 0.8, 0]], np.float32)
    d = np.array([[1, 0, 0], [0, 0, 1], [0.8, 0.6, 0]], np.float32)
    # q0 -> d0 (dist 0) vs d2 (0.632): passes; q1 -> d2 (0.894) vs d0/d1 (1.414): ratio 0.632 passes but
    # d2's nearest query is q2, not q1 (not mutual); q2 -> d2 (0.283) vs d0 (0.894): passes and mutual.
    qi, di = mutual_ratio_matches(q, d, "sift", ratio=0.8, mutual=True)
    assert list(zip(qi, di)) == [(0, 0), (2, 2)]
    qi, di = mutual_ratio_matches(q, d, "sift", ratio=0.8, mutual=False)
    assert list(zip(qi, di)) == [(0, 0), (1, 2), (2, 2)]
    qi, _ = mutual_ratio_matches(q, d, "sift", ratio=0.5, mutual=False)
    assert list(qi) == [0, 2]  # q1's ratio 0.632 fails at 0.5; q2's 0.316 passes


def test_binary_vectors_give_hamming_distances():
    a = np.array([[0b10110000, 0xFF]], np.uint8)
    b = np.array([[0b10000000, 0x0F], [0b10110000, 0xFF]], np.uint8)
    va, vb = match_vectors(a, "orb"), match_vectors(b, "orb")
    hamming = (16 - va @ vb.T) / 2
    np.testing.assert_array_equal(hamming, [[2 + 4, 0]])


def test_rootsift_rows_are_unit_vectors():
    v = match_vectors(np.array([[4, 0, 0, 12], [1, 1, 1, 1]], np.uint8), "sift")
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(v[0], [0.5, 0, 0, math.sqrt(0.75)], rtol=1e-6)


def test_verified_score_by_hand():
    assert verified_score(10, 0.7, 15, 25.0, 0.2) == 0.7  # below the threshold: global score
    expected = 1 + 0.8 * (1 - math.exp(-40 / 25)) + 0.2 * 0.3
    assert verified_score(40, 0.3, 15, 25.0, 0.2) == pytest.approx(expected)
    assert verified_score(15, -1.0, 15, 25.0, 0.2) > 0.99  # any verified candidate beats every unverified one


def test_voted_score_by_hand():
    assert voted_score(10, 3) == pytest.approx(1.025)  # 1 + 0.05 * 10 / 20
    assert voted_score(2, 3) is None and voted_score(50, 0) is None
    assert 1.0 < voted_score(3, 3) < voted_score(4, 3) < 1.05
    assert verified_score(10, -1.0, 10, 25.0, 0.2) > 1.05  # every verified candidate stays above the voted ones


def test_homography_plausibility():
    assert plausible_homography(np.eye(3), (100, 80))
    mirror = np.diag([-1.0, 1.0, 1.0])
    assert not plausible_homography(mirror, (100, 80))
    assert not plausible_homography(np.diag([100.0, 100.0, 1.0]), (100, 80))  # 100x scale
    assert not plausible_homography(None, (100, 80))
    assert not plausible_homography(np.full((3, 3), np.nan), (100, 80))
    twisted = np.array([[1, 0, 0], [0, 1, 0], [0.02, 0, 1]], float)  # sends a corner behind the camera
    assert not plausible_homography(twisted, (100, 80))
    # judged where its inliers are: the same H is fine over a support near the origin
    support = np.array([[0, 0], [30, 0], [30, 30], [0, 30], [12, 7]], float)
    assert plausible_homography(twisted, (100, 80), support)
    assert not plausible_homography(mirror, (100, 80), support)
    assert plausible_homography(-np.eye(3), (100, 80))  # H is known up to sign
    assert not plausible_homography(np.eye(3), (100, 80), np.array([[5, 5], [5, 5], [5, 5], [5, 5]], float))  # no extent
    assert convex_quad(np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float))
    assert not convex_quad(np.array([[0, 0], [1, 1], [1, 0], [0, 1]], float))  # bow-tie


@pytest.fixture(scope="module")
def sift_store():
    ex = LocalFeatureExtractor("sift", 500, 512)
    flat = product(0).point(lambda v: 90)
    return LocalFeatureStore.extract(PRODUCTS + [flat], ex)


def _verifier(store, **kw):
    return Verifier(VerifyConfig(local_features=True, enabled=True, detector=store.detector, **kw), store)


def test_rotated_scaled_copy_verifies_and_unrelated_do_not(sift_store):
    v = _verifier(sift_store)
    im, _ = photo([PRODUCTS[2]], [(150, 100)], angle=25, scale=1.4)
    q = v.prepare_query(im)
    res = [v.verify(q, i) for i in range(len(sift_store))]
    assert res[2].status == "verified" and res[2].inliers >= 40
    assert all(r.inliers < 15 for i, r in enumerate(res) if i != 2)
    assert res[5].status == "candidate_no_keypoints"
    box = res[2].box()  # the product's outline mapped into the photo
    assert box[0] == pytest.approx(150, abs=25) and box[1] == pytest.approx(100, abs=25)
    assert v.counts["candidate_no_keypoints"] == 1 and v.counts["verified"] == 1


def test_rerank_moves_the_verified_item_first_and_keeps_the_rest(sift_store):
    v = _verifier(sift_store, top_m=4)
    im, _ = photo([PRODUCTS[3]], [(100, 120)], angle=-15, scale=1.2)
    q = v.prepare_query(im)
    scores, ids = np.array([0.9, 0.8, 0.7, 0.6, 0.5]), np.array([0, 1, 4, 3, 2])
    new_s, new_i, cache = v.rerank(q, scores, ids)
    assert list(new_i) == [3, 0, 1, 4, 2]  # verified first, others in global order, beyond top_m untouched
    assert new_s[0] > 1 and list(new_s[1:]) == [0.9, 0.8, 0.7, 0.5]
    assert set(cache) == {0, 1, 4, 3}


def test_flat_query_falls_back_to_the_global_order(sift_store):
    v = _verifier(sift_store)
    flat = product(0).point(lambda v: 200).resize((400, 300))
    q = v.prepare_query(flat)
    scores, ids = np.array([0.9, 0.8]), np.array([1, 0])
    new_s, new_i, _ = v.rerank(q, scores, ids)
    assert list(new_i) == [1, 0] and list(new_s) == [0.9, 0.8]
    assert v.counts["query_no_keypoints"] == 1 and v.counts["candidates"] == 0


@pytest.mark.parametrize("detector", ["orb", "akaze", "surf"])
def test_other_detectors_discriminate(detector):
    ex = LocalFeatureExtractor(detector, 500, 512)
    if detector == "surf":
        pytest.importorskip("mahotas")
    store = LocalFeatureStore.extract(PRODUCTS[:3], ex)
    v = _verifier(store, min_inliers=10)
    # mahotas' SURF is weak across scale (SPEC §3): its photo keeps the product's size
    im, _ = photo([PRODUCTS[1]], [(120, 90)], angle=10, scale=1.0 if detector == "surf" else 1.2)
    q = v.prepare_query(im)
    n = [v.verify(q, i).inliers for i in range(3)]
    assert n[1] >= 10 and n[1] > 3 * max(n[0], n[2], 1), n


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="detector"):
        LocalFeatureExtractor("harris")
    ex = LocalFeatureExtractor("sift", 100, 256)
    store = LocalFeatureStore.extract([PRODUCTS[0]], ex)
    with pytest.raises(ValueError, match="ransac"):
        Verifier(VerifyConfig(ransac="magic"), store)
