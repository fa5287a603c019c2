"""Benchmark of the cascade forest (issue 4): accuracy, fit time, overhead, peak memory.

For each data set the cascade is compared, in the same run, with each of its estimators alone
(one random forest, one XGBoost on the raw descriptors). "Overhead" is the cascade's wall time
beyond its fold models' fit calls (which run ``n_jobs`` at a time), target ≤ 15 %.

    .venv/bin/python experiments/benchmarks/forest.py                     # digits + 10,000 × 512
    .venv/bin/python experiments/benchmarks/forest.py --datasets digits
    .venv/bin/python experiments/benchmarks/forest.py --cnn-n-trees 100 --cnn-xgb-rounds 100 --cnn-max-layers 4

Data sets: scikit-learn digits (70/30 split, seed 0; target accuracy ≥ 98 %), and synthetic
CNN-like descriptors (non-negative, sparse, L2-normalised, 10 classes; 70/30 split). Figures are
printed and, when MLflow is importable, logged to experiment "benchmarks".
"""

from __future__ import annotations

import argparse
import os
import threading
import time

import numpy as np
import psutil
from omegaconf import OmegaConf
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

from dfcnn.config.forest import ForestConfig
from dfcnn.forest import CascadeForestClassifier, Timer
from dfcnn.forest.estimators import make_xgboost
from dfcnn.tracking.benchmarks import benchmark_run

CONF = os.path.join(os.path.dirname(__file__), "..", "..", "conf", "forest", "default.yaml")


class PeakRSS:
    """Peak resident memory above the level at entry (sampled; sees native allocations too)."""

    def __init__(self, interval: float = 0.02):
        self.interval, self.peak = interval, 0
        self._proc = psutil.Process()

    def __enter__(self):
        self.base = self._proc.memory_info().rss
        self.peak, self._stop = self.base, threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def _run(self):
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)

    @property
    def mib(self) -> float:
        return (self.peak - self.base) / 2**20


def cnn_like(n: int, dim: int, n_classes: int, seed: int = 0):
    """Sparse non-negative class prototypes + noise, ReLU, L2: the shape of CNN descriptors."""
    rng = np.random.default_rng(seed)
    protos = np.maximum(rng.normal(0, 1, (n_classes, dim)), 0) * (rng.random((n_classes, dim)) < 0.3)
    y = rng.integers(0, n_classes, n)
    X = np.maximum(0.35 * protos[y] + rng.normal(0, 0.5, (n, dim)), 0)
    X /= np.linalg.norm(X, axis=1, keepdims=True) + 1e-12
    return X.astype(np.float32), y


def forest_config(args, big: bool) -> ForestConfig:
    raw = OmegaConf.to_container(OmegaConf.merge({"seed": 0}, {"forest": OmegaConf.load(CONF)}), resolve=True)["forest"]
    cfg = OmegaConf.merge(OmegaConf.structured(ForestConfig), raw)
    if args.n_jobs is not None:
        cfg.n_jobs = args.n_jobs
    if big:
        cfg.n_trees, cfg.max_layers, cfg.xgb.n_estimators = args.cnn_n_trees, args.cnn_max_layers, args.cnn_xgb_rounds
    return OmegaConf.to_object(cfg)


def timed(fn):
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t0
    return out, dt, mem.mib


def bench(name: str, X, y, cfg: ForestConfig) -> dict:
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0)  # plain 70/30, seed 0
    timer = Timer()
    cascade = CascadeForestClassifier.from_config(cfg, callbacks=[timer])
    _, t_cas, m_cas = timed(lambda: cascade.fit(Xtr, ytr))
    rf = RandomForestClassifier(n_estimators=cfg.n_trees, max_features="sqrt", n_jobs=cfg.n_jobs, random_state=cfg.seed)
    _, t_rf, m_rf = timed(lambda: rf.fit(Xtr, ytr))
    xgb = make_xgboost(OmegaConf.to_container(OmegaConf.structured(cfg.xgb)), len(np.unique(y)), n_jobs=cfg.n_jobs, seed=cfg.seed)
    _, t_xgb, m_xgb = timed(lambda: xgb.fit(Xtr, ytr))
    s = timer.summary()
    r = {
        "n_train": len(ytr), "dim": X.shape[1], "n_jobs": cfg.n_jobs, "n_trees": cfg.n_trees,
        "xgb_rounds": cfg.xgb.n_estimators, "layers_grown": len(cascade.history_), "layers_kept": cascade.n_layers_,
        "cascade_acc": cascade.score(Xte, yte),
        "rf_acc": float(np.mean(rf.predict(Xte) == yte)),
        "xgb_acc": float(np.mean(xgb.predict_proba(Xte).argmax(1) == yte)),
        "cascade_fit_s": t_cas, "rf_fit_s": t_rf, "xgb_fit_s": t_xgb,
        "cascade_vs_rf_time": t_cas / t_rf, "cascade_vs_xgb_time": t_cas / t_xgb,
        "estimator_fit_s": s["estimator_fit_time"], "overhead_vs_fit": s["overhead_vs_fit"],
        "overhead_vs_kfold": s["overhead_vs_kfold"],
        "cascade_peak_mib": m_cas, "rf_peak_mib": m_rf, "xgb_peak_mib": m_xgb,
    }
    print(f"\n== {name} ==")
    for k, v in r.items():
        print(f"  {k:22s} {v:.4f}" if isinstance(v, float) else f"  {k:22s} {v}")
    return r


def log_mlflow(results: dict) -> None:
    try:
        import mlflow
    except ImportError:
        return
    with benchmark_run("forest"):
        for name, r in results.items():
            mlflow.log_metrics({f"{name}/{k}": float(v) for k, v in r.items()})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="digits,cnn")
    p.add_argument("--n-jobs", type=int, default=None, help="default: forest.n_jobs of conf/forest/default.yaml")
    p.add_argument("--cnn-n", type=int, default=10_000)
    p.add_argument("--cnn-dim", type=int, default=512)
    p.add_argument("--cnn-classes", type=int, default=10)
    p.add_argument("--cnn-n-trees", type=int, default=50)
    p.add_argument("--cnn-xgb-rounds", type=int, default=50)
    p.add_argument("--cnn-max-layers", type=int, default=2)
    p.add_argument("--no-mlflow", action="store_true")
    args = p.parse_args()
    results = {}
    for ds in args.datasets.split(","):
        if ds == "digits":
            X, y = load_digits(return_X_y=True)
            results["digits"] = bench("digits (70/30, seed 0)", X, y, forest_config(args, big=False))
        elif ds == "cnn":
            X, y = cnn_like(args.cnn_n, args.cnn_dim, args.cnn_classes)
            results["cnn"] = bench(f"CNN-like {args.cnn_n} x {args.cnn_dim}", X, y, forest_config(args, big=True))
        else:
            raise SystemExit(f"unknown data set {ds!r}")
    if not args.no_mlflow:
        log_mlflow(results)


if __name__ == "__main__":
    main()
