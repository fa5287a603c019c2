"""Callback-wrapped cascade training (SPEC §2.4): the hook protocol and the built-in callbacks.

The cascade calls, in order, ``on_fit_start`` → per layer ``on_layer_start`` →
``on_estimator_end`` (once per estimator) → ``on_layer_end`` → ... → ``on_fit_end``. Each hook
gets the estimator and the mutable :class:`FitState`; a callback steers training only through
that state (``stop``, or restored layers on resume).
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any, Optional, Protocol, runtime_checkable

import numpy as np

from dfcnn.persist import atomic_save_npy, atomic_write_json, load_npy

logger = logging.getLogger(__name__)


@dataclass
class FitState:
    """Everything a fit has produced so far; enough to resume it after the last finished layer."""

    fingerprint: str  # hash of data + parameters; a checkpoint only resumes the same fit
    seed: int
    n_classes: int
    max_layers: int
    monitor: str  # "val_accuracy", or "train_accuracy" (out-of-fold) without a validation split
    layers: list = field(default_factory=list)  # CascadeLayer, all grown so far (emptied before a refit)
    train_cv: Optional[np.ndarray] = None  # out-of-fold class vectors of the last layer [n, E, C]
    val_cv: Optional[np.ndarray] = None  # validation class vectors of the last layer
    history: list = field(default_factory=list)  # one metrics dict per layer
    best_layer: int = -1
    best_score: float = float("-inf")
    stop: bool = False
    resumed_layers: int = 0  # layers restored from a checkpoint instead of fitted
    phase: str = "grow"  # "grow" on the split, then "refit" of the kept depth on all data


@runtime_checkable
class CascadeCallback(Protocol):
    def on_fit_start(self, model, state: FitState) -> None: ...
    def on_layer_start(self, model, state: FitState, layer: int) -> None: ...
    def on_estimator_end(self, model, state: FitState, layer: int, estimator) -> None: ...
    def on_layer_end(self, model, state: FitState, layer: int, metrics: dict) -> None: ...
    def on_fit_end(self, model, state: FitState) -> None: ...


class Callback:
    """No-op base: subclass and override the hooks you need."""

    def on_fit_start(self, model, state: FitState) -> None:
        pass

    def on_layer_start(self, model, state: FitState, layer: int) -> None:
        pass

    def on_estimator_end(self, model, state: FitState, layer: int, estimator) -> None:
        pass

    def on_layer_end(self, model, state: FitState, layer: int, metrics: dict) -> None:
        pass

    def on_fit_end(self, model, state: FitState) -> None:
        pass


class EarlyStopping(Callback):
    """Stop growing after ``patience`` layers without improvement over the best layer.

    The cascade itself decides what counts as an improvement (more than ``tol``) and keeps the
    best depth; this callback only decides when to give up.
    """

    def __init__(self, patience: int = 1):
        if int(patience) < 1:
            raise ValueError(f"patience must be >= 1, got {patience}")
        self.patience = int(patience)

    def on_layer_end(self, model, state, layer, metrics):
        if layer - state.best_layer >= self.patience:
            state.stop = True
            logger.info(
                "early stop after layer %d: no %s gain for %d layer(s); best layer %d (%.4f)",
                layer, state.monitor, self.patience, state.best_layer, state.best_score,
            )


class Timer(Callback):
    """Wall time of the fit, of each layer and of each estimator's k-fold fit."""

    def __init__(self):
        self.layer_times: dict[int, float] = {}
        self.estimator_times: list[dict] = []
        self.fit_time = 0.0
        self.n_workers = 1
        self._t0 = self._layer_t0 = 0.0

    def on_fit_start(self, model, state):
        self.layer_times, self.estimator_times = {}, []
        self.n_workers = model._n_jobs()
        self._t0 = time.perf_counter()

    def on_layer_start(self, model, state, layer):
        self._layer_t0 = time.perf_counter()

    def on_estimator_end(self, model, state, layer, estimator):
        self.estimator_times.append(
            {"layer": layer, "name": estimator.spec.name, "phase": state.phase,
             "fit": estimator.fit_time, "total": estimator.total_time}
        )

    def on_layer_end(self, model, state, layer, metrics):
        self.layer_times[layer] = time.perf_counter() - self._layer_t0

    def on_fit_end(self, model, state):
        self.fit_time = time.perf_counter() - self._t0

    def summary(self) -> dict:
        """Totals in seconds. Fold fits run ``n_workers`` at a time, so their ideal wall time is
        their summed time / n_workers; ``overhead`` is the cascade's wall time beyond that, as a
        ratio (``_vs_fit``: beyond the ``fit`` calls; ``_vs_kfold``: beyond fit + fold predictions)."""
        fit = sum(e["fit"] for e in self.estimator_times) / self.n_workers
        total = sum(e["total"] for e in self.estimator_times) / self.n_workers
        return {
            "fit_time": self.fit_time,
            "n_workers": self.n_workers,
            "estimator_fit_time": fit,
            "estimator_kfold_time": total,
            "overhead_vs_fit": (self.fit_time - fit) / fit if fit > 0 else float("nan"),
            "overhead_vs_kfold": (self.fit_time - total) / total if total > 0 else float("nan"),
        }


