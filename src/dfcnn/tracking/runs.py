"""MLflow runs for every entry point: where the store lives, what each run records, how it ends.

The embedded default is a SQLite store ``<outputs>/mlflow.db`` with artifacts under
``<outputs>/mlartifacts``; ``mlflow.tracking_uri`` or ``$MLFLOW_TRACKING_URI`` points elsewhere.
A run that raises ends FAILED, one interrupted by Ctrl-C ends KILLED; never left RUNNING.
"""

from __future__ import annotations

import json
import logging
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import mlflow
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig, OmegaConf

from dfcnn.tracking.environment import capture_environment, git_state

log = logging.getLogger(__name__)

PARENT_ID_FILE = "mlflow_parent_run_id"
MAX_PARAM_CHARS = 6000


_uri_we_set: str | None = None  # mlflow.set_tracking_uri exports $MLFLOW_TRACKING_URI; not the user's


def user_tracking_uri() -> str | None:
    value = os.environ.get("MLFLOW_TRACKING_URI")
    return value if value and value != _uri_we_set else None


def uses_embedded_store(cfg: DictConfig) -> bool:
    return not cfg.mlflow.get("tracking_uri") and not user_tracking_uri()


def tracking_uri(cfg: DictConfig) -> str:
    if cfg.mlflow.get("tracking_uri"):
        return str(cfg.mlflow.tracking_uri)
    if user_tracking_uri():
        return user_tracking_uri()
    outputs = Path(cfg.paths.outputs).resolve()
    outputs.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{outputs / 'mlflow.db'}"


def ensure_experiment(cfg: DictConfig) -> str:
    """Point MLflow at the configured store and return the experiment id, creating it if new."""
    global _uri_we_set
    embedded = uses_embedded_store(cfg)
    _uri_we_set = tracking_uri(cfg)
    mlflow.set_tracking_uri(_uri_we_set)
    name = cfg.mlflow.experiment
    client = MlflowClient()
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    artifact_location = None
    if embedded:
        artifact_location = (Path(cfg.paths.outputs).resolve() / "mlartifacts" / name).as_uri()
    try:
        return client.create_experiment(name, artifact_location=artifact_location)
    except mlflow.exceptions.MlflowException:  # created meanwhile by a parallel job
        return client.get_experiment_by_name(name).experiment_id


def flatten(node: Any, prefix: str = "") -> dict[str, str]:
    """Flatten a resolved config into ``a.b.c -> str`` params."""
    flat: dict[str, str] = {}
    if isinstance(node, dict):
        for key, value in node.items():
            flat.update(flatten(value, f"{prefix}{key}."))
        return flat
    text = json.dumps(node) if isinstance(node, (list, tuple)) else str(node)
    flat[prefix[:-1]] = text[:MAX_PARAM_CHARS]
    return flat


def multirun_context() -> dict[str, str]:
    """Tags linking a Hydra multirun job to its sweep's parent run (empty for single runs)."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hc = HydraConfig.get()
    except (ImportError, ValueError):
        return {}
    if hc.mode != RunMode.MULTIRUN:
        return {}
    tags = {"sweep_dir": str(hc.sweep.dir), "sweep_job": str(hc.job.num),
            "sweep_overrides": " ".join(hc.overrides.task)}
    parent_file = Path(hc.sweep.dir) / PARENT_ID_FILE
    if parent_file.exists():
        parent_id = parent_file.read_text().strip()
        tags.update({"mlflow.parentRunId": parent_id, "sweep_id": parent_id})
    return tags


@contextmanager
def tracked_run(cfg: DictConfig, entry: str, run_name: str | None = None,
                nested: bool = False, extra_tags: dict[str, str] | None = None) -> Iterator[Any]:
    """Start an MLflow run that records config, git state and environment, and always ends.

    ``nested=True`` makes it a child of the active run (one child per method in reproduce).
    """
    if not cfg.mlflow.enabled:
        yield None
        return
    experiment_id = ensure_experiment(cfg)
    tags = {"entry": entry, **git_state(), **(extra_tags or {})}
    if not nested:
        tags.update(multirun_context())
    run = mlflow.start_run(experiment_id=experiment_id, nested=nested, tags=tags,
                           run_name=run_name or cfg.mlflow.get("run_name") or None)
    try:
        resolved = OmegaConf.to_container(cfg, resolve=True)
        mlflow.log_params(flatten(resolved))
        mlflow.log_text(OmegaConf.to_yaml(cfg, resolve=True), "config.yaml")
        env = capture_environment()
        mlflow.set_tags({f"env.{k}": v for k, v in env.items()})
        mlflow.log_dict(env, "environment.json")
        yield run
    except KeyboardInterrupt:
        log.warning("interrupted: MLflow run %s marked KILLED", run.info.run_id)
        mlflow.end_run("KILLED")
        raise
    except BaseException:
        log.error("failed: MLflow run %s marked FAILED", run.info.run_id)
        mlflow.end_run("FAILED")
        raise
    else:
        mlflow.end_run("FINISHED")
