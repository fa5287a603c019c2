"""gcForest-style cascade forest with XGBoost: attribute features of CNN descriptors (SPEC §2.4).

Layer t fits each estimator by stratified k-fold on [X ; class vectors of layer t−1]; layers
are added while the averaged class vector's validation accuracy improves by more than ``tol``;
the best depth is kept. ``transform`` gives the attribute vector [mean ; max] of the final
layer's class vectors (width 2 × n_classes).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import Mapping
from typing import Any, Optional, Sequence

import numpy as np
from joblib import effective_n_jobs
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

from dfcnn.forest.callbacks import Checkpoint, EarlyStopping, FitState
from dfcnn.forest.estimators import EstimatorFactory, layer_specs
from dfcnn.forest.kfold import KFoldClassVectors
from dfcnn.forest.layer import CascadeLayer, attribute_vector, layer_input, mean_class_vector

logger = logging.getLogger(__name__)

_FLOAT32_MAX = float(np.finfo(np.float32).max)
_EPS = 1e-15


def _accuracy_logloss(y: np.ndarray, proba: np.ndarray) -> tuple[float, float]:
    p_true = np.clip(proba[np.arange(len(y)), y], _EPS, 1.0)
    return float(np.mean(proba.argmax(axis=1) == y)), float(-np.mean(np.log(p_true)))


def _seed(base: int, layer: int, slot: int) -> int:
    return int((base + 7919 * layer + 104729 * slot) % (2**31 - 1))


class CascadeForestClassifier(ClassifierMixin, TransformerMixin, BaseEstimator):
    """Cascade of RF + completely-random forests + XGBoost, grown on a validation split.

    Parameters mirror the Hydra group ``forest`` (``from_config`` maps one to the other);
    ``callbacks`` is a list of :class:`dfcnn.forest.callbacks.Callback` (more can be passed to
    ``fit``). Fitted attributes: ``classes_``, ``n_features_in_``, ``layers_`` (the kept layers),
    ``n_layers_``, ``best_layer_``, ``history_`` (metrics of every grown layer), ``seed_``.
    """

    def __init__(
        self,
        n_trees: int = 100,
        n_random_forests: int = 2,
        n_completely_random_forests: int = 2,
        n_xgboost: int = 1,
        n_folds: int = 3,
        max_layers: int = 4,
        patience: int = 1,
        tol: float = 0.0,
        validation_fraction: float = 0.2,
        xgb_n_estimators: int = 100,
        xgb_max_depth: int = 6,
        xgb_learning_rate: float = 0.3,
        reg_lambda: float = 1.0,
        gamma: float = 0.0,
        n_jobs: Optional[int] = None,
        refit: bool = True,
        random_state: Any = None,
        callbacks: Optional[Sequence] = None,
    ):
        self.n_trees = n_trees
        self.n_random_forests = n_random_forests
        self.n_completely_random_forests = n_completely_random_forests
        self.n_xgboost = n_xgboost
        self.n_folds = n_folds
        self.max_layers = max_layers
        self.patience = patience
        self.tol = tol
        self.validation_fraction = validation_fraction
        self.xgb_n_estimators = xgb_n_estimators
        self.xgb_max_depth = xgb_max_depth
        self.xgb_learning_rate = xgb_learning_rate
        self.reg_lambda = reg_lambda
        self.gamma = gamma
        self.n_jobs = n_jobs
        self.refit = refit
        self.random_state = random_state
        self.callbacks = callbacks

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_config(cls, cfg, callbacks: Optional[Sequence] = None) -> "CascadeForestClassifier":
        """Build from the Hydra group ``forest`` (a ``ForestConfig``, DictConfig or mapping)."""
        c = _as_dict(cfg)
        xgb = _as_dict(c.get("xgb", {}))
        return cls(
            n_trees=c.get("n_trees", 100),
            n_random_forests=c.get("n_random_forests", 2),
            n_completely_random_forests=c.get("n_completely_random_forests", 2),
            n_xgboost=c.get("n_xgboost", 1),
            n_folds=c.get("n_folds", 3),
            max_layers=c.get("max_layers", 4),
            patience=c.get("patience", 1),
            tol=c.get("tol", 0.0),
            validation_fraction=c.get("validation_fraction", 0.2),
            xgb_n_estimators=xgb.get("n_estimators", 100),
            xgb_max_depth=xgb.get("max_depth", 6),
            xgb_learning_rate=xgb.get("learning_rate", 0.3),
            reg_lambda=xgb.get("reg_lambda", 1.0),
            gamma=xgb.get("gamma", 0.0),
            n_jobs=c.get("n_jobs", None),
            refit=c.get("refit", True),
            random_state=c.get("seed", None),
            callbacks=callbacks,
        )

    def xgb_params(self) -> dict:
        """XGBoost settings in the ``forest.xgb`` config's names."""
        return {
            "n_estimators": self.xgb_n_estimators, "max_depth": self.xgb_max_depth,
            "learning_rate": self.xgb_learning_rate, "reg_lambda": self.reg_lambda, "gamma": self.gamma,
        }

    def _n_jobs(self) -> int:
        return int(effective_n_jobs(self.n_jobs))

    def _check_params(self) -> None:
        ints = {"n_trees": 1, "n_folds": 2, "max_layers": 1, "patience": 1, "xgb_n_estimators": 1, "xgb_max_depth": 0}
        for name, low in ints.items():
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
        if not 0.0 <= float(self.validation_fraction) < 1.0:
            raise ValueError(f"validation_fraction must be in [0, 1), got {self.validation_fraction!r}")
        if float(self.tol) < 0:
            raise ValueError(f"tol must be >= 0, got {self.tol!r}")
        layer_specs(self.n_random_forests, self.n_completely_random_forests, self.n_xgboost)

    def _make_layer(self, index: int, n_classes: int, seed: int) -> CascadeLayer:
        """Fold models are single-threaded; the layer runs ``n_jobs`` of them at once."""
        xgb = tuple(sorted(self.xgb_params().items()))
        estimators = []
        for j, spec in enumerate(layer_specs(self.n_random_forests, self.n_completely_random_forests, self.n_xgboost)):
            factory = EstimatorFactory(spec.kind, int(self.n_trees), xgb, int(n_classes))
            estimators.append(KFoldClassVectors(spec, factory, self.n_folds, _seed(seed, index, j)))
        return CascadeLayer(index, estimators, n_classes, n_workers=self._n_jobs())

    # ------------------------------------------------------------------ input checks
    _CHECK = dict(dtype=[np.float64, np.float32], ensure_all_finite=True)

    @staticmethod
    def _check_float32_range(X: np.ndarray) -> np.ndarray:
        if X.dtype == np.float64 and X.size and np.abs(X).max() > _FLOAT32_MAX:
            raise ValueError("Input X contains values too large for float32, which the trees use internally")
        return X

    def _check_classes(self, y: np.ndarray, where: str) -> None:
        counts = np.bincount(y, minlength=len(self.classes_))
        for c, n in zip(self.classes_, counts):
            if n < self.n_folds:
                raise ValueError(
                    f"class {_label(c)!r} has {n} sample(s) in the {where}, fewer than n_folds={self.n_folds}; "
                    "stratified k-fold needs at least n_folds samples of every class "
                    "(add samples, lower n_folds, or lower validation_fraction)"
                )

    # ------------------------------------------------------------------ fit
    def fit(self, X, y, callbacks: Optional[Sequence] = None) -> "CascadeForestClassifier":
        """Grow the cascade; ``callbacks`` here are added to those given at construction."""
        self._check_params()
        X, y = validate_data(self, X, y, reset=True, **self._CHECK)
        self._check_float32_range(X)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError(
                f"y has 1 class ({_label(self.classes_[0])!r}); CascadeForestClassifier needs at least 2 classes"
            )
        y_enc = encoder.transform(y)
        self._check_classes(y_enc, "training data")

        if isinstance(self.random_state, (int, np.integer)) and not isinstance(self.random_state, bool):
            seed = int(self.random_state)
        else:
            seed = int(check_random_state(self.random_state).randint(0, 2**31 - 1))
        use_val = float(self.validation_fraction) > 0
        state = FitState(
            fingerprint=self._fingerprint(X, y_enc), seed=seed, n_classes=n_classes, max_layers=int(self.max_layers),
            monitor="val_accuracy" if use_val else "train_accuracy",
        )
        cbs = list(self.callbacks or []) + list(callbacks or [])
        if not any(isinstance(cb, EarlyStopping) for cb in cbs):
            cbs.insert(0, EarlyStopping(self.patience))
        t_fit = time.perf_counter()
        self._call(cbs, "on_fit_start", state)

        X_tr, y_tr, X_val, y_val = X, y_enc, None, None
        if use_val:
            try:
                X_tr, X_val, y_tr, y_val = train_test_split(
                    X, y_enc, test_size=float(self.validation_fraction), stratify=y_enc, random_state=state.seed
                )
            except ValueError as err:
                raise ValueError(
                    f"cannot make a stratified validation split with validation_fraction={self.validation_fraction} "
                    f"of {len(y_enc)} samples in {n_classes} classes: {err}"
                ) from err
            self._check_classes(y_tr, "training part left after the validation split")

        for t in range(len(state.layers), int(self.max_layers)):
            if state.stop:
                break
            self._grow_layer(t, state, cbs, X_tr, y_tr, X_val, y_val)

        self.layers_ = state.layers[: state.best_layer + 1]
        if use_val and self.refit:
            state.layers, state.train_cv, state.val_cv = [], None, None  # free the grown models first
            self.layers_ = self._refit(state, cbs, X, y_enc)
        self.n_layers_ = len(self.layers_)
        self.best_layer_ = state.best_layer
        self.history_ = state.history
        self.seed_ = state.seed
        self.fit_time_ = time.perf_counter() - t_fit
        self._call(cbs, "on_fit_end", state)
        logger.info(
            "cascade: grew %d layer(s), kept %d (%s %.4f) in %.1fs",
            len(state.history), self.n_layers_, state.monitor, state.best_score, self.fit_time_,
        )
        return self

    def _grow_layer(self, t, state, cbs, X_tr, y_tr, X_val, y_val) -> None:
        t0 = time.perf_counter()
        self._call(cbs, "on_layer_start", state, t)
        layer = self._make_layer(t, state.n_classes, state.seed)
        X_t = layer_input(X_tr, state.train_cv)
        Xv_t = None if X_val is None else layer_input(X_val, state.val_cv)
        train_cv, val_cv = layer.fit(
            X_t, y_tr, Xv_t, y_val, on_estimator_end=lambda est: self._call(cbs, "on_estimator_end", state, t, est)
        )
        del X_t, Xv_t
        metrics: dict[str, float] = {"layer": t}
        metrics["train_accuracy"], metrics["train_logloss"] = _accuracy_logloss(y_tr, mean_class_vector(train_cv))
        if val_cv is not None:
            metrics["val_accuracy"], metrics["val_logloss"] = _accuracy_logloss(y_val, mean_class_vector(val_cv))
        metrics["layer_time"] = time.perf_counter() - t0
        state.layers.append(layer)
        state.train_cv, state.val_cv = train_cv, val_cv
        state.history.append(metrics)
        score = metrics[state.monitor]
        if state.best_layer < 0 or score > state.best_score + float(self.tol):
            state.best_layer, state.best_score = t, score
        logger.info("cascade layer %d: %s", t, {k: round(v, 4) for k, v in metrics.items()})
        self._call(cbs, "on_layer_end", state, t, metrics)

    def _refit(self, state: FitState, cbs, X: np.ndarray, y: np.ndarray) -> list[CascadeLayer]:
        """gcForest's last step: refit the chosen depth on training + validation data.

        Callbacks see these fits through ``on_estimator_end`` with ``state.phase == "refit"``.
        """
        state.phase = "refit"
        layers, cv = [], None
        for t in range(state.best_layer + 1):
            layer = self._make_layer(t, state.n_classes, state.seed + 1)
            X_t = layer_input(X, cv)
            cv, _ = layer.fit(X_t, y, on_estimator_end=lambda est: self._call(cbs, "on_estimator_end", state, t, est))
            layers.append(layer)
        logger.info("cascade: refitted %d layer(s) on all %d samples", len(layers), len(y))
        return layers

    def _call(self, cbs, hook: str, state: FitState, *args) -> None:
        """Run one hook on every callback: checkpoints restore first and save last, and early
        stopping decides before a checkpoint records the decision."""
        if hook == "on_fit_start":
            order = [cb for cb in cbs if isinstance(cb, Checkpoint)] + [cb for cb in cbs if not isinstance(cb, Checkpoint)]
        else:
            rank = lambda cb: 0 if isinstance(cb, EarlyStopping) else 2 if isinstance(cb, Checkpoint) else 1  # noqa: E731
            order = sorted(cbs, key=rank)
        for cb in order:
            fn = getattr(cb, hook, None)
            if fn is not None:
                fn(self, state, *args)

    def _fingerprint(self, X: np.ndarray, y: np.ndarray) -> str:
        params = {k: v for k, v in self.get_params(deep=False).items() if k not in ("callbacks", "n_jobs")}
        h = hashlib.blake2b(digest_size=16)
        h.update(json.dumps(params, sort_keys=True, default=repr).encode())
        h.update(np.ascontiguousarray(X).tobytes())
        h.update(np.ascontiguousarray(y).tobytes())
        h.update(repr(self.classes_.tolist()).encode())
        return h.hexdigest()

    # ------------------------------------------------------------------ inference
    def _class_vectors(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = self._check_float32_range(validate_data(self, X, reset=False, **self._CHECK))
        cv = None
        for layer in self.layers_:
            cv = layer.class_vectors(layer_input(X, cv))
        return cv

    def predict_proba(self, X) -> np.ndarray:
        """Mean over the final layer's estimators of their (mean-of-folds) class vectors."""
        return mean_class_vector(self._class_vectors(X))

    def predict(self, X) -> np.ndarray:
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def transform(self, X) -> np.ndarray:
        """Attribute vectors [mean ; max] of the final layer's class vectors, ``[n, 2 × n_classes]``."""
        return attribute_vector(self._class_vectors(X))

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self)
        names = [f"mean_{c}" for c in self.classes_] + [f"max_{c}" for c in self.classes_]
        return np.asarray(names, dtype=object)

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str) -> None:
        """Pickle-free save (see :mod:`dfcnn.forest.io`)."""
        from dfcnn.forest import io

        io.save_model(self, directory)

    @classmethod
    def load(cls, directory: str) -> "CascadeForestClassifier":
        from dfcnn.forest import io

        return io.load_model(cls, directory)


def _label(c):
    """A class label as plain Python, for error messages."""
    return c.item() if isinstance(c, np.generic) else c


def _as_dict(cfg) -> dict:
    if cfg is None:
        return {}
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return dataclasses.asdict(cfg)
    try:
        from omegaconf import DictConfig, OmegaConf

        if isinstance(cfg, DictConfig):
            return OmegaConf.to_container(cfg, resolve=True)
    except ImportError:  # pragma: no cover
        pass
    if isinstance(cfg, Mapping):
        return dict(cfg)
    raise TypeError(f"expected a ForestConfig, DictConfig or mapping, got {type(cfg).__name__}")