class ProgressBar(Callback):
    """A tqdm bar over layers (and estimators), showing the monitored score."""

    def __init__(self, leave: bool = False, disable: Optional[bool] = None):
        self.leave, self.disable = leave, disable
        self._bar = None

    def on_fit_start(self, model, state):
        from tqdm.auto import tqdm

        self._bar = tqdm(
            desc="cascade", unit="est",
            leave=self.leave, disable=self.disable,
        )

    def on_estimator_end(self, model, state, layer, estimator):
        if self._bar is not None:
            self._bar.set_description(f"cascade {state.phase} layer {layer}")
            self._bar.update(1)

    def on_layer_end(self, model, state, layer, metrics):
        if self._bar is not None:
            self._bar.set_postfix({state.monitor: f"{metrics[state.monitor]:.4f}"})

    def on_fit_end(self, model, state):
        if self._bar is not None:
            self._bar.close()
        self._bar = None

    def __getstate__(self):  # a live bar is not part of the callback's configuration
        return {**self.__dict__, "_bar": None}


class MLflowCallback(Callback):
    """Metric histories into the active MLflow run; silently does nothing when none is active.

    Per layer (step = layer index): train/val accuracy and log-loss, layer time. Per estimator
    (step = layer index): k-fold fit time. For XGBoost estimators, the per-round validation
    ``merror`` and ``mlogloss`` (mean over folds; step = boosting round), the paper's Fig. 7.
    """

    def __init__(self, prefix: str = "forest"):
        self.prefix = prefix

    @staticmethod
    def _run():
        import mlflow

        return mlflow.active_run()

    def _log(self, values: dict[str, float], step: int) -> None:
        import mlflow

        mlflow.log_metrics({k: float(v) for k, v in values.items() if v is not None and np.isfinite(v)}, step=step)

    def on_estimator_end(self, model, state, layer, estimator):
        run = self._run()
        if run is None:
            return
        name = estimator.spec.name
        kind = "fit_time" if state.phase == "grow" else f"{state.phase}_fit_time"
        self._log({f"{self.prefix}/{kind}/{name}": estimator.fit_time}, step=layer)
        if estimator.evals:
            from mlflow.entities import Metric
            from mlflow.tracking import MlflowClient

            now = int(time.time() * 1000)
            metrics = [
                Metric(f"{self.prefix}/layer{layer}/{name}/val_{m}", float(v), now, step)
                for m, values in estimator.evals.items()
                for step, v in enumerate(values)
            ]
            client = MlflowClient()
            for i in range(0, len(metrics), 1000):  # MLflow's per-batch limit
                client.log_batch(run.info.run_id, metrics=metrics[i : i + 1000])

    def on_layer_end(self, model, state, layer, metrics):
        if self._run() is not None:
            self._log({f"{self.prefix}/{k}": v for k, v in metrics.items() if k != "layer"}, step=layer)

    def on_fit_end(self, model, state):
        if self._run() is not None:
            self._log({f"{self.prefix}/best_layer": state.best_layer, f"{self.prefix}/n_layers_grown": len(state.history)}, step=0)


class Checkpoint(Callback):
    """Save every finished layer to ``directory``; a later fit of the same data and parameters
    resumes after the last saved layer instead of starting over.

    Files (no pickle): ``state.json`` (written last, atomically: it is the commit marker),
    ``train_cv.npy`` / ``val_cv.npy`` and ``layer<t>/`` in the format of :mod:`dfcnn.forest.io`.
    """

    def __init__(self, directory: str):
        self.directory = str(directory)

    def _state_path(self) -> str:
        return os.path.join(self.directory, "state.json")

    def on_fit_start(self, model, state):
        from dfcnn.forest import io

        path = self._state_path()
        if not os.path.exists(path):
            return
        with open(path, encoding="utf-8") as f:
            saved = json.load(f)
        if saved.get("fingerprint") != state.fingerprint:
            logger.warning("checkpoint in %s is from another fit (data or parameters differ); starting over", self.directory)
            return
        n = int(saved["n_layers"])
        n_jobs = model._n_jobs()
        state.layers = [io.load_layer(os.path.join(self.directory, f"layer{t}"), n_jobs=n_jobs) for t in range(n)]
        state.train_cv = load_npy(os.path.join(self.directory, "train_cv.npy"))
        val_path = os.path.join(self.directory, "val_cv.npy")
        state.val_cv = load_npy(val_path) if saved.get("has_val") else None
        state.history = saved["history"]
        state.best_layer = int(saved["best_layer"])
        state.best_score = float(saved["best_score"])
        state.stop = bool(saved["stop"])
        state.seed = int(saved["seed"])
        state.resumed_layers = n
        logger.info("resuming cascade from checkpoint %s after layer %d", self.directory, n - 1)

    def on_layer_end(self, model, state, layer, metrics):
        """Save the grown layer (refitted layers are not checkpointed: a resume refits them)."""
        from dfcnn.forest import io

        os.makedirs(self.directory, exist_ok=True)
        io.save_layer(state.layers[layer], os.path.join(self.directory, f"layer{layer}"))
        atomic_save_npy(os.path.join(self.directory, "train_cv.npy"), state.train_cv)
        if state.val_cv is not None:
            atomic_save_npy(os.path.join(self.directory, "val_cv.npy"), state.val_cv)
        saved: dict[str, Any] = {
            "fingerprint": state.fingerprint,
            "n_layers": layer + 1,
            "has_val": state.val_cv is not None,
            "history": state.history,
            "best_layer": state.best_layer,
            "best_score": state.best_score,
            "stop": state.stop,
            "seed": state.seed,
        }
        atomic_write_json(self._state_path(), saved)
