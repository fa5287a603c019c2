"""VLAD encoder: hand-computed encoding, width, norms, determinism, pickle-free persistence."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from sklearn.base import clone

from dfcnn.baselines.vlad import VladEncoder, normalise_vlad, vlad_residuals


def _descriptor_sets(seed=0, n_images=12, d=64, n_modes=16):
    """Per-image descriptor sets drawn around a few modes, unit-normalised like SURF's."""
    rng = np.random.default_rng(seed)
    modes = rng.normal(size=(n_modes, d))
    sets = []
    for _ in range(n_images):
        n = int(rng.integers(30, 80))
        x = modes[rng.integers(0, n_modes, n)] + 0.3 * rng.normal(size=(n, d))
        sets.append((x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32))
    return sets


def test_encoding_matches_hand_computation():
    centers = np.array([[0.0, 0.0], [10.0, 10.0]])
    x = np.array([[1.0, 0.0], [0.0, 2.0], [11.0, 10.0]])
    v = vlad_residuals(x, centers)
    np.testing.assert_allclose(v, [[1.0, 2.0], [1.0, 0.0]])
    # intra-normalisation: [1, 2]/sqrt(5), [1, 0]; signed sqrt; final L2
    a = np.array([1 / 5**0.25, np.sqrt(2) / 5**0.25, 1.0, 0.0])
    np.testing.assert_allclose(normalise_vlad(v), a / np.linalg.norm(a), rtol=1e-12)
    # signs survive the signed square root
    np.testing.assert_allclose(normalise_vlad(-v), -a / np.linalg.norm(a), rtol=1e-12)


def test_width_and_unit_norm():
    sets = _descriptor_sets()
    enc = VladEncoder(n_clusters=8, random_state=0).fit(sets)
    out = enc.transform(sets)
    assert out.shape == (len(sets), 8 * 64) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert enc.dim == 8 * 64


def test_default_vocabulary_is_k64_by_64():
    sets = _descriptor_sets(n_images=20)
    enc = VladEncoder(random_state=0).fit(sets)
    assert enc.cluster_centers_.shape == (64, 64)
    assert enc.transform(sets[:2]).shape == (2, 4096)


def test_empty_descriptor_set_gives_zero_vector():
    enc = VladEncoder(n_clusters=4, random_state=0).fit(_descriptor_sets())
    empty = np.zeros((0, 64), np.float32)
    out = enc.transform([empty, _descriptor_sets(seed=3, n_images=1)[0]])
    assert not out[0].any()
    assert np.isclose(np.linalg.norm(out[1]), 1.0)
    # fitting tolerates images without descriptors
    VladEncoder(n_clusters=4, random_state=0).fit([empty] + _descriptor_sets())


def test_deterministic_for_a_seed():
    sets = _descriptor_sets()
    a = VladEncoder(n_clusters=8, max_training_descriptors=300, random_state=7).fit(sets)
    b = VladEncoder(n_clusters=8, max_training_descriptors=300, random_state=7).fit(sets)
    c = VladEncoder(n_clusters=8, max_training_descriptors=300, random_state=8).fit(sets)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    np.testing.assert_array_equal(a.transform(sets), b.transform(sets))
    assert not np.array_equal(a.cluster_centers_, c.cluster_centers_)
    assert a.n_training_descriptors_ == 300


def test_persistence_round_trip_without_pickle(tmp_path):
    sets = _descriptor_sets()
    enc = VladEncoder(n_clusters=8, random_state=0).fit(sets)
    enc.save(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["vlad.json", "vlad_centers.npy"]  # no temp files left
    centers = np.load(tmp_path / "vlad_centers.npy", allow_pickle=False)
    np.testing.assert_array_equal(centers, enc.cluster_centers_)
    meta = json.loads((tmp_path / "vlad.json").read_text())
    assert meta["params"]["n_clusters"] == 8 and meta["descriptor_dim"] == 64
    loaded = VladEncoder.load(str(tmp_path))
    assert loaded.get_params() == enc.get_params()
    np.testing.assert_array_equal(loaded.transform(sets), enc.transform(sets))


def test_sklearn_contract():
    enc = VladEncoder(n_clusters=5, random_state=3)
    assert clone(enc).get_params() == enc.get_params()
    assert enc.set_params(n_clusters=6).n_clusters == 6
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        enc.transform(_descriptor_sets(n_images=1))


def test_too_few_descriptors_is_a_clear_error():
    with pytest.raises(ValueError, match="n_clusters"):
        VladEncoder(n_clusters=64).fit([np.ones((10, 64), np.float32)])
    with pytest.raises(ValueError, match="no descriptors"):
        VladEncoder(n_clusters=2).fit([np.zeros((0, 64), np.float32)])
