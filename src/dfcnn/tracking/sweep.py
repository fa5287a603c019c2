"""Hydra callback giving a multirun one MLflow parent run; each job becomes its child."""

from __future__ import annotations

import atexit
import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig

from dfcnn.tracking.runs import PARENT_ID_FILE, ensure_experiment

log = logging.getLogger(__name__)

SWEEP_ENTRY_SUFFIX = "-sweep"  # parent runs are tagged entry=<job name>-sweep (sweep_table finds them so)


def child_runs(client: MlflowClient, parent_id: str) -> list:
    """Every run attached to the sweep parent ``parent_id`` (any status)."""
    parent = client.get_run(parent_id)
    return client.search_runs([parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent_id}'",
                              max_results=10_000)


def summarise_children(children: list, metric: str = "mAP") -> dict[str, float]:
    """Counts by status and the best value of ``metric`` over the finished children."""
    finished = [r for r in children if r.info.status == "FINISHED"]
    summary = {"sweep_jobs": float(len(children)), "sweep_jobs_finished": float(len(finished)),
               "sweep_jobs_failed": float(sum(r.info.status == "FAILED" for r in children))}
    values = [r.data.metrics[metric] for r in finished if metric in r.data.metrics]
    if values:
        summary[f"best_{metric}"] = max(values)
    return summary


class MlflowSweepCallback(Callback):
    """Creates the parent run before the jobs launch and closes it when the sweep ends.

    The parent's id is written into the sweep dir, where every job (in this process or a
    joblib/submitit worker) finds it and attaches itself as a child. The parent ends FINISHED
    when every job finished, FAILED when one failed (Hydra then stops the sweep before
    ``on_multirun_end``: an exit hook closes the parent instead, so it never stays RUNNING).
    """

    def __init__(self, metric: str = "mAP") -> None:
        self.metric = metric
        self.run_id: str | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if not config.mlflow.enabled:
            return
        experiment_id = ensure_experiment(config)
        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        params = config.hydra.sweeper.get("params") or {}
        client = MlflowClient()
        run = client.create_run(
            experiment_id, run_name=f"sweep {config.hydra.job.name} {sweep_dir.name}",
            tags={"entry": f"{config.hydra.job.name}{SWEEP_ENTRY_SUFFIX}", "sweep_dir": str(sweep_dir),
                  "sweep_overrides": " ".join(config.hydra.overrides.task),
                  "sweep_sweeper": str(config.hydra.sweeper.get("_target_", "")).rsplit(".", 1)[-1],
                  "sweep_launcher": str(config.hydra.launcher.get("_target_", "")).rsplit(".", 1)[-1]},
        )
        self.run_id = run.info.run_id
        client.set_tag(self.run_id, "sweep_id", self.run_id)  # parent and children share it
        for key, value in dict(params).items():
            client.log_param(self.run_id, f"sweep.{key}", str(value))
        tmp = sweep_dir / f".{PARENT_ID_FILE}.tmp"
        tmp.write_text(self.run_id)
        tmp.replace(sweep_dir / PARENT_ID_FILE)
        atexit.register(self._close, "FAILED")
        log.info("sweep parent MLflow run %s", self.run_id)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._close("FINISHED")

    def _close(self, status: str) -> None:
        """End the parent run once: log the children's summary and set its final status."""
        if not self.run_id:
            return
        run_id, self.run_id = self.run_id, None
        try:
            client = MlflowClient()
            summary = summarise_children(child_runs(client, run_id), self.metric)
            for key, value in summary.items():
                client.log_metric(run_id, key, value)
            if status == "FINISHED" and summary["sweep_jobs_failed"]:
                status = "FAILED"
            client.set_terminated(run_id, status)
            log.info("sweep parent MLflow run %s %s: %s", run_id, status, summary)
        except Exception as exc:  # the store went away: say so, never mask the sweep's own error
            log.error("could not close sweep parent MLflow run %s: %s", run_id, exc)
