"""What every console script shares: the ``conf/`` tree, logging, and Hydra's entry decorator."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import hydra
from omegaconf import DictConfig

from dfcnn.config import register_configs


def conf_dir() -> str:
    """The repository's ``conf/`` (``$DFCNN_CONF_DIR`` overrides, e.g. for an installed copy)."""
    return os.environ.get("DFCNN_CONF_DIR") or str(Path(__file__).resolve().parents[3] / "conf")


def hydra_entry(config_name: str) -> Callable[[Callable[[DictConfig], object]], Callable[[], object]]:
    """``@hydra.main`` over the shared conf tree, with the schemas registered first."""
    register_configs()
    return hydra.main(version_base="1.3", config_path=conf_dir(), config_name=config_name)


def run_dir() -> Path:
    """This job's Hydra output dir (where skipped.jsonl and per-run files go)."""
    from hydra.core.hydra_config import HydraConfig

    return Path(HydraConfig.get().runtime.output_dir)
