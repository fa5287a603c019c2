"""Schema of the Hydra group ``forest`` (SPEC §2.4)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class XGBConfig:
    reg_lambda: float = 1.0  # λ of Eqs. 5-6
    gamma: float = 0.0  # γ of Eq. 6
    n_estimators: int = 100
    max_depth: int = 6
    learning_rate: float = 0.3


@dataclass
class ForestConfig:
    enabled: bool = True
    n_trees: int = 100  # trees per random / completely-random forest
    n_random_forests: int = 2
    n_completely_random_forests: int = 2
    n_xgboost: int = 1
    n_folds: int = 3
    max_layers: int = 4
    patience: int = 1
    tol: float = 0.0
    validation_fraction: float = 0.2  # held out to choose the depth; 0: monitor out-of-fold accuracy
    refit: bool = True  # gcForest: refit the chosen depth on training + validation data
    n_jobs: int = 2  # fold models fitted at once (each single-threaded)
    seed: int = 0
    xgb: XGBConfig = field(default_factory=XGBConfig)
