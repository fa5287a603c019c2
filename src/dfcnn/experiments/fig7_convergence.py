"""Fig. 7: each method's descriptors feed the same XGBoost stage; its per-round validation
error (merror × 100) and loss (mlogloss) are the convergence curves."""

from __future__ import annotations

import numpy as np

from dfcnn.experiments.artefacts import MissingData
from dfcnn.experiments.retrieval_eval import MethodResult
from dfcnn.forest.convergence import best_round, xgb_convergence


def convergence(result: MethodResult, xgb_cfg, seed: int = 0, n_jobs: int = 1) -> dict:
    """Train on the database descriptors, validate on the query descriptors (field labels)."""
    y_train = np.array([d.label for d in result.database])
    y_val = np.array([q.label for q in result.queries])
    keep = np.isin(y_val, y_train)
    if len(np.unique(y_train)) < 2 or keep.sum() == 0:
        raise MissingData("Fig. 7 needs at least 2 labelled fields in the database and queries of those fields")
    history = xgb_convergence(result.database_vectors, y_train, result.query_vectors[keep], y_val[keep],
                              xgb_cfg, n_jobs=n_jobs, seed=seed)
    error = [100.0 * v for v in history["merror"]]
    loss = history["mlogloss"]
    return {"error": error, "loss": loss, "best_error_round": best_round(error), "best_loss_round": best_round(loss)}


def plot(curves: dict[str, dict], path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, label in ((axes[0], "error", "validation error (%)"), (axes[1], "loss", "validation log-loss")):
        for method, c in curves.items():
            ax.plot(np.arange(1, len(c[key]) + 1), c[key], label=f"{method} (best @ {c[f'best_{key}_round']})")
        ax.set(xlabel="boosting round", ylabel=label)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("Convergence of the shared XGBoost stage on each method's descriptors")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
