"""PCA-whitening: what it learns, the sklearn contract, chunked fitting, pickle-free persistence."""

from __future__ import annotations

import os

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from dfcnn.features.whitening import PCAWhitening


@pytest.fixture
def X():
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(6, 6))
    return (rng.normal(size=(2000, 6)) @ mixing + 5.0).astype(np.float32)


def test_training_data_come_out_centred_and_white(X):
    w = PCAWhitening().fit(X)
    assert w.n_components_ == 6  # min(L, 512)
    Z = w.transform(X)
    np.testing.assert_allclose(Z.mean(0), 0, atol=1e-3)
    np.testing.assert_allclose(np.cov(Z.T, bias=True), np.eye(6), atol=1e-3)


def test_reduced_dimension_keeps_the_top_components(X):
    w = PCAWhitening(n_components=3).fit(X)
    assert w.transform(X).shape == (2000, 3)
    full = PCAWhitening().fit(X)
    np.testing.assert_allclose(w.explained_variance_, full.explained_variance_[:3], rtol=1e-5)
    assert np.all(np.diff(full.explained_variance_) <= 0)


def test_few_samples_lower_the_dimension_to_the_rank():
    X = np.random.default_rng(1).normal(size=(4, 10)).astype(np.float32)
    assert PCAWhitening(n_components=8).fit(X).n_components_ == 3


def test_full_shrinkage_is_a_rotation_scaled_by_the_mean_variance(X):
    w = PCAWhitening(shrinkage=1.0, eps=0.0).fit(X)
    centred = X - X.mean(0)
    mean_var = np.trace(np.cov(centred.T, bias=True)) / 6
    np.testing.assert_allclose(
        np.linalg.norm(w.transform(X), axis=1), np.linalg.norm(centred, axis=1) / np.sqrt(mean_var), rtol=1e-3
    )


def test_eps_floors_tiny_eigenvalues():
    rng = np.random.default_rng(2)
    X = np.c_[rng.normal(size=(500, 3)), np.zeros((500, 1))].astype(np.float32)  # one dead direction
    w = PCAWhitening(eps=1e-2).fit(X)
    assert np.all(np.isfinite(w.projection_))
    assert np.abs(w.projection_).max() < 1e3


def test_partial_fit_in_chunks_equals_fit(X):
    a = PCAWhitening(n_components=4).fit(X)
    b = PCAWhitening(n_components=4)
    for chunk in np.array_split(X, 7):
        b.partial_fit(chunk)
    np.testing.assert_allclose(np.abs(b.transform(X)), np.abs(a.transform(X)), rtol=1e-3, atol=1e-3)
    assert b.n_samples_seen_ == len(X)


def test_sklearn_contract(X):
    w = PCAWhitening(n_components=2, shrinkage=0.1)
    assert w.get_params() == {"n_components": 2, "shrinkage": 0.1, "eps": 1e-6}
    with pytest.raises(NotFittedError):
        w.transform(X)
    assert w.fit(X) is w
    assert w.fit_transform(X).shape == (2000, 2)
    with pytest.raises(ValueError, match="features"):
        w.transform(X[:, :5])
    assert list(w.get_feature_names_out()) == ["pcaw0", "pcaw1"]


def test_save_load_round_trip_without_pickle(X, tmp_path):
    w = PCAWhitening(n_components=4, shrinkage=0.05).fit(X)
    w.save(str(tmp_path / "w"))
    for name in os.listdir(tmp_path / "w"):
        assert not name.endswith(".tmp")
        if name.endswith(".npy"):
            np.load(tmp_path / "w" / name, allow_pickle=False)
    loaded = PCAWhitening.load(str(tmp_path / "w"))
    assert loaded.get_params() == w.get_params()
    np.testing.assert_array_equal(loaded.transform(X), w.transform(X))
    loaded.partial_fit(X)  # a loaded estimator can be refitted
    assert loaded.n_samples_seen_ == len(X)
