"""Pickle-free persistence round trip, refusal of untrusted files, and the Fig. 7 XGBoost history."""

import json
import os

import numpy as np
import pytest
import skops.io as sio
from sklearn.datasets import make_classification
from skops.io.exceptions import UntrustedTypesFoundException
from xgboost import XGBClassifier

from dfcnn.config.forest import XGBConfig
from dfcnn.forest import CascadeForestClassifier, best_round, xgb_convergence


@pytest.fixture(scope="module")
def data():
    return make_classification(n_samples=120, n_features=8, n_informative=5, n_classes=3, random_state=0)


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    labels = np.array(["vase", "scroll", "seal"])[y]
    return CascadeForestClassifier(n_trees=4, xgb_n_estimators=5, max_layers=2, patience=2, n_jobs=1, random_state=0).fit(X, labels)


def test_round_trip_gives_identical_predictions(fitted, data, tmp_path):
    X, _ = data
    fitted.save(str(tmp_path / "m"))
    loaded = CascadeForestClassifier.load(str(tmp_path / "m"))
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    np.testing.assert_array_equal(loaded.transform(X), fitted.transform(X))
    np.testing.assert_array_equal(loaded.predict(X), fitted.predict(X))
    assert list(loaded.classes_) == list(fitted.classes_) and loaded.n_layers_ == fitted.n_layers_
    assert loaded.get_params() == {**fitted.get_params(), "random_state": fitted.seed_}
    files = [f for _, _, fs in os.walk(tmp_path / "m") for f in fs]
    assert not any(f.endswith((".pkl", ".pickle", ".joblib")) or f.startswith(".tmp-") for f in files)
    assert {os.path.splitext(f)[1] for f in files} == {".json", ".skops", ".ubj"}
    meta = json.loads((tmp_path / "m" / "meta.json").read_text())
    assert meta["classes"]["values"] == ["scroll", "seal", "vase"]


def test_tampered_forest_file_with_untrusted_type_is_refused(fitted, tmp_path):
    fitted.save(str(tmp_path / "m"))
    from sklearn.preprocessing import FunctionTransformer

    evil = FunctionTransformer(func=os.getcwd)  # a callable: skops must not load it silently
    target = tmp_path / "m" / "layer0" / "rf0" / "fold0.skops"
    target.write_bytes(sio.dumps(evil))
    with pytest.raises(UntrustedTypesFoundException):
        CascadeForestClassifier.load(str(tmp_path / "m"))


def test_load_rejects_a_directory_that_is_not_a_cascade(tmp_path):
    (tmp_path / "meta.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="does not hold a cascade forest"):
        CascadeForestClassifier.load(str(tmp_path))


def test_xgb_convergence_matches_an_independent_xgboost_fit(data):
    X, y = data
    Xtr, ytr, Xva, yva = X[:80], y[:80], X[80:], y[80:]
    cfg = XGBConfig(n_estimators=12, max_depth=3, reg_lambda=2.0, gamma=0.5)
    hist = xgb_convergence(Xtr, ytr, Xva, yva, cfg, n_jobs=1, seed=0)
    assert set(hist) == {"merror", "mlogloss"} and len(hist["merror"]) == len(hist["mlogloss"]) == 12
    ref = XGBClassifier(n_estimators=12, max_depth=3, reg_lambda=2.0, gamma=0.5, learning_rate=0.3,
                        tree_method="hist", n_jobs=1, random_state=0).fit(Xtr, ytr)
    # last-round merror is the validation error rate of the same model trained independently
    assert hist["merror"][-1] == pytest.approx(np.mean(ref.predict(Xva) != yva), abs=1e-6)
    assert best_round(hist["mlogloss"]) == int(np.argmin(hist["mlogloss"])) + 1
    assert best_round([0.5, 0.2, 0.2, 0.3]) == 2


def test_xgb_convergence_rejects_unseen_validation_classes(data):
    X, y = data
    with pytest.raises(ValueError, match="absent from y_train"):
        xgb_convergence(X[:80], y[:80], X[80:], np.full(40, 7), {"n_estimators": 2})
