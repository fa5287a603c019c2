"""What every console script shares: the ``conf/`` tree, config validation, Hydra's decorator."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Callable

import hydra
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from dfcnn.config import register_configs
from dfcnn.config.schema import SCHEMAS


class ConfigError(ValueError):
    """A composed config that does not fit its entry point's schema."""


def conf_dir() -> str:
    """The repository's ``conf/`` (``$DFCNN_CONF_DIR`` overrides, e.g. for an installed copy)."""
    return os.environ.get("DFCNN_CONF_DIR") or str(Path(__file__).resolve().parents[3] / "conf")


def validate(cfg: DictConfig, config_name: str) -> None:
    """Re-check the composed config against the schema: catches keys forced in with ``+key=``."""
    schema = OmegaConf.structured(SCHEMAS[f"{config_name}_schema"])
    try:
        OmegaConf.merge(schema, OmegaConf.to_container(cfg, resolve=False))
    except OmegaConfBaseException as exc:
        raise ConfigError(f"config of dfcnn-{config_name} does not fit its schema: {exc}") from None


def hydra_entry(config_name: str) -> Callable[[Callable[[DictConfig], object]], Callable[[], object]]:
    """``@hydra.main`` over the shared conf tree, with the schemas registered and enforced."""
    register_configs()

    def decorate(task: Callable[[DictConfig], object]) -> Callable[[], object]:
        @functools.wraps(task)
        def checked(cfg: DictConfig) -> object:
            validate(cfg, config_name)
            return task(cfg)

        return hydra.main(version_base="1.3", config_path=conf_dir(), config_name=config_name)(checked)

    return decorate


def run_dir() -> Path:
    """This job's Hydra output dir (where skipped.jsonl and per-run files go)."""
    from hydra.core.hydra_config import HydraConfig

    return Path(HydraConfig.get().runtime.output_dir)
