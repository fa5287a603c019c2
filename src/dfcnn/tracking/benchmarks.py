"""The MLflow run every benchmark under experiments/benchmarks/ logs its figures into."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import mlflow

from dfcnn.tracking.environment import capture_environment, git_state


@contextmanager
def benchmark_run(name: str, experiment: str = "benchmarks") -> Iterator[mlflow.ActiveRun]:
    """A run in experiment ``benchmarks`` of ``$MLFLOW_TRACKING_URI`` (default: outputs/mlflow.db),
    tagged with the machine it measured, since every figure is only true of that machine."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        Path("outputs").mkdir(exist_ok=True)
        uri = f"sqlite:///{Path('outputs/mlflow.db').resolve()}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=name) as run:
        mlflow.set_tags({"entry": "benchmark", **git_state(),
                         **{f"env.{k}": v for k, v in capture_environment().items()}})
        yield run
