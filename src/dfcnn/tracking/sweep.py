"""Hydra callback giving a multirun one MLflow parent run; each job becomes its child."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig

from dfcnn.tracking.runs import PARENT_ID_FILE, ensure_experiment

log = logging.getLogger(__name__)


class MlflowSweepCallback(Callback):
    """Creates the parent run before the jobs launch and closes it when the sweep ends.

    The parent's id is written into the sweep dir, where every job (in this process or a
    joblib/submitit worker) finds it and attaches itself as a child.
    """

    def __init__(self) -> None:
        self.run_id: str | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if not config.mlflow.enabled:
            return
        experiment_id = ensure_experiment(config)
        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        params = config.hydra.sweeper.get("params") or {}
        run = MlflowClient().create_run(
            experiment_id, run_name=f"sweep {config.hydra.job.name} {sweep_dir.name}",
            tags={"entry": f"{config.hydra.job.name}-sweep", "sweep_dir": str(sweep_dir),
                  "sweep_overrides": " ".join(config.hydra.overrides.task)},
        )
        self.run_id = run.info.run_id
        for key, value in dict(params).items():
            MlflowClient().log_param(self.run_id, f"sweep.{key}", str(value))
        (sweep_dir / PARENT_ID_FILE).write_text(self.run_id)
        log.info("sweep parent MLflow run %s", self.run_id)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self.run_id:
            MlflowClient().set_terminated(self.run_id, "FINISHED")
