"""Shared test helpers: run a console script as a real subprocess, read its MLflow store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run_entry(module: str, *overrides: str, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run ``python -m dfcnn.cli.<module> overrides...`` with MLflow pointed at ``cwd``."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.setdefault("OMP_NUM_THREADS", "2")
    return subprocess.run([sys.executable, "-m", f"dfcnn.cli.{module}", f"paths.outputs={cwd}", *overrides],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def mlflow_client_for():
    """Return a function giving an MlflowClient on ``<outputs>/mlflow.db``."""
    from mlflow.tracking import MlflowClient

    def make(outputs: Path) -> MlflowClient:
        return MlflowClient(tracking_uri=f"sqlite:///{outputs / 'mlflow.db'}")

    return make
