"""Pull a sweep's child runs from MLflow into a table and a plot.

    python -m dfcnn.tracking.sweep_table --x forest.n_trees --y mAP --group forest.xgb.reg_lambda

Without ``--parent`` the newest sweep parent run of the experiment is used.
"""

from __future__ import annotations

import argparse
import logging
from collections import defaultdict
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)


def latest_sweep_parent(client: MlflowClient, experiment_id: str) -> str:
    runs = client.search_runs([experiment_id], filter_string="tags.entry LIKE '%-sweep'",
                              order_by=["attributes.start_time DESC"], max_results=1)
    if not runs:
        raise LookupError("no sweep parent run in this experiment: launch one with `dfcnn-train -m ...`")
    return runs[0].info.run_id


def sweep_rows(client: MlflowClient, parent_id: str, params: list[str], metrics: list[str]) -> list[dict]:
    """One row per child run: the requested params (as strings) and metrics (floats)."""
    parent = client.get_run(parent_id)
    children = client.search_runs([parent.info.experiment_id],
                                  filter_string=f"tags.mlflow.parentRunId = '{parent_id}'")
    rows = []
    for run in children:
        row = {"run_id": run.info.run_id, "status": run.info.status}
        row.update({p: run.data.params.get(p) for p in params})
        row.update({m: run.data.metrics.get(m) for m in metrics})
        rows.append(row)
    return sorted(rows, key=lambda r: [str(r.get(p)) for p in params])


def markdown(rows: list[dict], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
    for row in rows:
        cells = [f"{row[c]:.4f}" if isinstance(row.get(c), float) else str(row.get(c)) for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], x: str, y: str, group: str | None, path: Path) -> None:
    import matplotlib.pyplot as plt

    series = defaultdict(list)
    for row in rows:
        if row.get(y) is not None and row.get(x) is not None:
            series[row.get(group) if group else y].append((float(row[x]), row[y]))
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, points in sorted(series.items(), key=lambda kv: str(kv[0])):
        points.sort()
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=f"{group}={name}" if group else y)
    ax.set(xlabel=x, ylabel=y, title=f"{y} against {x}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", default=None, help="default: $MLFLOW_TRACKING_URI or sqlite:///outputs/mlflow.db")
    parser.add_argument("--experiment", default="dfcnn")
    parser.add_argument("--parent", default=None, help="sweep parent run id (default: newest)")
    parser.add_argument("--x", required=True, help="param on the x axis, e.g. forest.n_trees")
    parser.add_argument("--y", default="mAP", help="metric on the y axis")
    parser.add_argument("--group", default=None, help="param that splits the lines, e.g. forest.xgb.reg_lambda")
    parser.add_argument("--out", default="outputs/sweep", help="folder for sweep.md and sweep.png")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    import os

    mlflow.set_tracking_uri(args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
                            or f"sqlite:///{Path('outputs/mlflow.db').resolve()}")
    client = MlflowClient()
    experiment = client.get_experiment_by_name(args.experiment)
    if experiment is None:
        raise SystemExit(f"no MLflow experiment named {args.experiment!r} in this store")
    parent = args.parent or latest_sweep_parent(client, experiment.experiment_id)
    params = [args.x] + ([args.group] if args.group else [])
    rows = sweep_rows(client, parent, params, [args.y])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = markdown(rows, params + [args.y, "status"])
    (out / "sweep.md").write_text(table, encoding="utf-8")
    plot(rows, args.x, args.y, args.group, out / "sweep.png")
    log.info("%s\nwritten %s and %s", table, out / "sweep.md", out / "sweep.png")


if __name__ == "__main__":
    main()
