"""The estimators of one cascade layer (SPEC §2.4): RF, completely-random forest, XGBoost.

Each factory returns a fresh, unfitted scikit-learn-compatible classifier. The cascade wraps
every one of them in k-fold class-vector generation (``kfold.py``); nothing here knows about
layers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from xgboost import XGBClassifier

RF, CRF, XGB = "rf", "crf", "xgb"
KINDS = (RF, CRF, XGB)

#: Native XGBoost validation metrics recorded per boosting round (the paper's Fig. 7).
XGB_METRICS = ("merror", "mlogloss")


@dataclass(frozen=True)
class EstimatorSpec:
    """Name and kind of one estimator slot in a layer (e.g. ``rf0``, ``crf1``, ``xgb0``)."""

    name: str
    kind: str


def layer_specs(n_random_forests: int, n_completely_random_forests: int, n_xgboost: int) -> list[EstimatorSpec]:
    """The estimator slots of one layer, in a fixed order (default 2 RF + 2 CRF + 1 XGBoost)."""
    counts = {RF: n_random_forests, CRF: n_completely_random_forests, XGB: n_xgboost}
    for kind, n in counts.items():
        if int(n) < 0:
            raise ValueError(f"number of {kind} estimators per layer must be >= 0, got {n}")
    specs = [EstimatorSpec(f"{kind}{i}", kind) for kind in KINDS for i in range(int(counts[kind]))]
    if not specs:
        raise ValueError("a cascade layer needs at least one estimator; all estimator counts are 0")
    return specs


def make_random_forest(n_trees: int, *, n_jobs: int, seed: int) -> RandomForestClassifier:
    """Random forest with ``max_features="sqrt"`` as in gcForest."""
    return RandomForestClassifier(n_estimators=n_trees, max_features="sqrt", n_jobs=n_jobs, random_state=seed)


def make_completely_random_forest(n_trees: int, *, n_jobs: int, seed: int) -> ExtraTreesClassifier:
    """Completely-random forest: extra trees that test one random feature per split (gcForest)."""
    return ExtraTreesClassifier(n_estimators=n_trees, max_features=1, n_jobs=n_jobs, random_state=seed)


def make_xgboost(xgb_params: Mapping[str, Any], n_classes: int, *, n_jobs: int, seed: int) -> XGBClassifier:
    """XGBoost with ``reg_lambda`` = λ and ``gamma`` = γ (Eqs. 1-6), ``tree_method="hist"``.

    The objective is always ``multi:softprob`` (also for two classes) so that the validation
    metrics are XGBoost's native ``merror`` and ``mlogloss`` for every problem. Only
    ``predict_proba`` of the returned model is meaningful.
    """
    p = dict(xgb_params)
    return XGBClassifier(
        n_estimators=int(p.get("n_estimators", 100)),
        max_depth=int(p.get("max_depth", 6)),
        learning_rate=float(p.get("learning_rate", 0.3)),
        reg_lambda=float(p.get("reg_lambda", 1.0)),
        gamma=float(p.get("gamma", 0.0)),
        tree_method="hist",
        objective="multi:softprob",
        num_class=int(n_classes),
        eval_metric=list(XGB_METRICS),
        n_jobs=n_jobs,
        random_state=seed,
        verbosity=0,
    )


def make_estimator(
    kind: str, *, n_trees: int, xgb_params: Mapping[str, Any], n_classes: int, n_jobs: int, seed: int
):
    """Build one unfitted estimator of ``kind`` (``rf``, ``crf`` or ``xgb``)."""
    if kind == RF:
        return make_random_forest(n_trees, n_jobs=n_jobs, seed=seed)
    if kind == CRF:
        return make_completely_random_forest(n_trees, n_jobs=n_jobs, seed=seed)
    if kind == XGB:
        return make_xgboost(xgb_params, n_classes, n_jobs=n_jobs, seed=seed)
    raise ValueError(f"unknown estimator kind {kind!r}; expected one of {KINDS}")


@dataclass(frozen=True)
class EstimatorFactory:
    """Picklable ``seed -> unfitted single-threaded estimator`` for one slot of a layer."""

    kind: str
    n_trees: int
    xgb_params: tuple  # sorted (key, value) pairs: hashable and picklable
    n_classes: int

    def __call__(self, seed: int):
        return make_estimator(
            self.kind, n_trees=self.n_trees, xgb_params=dict(self.xgb_params), n_classes=self.n_classes, n_jobs=1, seed=seed
        )
