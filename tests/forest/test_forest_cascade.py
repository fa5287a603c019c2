"""Cascade forest: layer wiring, class vectors, growth, configuration and bad input."""

import os

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.exceptions import NotFittedError

from dfcnn.config.forest import ForestConfig
from dfcnn.forest import CascadeForestClassifier
from dfcnn.forest.estimators import EstimatorSpec, make_estimator
from dfcnn.forest.kfold import KFoldClassVectors, fold_proba, fold_splits
from dfcnn.forest.layer import layer_input

CONF_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "conf")


def small(**kw):
    params = dict(n_trees=5, xgb_n_estimators=5, max_layers=2, n_jobs=1, random_state=0, refit=False)
    params.update(kw)
    return CascadeForestClassifier(**params)


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=120, n_features=8, n_informative=5, n_classes=3, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return small(max_layers=2, patience=2).fit(X, y)


def test_layers_see_descriptor_and_previous_class_vectors(fitted, data):
    X, _ = data
    assert fitted.n_layers_ == 2
    n_est, n_classes = 5, 3
    assert [len(layer.estimators) for layer in fitted.layers_] == [n_est, n_est]
    widths = [layer.estimators[0].models[0].n_features_in_ for layer in fitted.layers_]
    assert widths == [X.shape[1], X.shape[1] + n_est * n_classes]  # D, then D + E × C


