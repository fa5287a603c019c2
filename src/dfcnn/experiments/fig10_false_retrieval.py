"""Fig. 10: cumulative mean false retrieval proportion over searches n = 1..N, per scene type."""

from __future__ import annotations

import numpy as np

from dfcnn.experiments.artefacts import MissingData
from dfcnn.experiments.retrieval_eval import MethodResult
from dfcnn.metrics.ranking import cumulative_mean, false_retrieval_proportion

SCENE_TYPES = ("single", "three")


def scene_type(record) -> str:
    return "three" if len(record.instance_set() or record.label_set()) >= 3 else "single"


def frp_curves(result: MethodResult, n_searches: int, top_l: int) -> dict[str, np.ndarray]:
    """Cumulative FRP(top_l) over the first ``n_searches`` queries of each scene type, in %."""
    curves = {}
    for kind, rows in _rows_by_kind(result, n_searches).items():
        frp = [false_retrieval_proportion(result.relevance[i], top_l) for i in rows]
        curves[kind] = 100.0 * cumulative_mean(frp)
    return curves


def frp_floor(result: MethodResult, n_searches: int, top_l: int) -> dict[str, float]:
    """The lowest mean FRP(top_l) any ranking could reach, in %: a query with fewer than L
    relevant database items must fill the rest of its top L with false results."""
    floors = {}
    for kind, rows in _rows_by_kind(result, n_searches).items():
        n_relevant = result.relevance[rows].sum(axis=1)
        floors[kind] = 100.0 * float(np.mean(np.clip(1.0 - n_relevant / top_l, 0.0, 1.0)))
    return floors


def _rows_by_kind(result: MethodResult, n_searches: int) -> dict[str, list[int]]:
    out = {}
    for kind in SCENE_TYPES:
        rows = [i for i, q in enumerate(result.queries) if scene_type(q) == kind]
        if len(rows) < n_searches:
            raise MissingData(f"Fig. 10 needs {n_searches} {kind}-object searches, the data has {len(rows)}")
        out[kind] = rows[:n_searches]
    return out


def plot(curves_by_method: dict[str, dict[str, np.ndarray]], path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, kind in zip(axes, SCENE_TYPES):
        for method, curves in curves_by_method.items():
            if kind in curves:
                ax.plot(np.arange(1, len(curves[kind]) + 1), curves[kind], label=method)
        ax.set(title=f"{kind}-object queries", xlabel="number of searches", ylabel="false retrieval proportion (%)")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
