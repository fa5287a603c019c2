"""Pickle-free persistence of the cascade (SPEC §2.4, §7).

XGBoost fold models → XGBoost's UBJSON format; scikit-learn forests → skops, loaded with an
explicit trusted-type list so a tampered file cannot run code; everything else → JSON and
``.npy`` (``allow_pickle=False``). Each file is written to a temporary name and moved into place
with ``os.replace``; ``meta.json`` is written last and marks a complete model.
"""

from __future__ import annotations

import os

import numpy as np
import skops.io as sio
from xgboost import XGBClassifier

from dfcnn.forest.estimators import XGB, EstimatorSpec
from dfcnn.forest.kfold import KFoldClassVectors
from dfcnn.forest.layer import CascadeLayer
from dfcnn.persist import atomic_write, atomic_write_bytes, atomic_write_json, load_json

FORMAT_VERSION = 1

#: The only types a forest file may contain beyond skops' default-trusted scikit-learn/numpy ones.
TRUSTED_TYPES = ["sklearn.tree._tree.Tree"]


def _refit_unavailable(seed: int):
    raise RuntimeError("a loaded estimator cannot be refitted; fit a new CascadeForestClassifier")


def save_estimator(est: KFoldClassVectors, directory: str) -> None:
    """One estimator slot: its fold models plus ``estimator.json``."""
    os.makedirs(directory, exist_ok=True)
    for k, model in enumerate(est.models):
        if est.spec.kind == XGB:
            atomic_write(os.path.join(directory, f"fold{k}.ubj"), model.save_model, suffix=".ubj")  # format by extension
        else:
            atomic_write_bytes(os.path.join(directory, f"fold{k}.skops"), sio.dumps(model))
    atomic_write_json(
        os.path.join(directory, "estimator.json"),
        {
            "name": est.spec.name, "kind": est.spec.kind, "n_folds": est.n_folds, "seed": est.seed,
            "n_models": len(est.models), "fit_time": est.fit_time, "total_time": est.total_time,
            "evals": est.evals,
        },
    )


def load_estimator(directory: str) -> KFoldClassVectors:
    """Fold models come back single-threaded; the layer runs them in parallel."""
    info = load_json(os.path.join(directory, "estimator.json"))
    est = KFoldClassVectors(EstimatorSpec(info["name"], info["kind"]), _refit_unavailable, info["n_folds"], info["seed"])
    for k in range(int(info["n_models"])):
        if est.spec.kind == XGB:
            model = XGBClassifier()
            model.load_model(os.path.join(directory, f"fold{k}.ubj"))
        else:
            with open(os.path.join(directory, f"fold{k}.skops"), "rb") as f:
                model = sio.loads(f.read(), trusted=TRUSTED_TYPES)
        model.set_params(n_jobs=1)
        est.models.append(model)
    est.fit_time, est.total_time, est.evals = info["fit_time"], info["total_time"], info["evals"]
    return est


def save_layer(layer: CascadeLayer, directory: str) -> None:
    os.makedirs(directory, exist_ok=True)
    for est in layer.estimators:
        save_estimator(est, os.path.join(directory, est.spec.name))
    atomic_write_json(os.path.join(directory, "layer.json"), {"index": layer.index, "n_classes": layer.n_classes, "names": layer.names})


def load_layer(directory: str, n_jobs: int = 1) -> CascadeLayer:
    info = load_json(os.path.join(directory, "layer.json"))
    estimators = [load_estimator(os.path.join(directory, name)) for name in info["names"]]
    return CascadeLayer(info["index"], estimators, info["n_classes"], n_workers=n_jobs)


def _classes_to_json(classes: np.ndarray) -> dict:
    if classes.dtype.kind not in "biufUO":
        raise ValueError(f"cannot persist class labels of dtype {classes.dtype}")
    return {"dtype": "object" if classes.dtype.kind == "O" else classes.dtype.str, "values": classes.tolist()}


def _classes_from_json(obj: dict) -> np.ndarray:
    if obj["dtype"] == "object":
        return np.array(obj["values"], dtype=object)
    return np.array(obj["values"], dtype=np.dtype(obj["dtype"]))


def save_model(model, directory: str) -> None:
    """Write a fitted :class:`CascadeForestClassifier` to ``directory`` (pickle-free)."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model)
    os.makedirs(directory, exist_ok=True)
    for layer in model.layers_:
        save_layer(layer, os.path.join(directory, f"layer{layer.index}"))
    params = {k: v for k, v in model.get_params(deep=False).items() if k != "callbacks"}
    params["random_state"] = model.seed_  # the seed actually used, also when random_state was None
    atomic_write_json(
        os.path.join(directory, "meta.json"),
        {
            "format": "dfcnn.cascade_forest", "version": FORMAT_VERSION, "params": params,
            "classes": _classes_to_json(np.asarray(model.classes_)), "n_features_in": int(model.n_features_in_),
            "n_layers": len(model.layers_), "history": model.history_, "seed": model.seed_,
            "feature_names_in": [str(c) for c in getattr(model, "feature_names_in_", [])] or None,
        },
    )


def load_model(cls, directory: str):
    """Read a model written by :func:`save_model`; fold models use the saved ``n_jobs``."""
    meta = load_json(os.path.join(directory, "meta.json"))
    if meta.get("format") != "dfcnn.cascade_forest" or meta.get("version") != FORMAT_VERSION:
        raise ValueError(f"{directory} does not hold a cascade forest of format version {FORMAT_VERSION}")
    model = cls(**meta["params"])
    n_jobs = model._n_jobs()
    model.layers_ = [load_layer(os.path.join(directory, f"layer{t}"), n_jobs=n_jobs) for t in range(meta["n_layers"])]
    model.classes_ = _classes_from_json(meta["classes"])
    model.n_features_in_ = int(meta["n_features_in"])
    model.history_ = meta["history"]
    model.seed_ = int(meta["seed"])
    if meta.get("feature_names_in"):
        model.feature_names_in_ = np.array(meta["feature_names_in"], dtype=object)
    model.n_layers_ = len(model.layers_)
    model.best_layer_ = model.n_layers_ - 1
    return model