def test_predict_proba_and_transform_are_mean_and_max_of_final_class_vectors(fitted, data):
    X, _ = data
    # Recompute by hand from the fold models: mean over folds, then over / max across estimators.
    cv = None
    for layer in fitted.layers_:
        inp = layer_input(X, cv)
        cv = np.stack(
            [np.mean([m.predict_proba(inp) for m in est.models], axis=0) for est in layer.estimators], axis=1
        )
    proba = fitted.predict_proba(X)
    np.testing.assert_allclose(proba, cv.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    attrs = fitted.transform(X)
    assert attrs.shape == (len(X), 2 * 3)
    np.testing.assert_allclose(attrs[:, :3], cv.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(attrs[:, 3:], cv.max(axis=1), rtol=1e-6)
    np.testing.assert_array_equal(fitted.predict(X), fitted.classes_[proba.argmax(axis=1)])
    assert list(fitted.get_feature_names_out()) == ["mean_0", "mean_1", "mean_2", "max_0", "max_1", "max_2"]


def test_out_of_fold_class_vectors_come_from_models_that_did_not_see_the_sample(data):
    X, y = data
    X = X.astype(np.float32)
    spec = EstimatorSpec("rf0", "rf")
    kf = KFoldClassVectors(spec, lambda s: make_estimator("rf", n_trees=5, xgb_params={}, n_classes=3, n_jobs=1, seed=s), 3, 7)
    oof = kf.fit(X, y, 3)
    splits = fold_splits(y, 3, 7)
    for model, (tr, te) in zip(kf.models, splits):
        assert set(tr).isdisjoint(te)
        np.testing.assert_array_equal(oof[te], fold_proba(model, X[te], 3))
    # inference is the mean of the fold models
    np.testing.assert_allclose(kf.predict_proba(X, 3), np.mean([m.predict_proba(X) for m in kf.models], axis=0))
    # out-of-fold vectors are honest: they differ from the in-sample ones of the same models
    assert not np.allclose(oof, kf.predict_proba(X, 3))


def test_learns_separable_problem_and_keeps_best_depth(data):
    X, y = make_classification(n_samples=150, n_features=6, n_informative=4, n_classes=3, class_sep=3.0, random_state=1)
    clf = small(max_layers=4, patience=1, tol=0.5).fit(X, y)
    # tol=0.5: no later layer can beat layer 0 by more than 0.5 → stop after layer 1, keep layer 0
    assert len(clf.history_) == 2 and clf.n_layers_ == 1 and clf.best_layer_ == 0
    assert clf.score(X, y) > 0.9
    assert {"train_accuracy", "val_accuracy", "train_logloss", "val_logloss"} <= set(clf.history_[0])


def test_refit_uses_all_samples_for_the_kept_depth(data):
    X, y = data
    clf = small(max_layers=1, refit=True).fit(X, y)
    # completely-random forests do not bootstrap: a tree's root holds every sample its fold saw,
    # 2/3 of all 120 samples (80), not of the 96 left after the 20 % validation split (64)
    folds = clf.layers_[0].estimators[2].models
    assert [int(m.estimators_[0].tree_.n_node_samples[0]) for m in folds] == [80, 80, 80]
    unrefit = small(max_layers=1, refit=False).fit(X, y)
    assert [int(m.estimators_[0].tree_.n_node_samples[0]) for m in unrefit.layers_[0].estimators[2].models] == [64, 64, 64]


def test_without_validation_split_monitors_out_of_fold_accuracy(data):
    X, y = data
    clf = small(validation_fraction=0.0).fit(X, y)
    assert "val_accuracy" not in clf.history_[0] and clf.history_[0]["train_accuracy"] > 0.5


def test_string_labels_round_trip(data):
    X, y = data
    labels = np.array(["A", "B", "C"])[y]
    clf = small(max_layers=1).fit(X, labels)
    assert set(clf.predict(X)) <= {"A", "B", "C"}


def test_from_config_maps_every_key():
    cfg = ForestConfig(n_trees=7, max_layers=3, n_folds=4, patience=2, tol=0.01, validation_fraction=0.25, n_jobs=1, seed=3)
    cfg.xgb.reg_lambda, cfg.xgb.gamma, cfg.xgb.n_estimators = 10.0, 1.0, 17
    p = CascadeForestClassifier.from_config(cfg).get_params()
    assert (p["n_trees"], p["max_layers"], p["n_folds"], p["patience"], p["tol"]) == (7, 3, 4, 2, 0.01)
    assert (p["reg_lambda"], p["gamma"], p["xgb_n_estimators"], p["random_state"]) == (10.0, 1.0, 17, 3)
    assert p["validation_fraction"] == 0.25 and p["n_jobs"] == 1


def test_hydra_group_overrides_reach_the_estimator():
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(os.path.abspath(CONF_DIR), version_base=None):
        cfg = compose(overrides=["+forest=default", "+seed=4", "forest.n_trees=50", "forest.max_layers=2",
                                 "forest.xgb.reg_lambda=0.1", "forest.xgb.gamma=1"])
    clf = CascadeForestClassifier.from_config(cfg.forest)
    p = clf.get_params()
    assert (p["n_trees"], p["max_layers"], p["reg_lambda"], p["gamma"], p["random_state"]) == (50, 2, 0.1, 1, 4)
    lay = clf._make_layer(0, 3, 0)
    xgb = lay.estimators[-1].factory(0)
    assert (xgb.reg_lambda, xgb.gamma, xgb.tree_method) == (0.1, 1, "hist")
    rf, crf = lay.estimators[0].factory(0), lay.estimators[2].factory(0)
    assert (rf.max_features, rf.n_estimators, crf.max_features) == ("sqrt", 50, 1)


# ---------------------------------------------------------------- bad input
def test_nan_and_inf_are_rejected(data):
    X, y = data
    Xn = X.copy()
    Xn[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        small().fit(Xn, y)
    Xi = X.copy()
    Xi[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        small().fit(Xi, y)


def test_nan_at_predict_time_is_rejected(fitted, data):
    X, _ = data
    Xn = X[:5].copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fitted.predict(Xn)


def test_single_class_is_rejected(data):
    X, _ = data
    with pytest.raises(ValueError, match="1 class"):
        small().fit(X, np.zeros(len(X), dtype=int))


def test_class_with_fewer_samples_than_folds_is_rejected(data):
    X, y = data
    y = y.copy()
    y[:2] = 9  # class 9 has 2 samples < n_folds=3
    with pytest.raises(ValueError, match="class 9 has 2 sample.*fewer than n_folds=3"):
        small(validation_fraction=0).fit(X, y)


def test_validation_split_that_starves_a_class_is_rejected(data):
    X, y = data
    y = y.copy()
    y[:3] = 9  # 3 samples: enough for 3 folds, but not after a validation sample is taken
    with pytest.raises(ValueError, match="class 9 has 2 sample.*after the validation split"):
        small(validation_fraction=0.3).fit(X, y)


def test_feature_width_mismatch_is_rejected(fitted, data):
    X, _ = data
    with pytest.raises(ValueError, match="X has 7 features, but CascadeForestClassifier is expecting 8"):
        fitted.predict(X[:, :7])


def test_predict_before_fit_raises_not_fitted(data):
    X, _ = data
    for method in ("predict", "predict_proba", "transform"):
        with pytest.raises(NotFittedError):
            getattr(small(), method)(X)


def test_bad_parameters_are_named(data):
    X, y = data
    with pytest.raises(ValueError, match="n_folds must be an integer >= 2"):
        small(n_folds=1).fit(X, y)
    with pytest.raises(ValueError, match="validation_fraction"):
        small(validation_fraction=1.0).fit(X, y)
    with pytest.raises(ValueError, match="at least one estimator"):
        small(n_random_forests=0, n_completely_random_forests=0, n_xgboost=0).fit(X, y)
