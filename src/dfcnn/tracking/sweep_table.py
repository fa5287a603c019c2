"""Pull a sweep's child runs from MLflow into a table and a plot.

    python -m dfcnn.tracking.sweep_table --x forest.n_trees --y mAP --group forest.xgb.reg_lambda

Without ``--parent`` (a parent run id) or ``--sweep-dir`` (a multirun folder, whose
``mlflow_parent_run_id`` file names the parent) the newest sweep parent run of the experiment
is used. Writes ``sweep.md`` (markdown table), ``sweep.csv`` and ``sweep.png`` into ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
from collections import defaultdict
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

from dfcnn.tracking.runs import PARENT_ID_FILE
from dfcnn.tracking.sweep import SWEEP_ENTRY_SUFFIX, child_runs

log = logging.getLogger(__name__)


def latest_sweep_parent(client: MlflowClient, experiment_id: str) -> str:
    runs = client.search_runs([experiment_id], filter_string=f"tags.entry LIKE '%{SWEEP_ENTRY_SUFFIX}'",
                              order_by=["attributes.start_time DESC"], max_results=1)
    if not runs:
        raise LookupError("no sweep parent run in this experiment: launch one with `dfcnn-train -m ...`")
    return runs[0].info.run_id


def parent_from_sweep_dir(sweep_dir: str | os.PathLike) -> str:
    path = Path(sweep_dir) / PARENT_ID_FILE
    if not path.is_file():
        raise LookupError(f"{path} not found: is {sweep_dir} a multirun folder of a run with mlflow.enabled=true?")
    return path.read_text().strip()


def _sort_key(value) -> tuple:
    """Numbers in numeric order (10 after 4), then everything else as text."""
    try:
        return (0, float(value), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(value))


def sweep_rows(client: MlflowClient, parent_id: str, params: list[str], metrics: list[str]) -> list[dict]:
    """One row per child run: the requested params (as strings) and metrics (floats)."""
    rows = []
    for run in child_runs(client, parent_id):
        row = {"run_id": run.info.run_id, "status": run.info.status,
               "overrides": run.data.tags.get("sweep_overrides", "")}
        row.update({p: run.data.params.get(p) for p in params})
        row.update({m: run.data.metrics.get(m) for m in metrics})
        rows.append(row)
    return sorted(rows, key=lambda r: [_sort_key(r.get(p)) for p in params])


def markdown(rows: list[dict], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
    for row in rows:
        cells = [f"{row[c]:.4f}" if isinstance(row.get(c), float) else str(row.get(c)) for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_csv(rows: list[dict], columns: list[str], path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def plot(rows: list[dict], x: str, y: str, group: str | None, path: Path) -> None:
    """``y`` against ``x`` for the finished runs, one line per value of ``group``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = defaultdict(list)
    for row in rows:
        if row.get(y) is not None and row.get(x) is not None and row.get("status", "FINISHED") == "FINISHED":
            series[row.get(group) if group else y].append((float(row[x]), row[y]))
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, points in sorted(series.items(), key=lambda kv: _sort_key(kv[0])):
        points.sort()
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=f"{group}={name}" if group else y)
    ax.set(xlabel=x, ylabel=y, title=f"{y} against {x}")
    ax.grid(alpha=0.3)
    if series:
        ax.legend()
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)


def sweep_table(client: MlflowClient, parent_id: str, x: str, y: str = "mAP", group: str | None = None,
                out: str | os.PathLike | None = None) -> list[dict]:
    """Rows of the sweep's children; with ``out``, also sweep.md / sweep.csv / sweep.png there."""
    params = [x] + ([group] if group else [])
    rows = sweep_rows(client, parent_id, params, [y])
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        columns = params + [y, "status", "run_id"]
        text = markdown(rows, columns)
        tmp = out / ".sweep.md.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out / "sweep.md")
        write_csv(rows, columns + ["overrides"], out / "sweep.csv")
        plot(rows, x, y, group, out / "sweep.png")
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", default=None, help="default: $MLFLOW_TRACKING_URI or sqlite:///outputs/mlflow.db")
    parser.add_argument("--experiment", default="dfcnn")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--parent", default=None, help="sweep parent run id (default: the newest sweep)")
    source.add_argument("--sweep-dir", default=None, help="a multirun folder (its parent-run id file names the sweep)")
    parser.add_argument("--x", required=True, help="param on the x axis, e.g. forest.n_trees")
    parser.add_argument("--y", default="mAP", help="metric on the y axis")
    parser.add_argument("--group", default=None, help="param that splits the lines, e.g. forest.xgb.reg_lambda")
    parser.add_argument("--out", default="outputs/sweep", help="folder for sweep.md, sweep.csv and sweep.png")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    mlflow.set_tracking_uri(args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
                            or f"sqlite:///{Path('outputs/mlflow.db').resolve()}")
    client = MlflowClient()
    try:
        if args.parent or args.sweep_dir:
            parent = args.parent or parent_from_sweep_dir(args.sweep_dir)
        else:
            experiment = client.get_experiment_by_name(args.experiment)
            if experiment is None:
                raise LookupError(f"no MLflow experiment named {args.experiment!r} in this store")
            parent = latest_sweep_parent(client, experiment.experiment_id)
    except LookupError as exc:
        raise SystemExit(str(exc)) from None
    rows = sweep_table(client, parent, args.x, args.y, args.group, args.out)
    if not rows:
        log.warning("sweep %s has no child runs yet", parent)
    columns = [args.x] + ([args.group] if args.group else []) + [args.y, "status"]
    out = Path(args.out)
    log.info("sweep %s\n%s\nwritten %s, %s and %s", parent, markdown(rows, columns), out / "sweep.md",
             out / "sweep.csv", out / "sweep.png")
    return rows


if __name__ == "__main__":
    main()
