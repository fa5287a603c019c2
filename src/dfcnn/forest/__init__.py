"""Attribute features: gcForest-style cascade forest with XGBoost (SPEC §2.4)."""

from dfcnn.forest.callbacks import (
    Callback,
    CascadeCallback,
    Checkpoint,
    EarlyStopping,
    FitState,
    MLflowCallback,
    ProgressBar,
    Timer,
)
from dfcnn.forest.cascade import CascadeForestClassifier
from dfcnn.forest.convergence import best_round, xgb_convergence

__all__ = [
    "CascadeForestClassifier",
    "Callback",
    "CascadeCallback",
    "Checkpoint",
    "EarlyStopping",
    "FitState",
    "MLflowCallback",
    "ProgressBar",
    "Timer",
    "best_round",
    "xgb_convergence",
]
