"""dfcnn-reproduce: run every method over the configured data and write the paper's artefacts."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import mlflow
from omegaconf import DictConfig

from dfcnn.cli.app import hydra_entry, run_dir
from dfcnn.tracking.runs import tracked_run

log = logging.getLogger(__name__)


def method_config(method: str) -> DictConfig:
    """The run's config recomposed with ``method=<method>`` (same user overrides otherwise)."""
    from hydra import compose
    from hydra.core.hydra_config import HydraConfig

    overrides = [o for o in HydraConfig.get().overrides.task if not o.lstrip("+~").startswith("method=")]
    return compose(config_name="reproduce", overrides=overrides + [f"method={method}"])


@hydra_entry("reproduce")
def main(cfg: DictConfig) -> None:
    from dfcnn.data import load_splits
    from dfcnn.data.skipped import SkipLog
    from dfcnn.experiments.reproduce import reproduce

    report_dir = Path(cfg.report_dir or Path(cfg.paths.outputs) / "paper")
    skip_log = SkipLog(run_dir() / "skipped.jsonl")
    with tracked_run(cfg, "reproduce", run_name="reproduce"):
        splits = load_splits(cfg.data, cfg.paths.outputs)
        report = reproduce(cfg, {m: method_config(m) for m in cfg.methods}, splits, report_dir, skip_log,
                           rerun="dfcnn-reproduce " + " ".join(sys.argv[1:]))
        mlflow.log_metrics(skip_log.metrics())
        if skip_log.count:
            mlflow.log_artifact(str(skip_log.path))
        log.info("report written to %s", report)


if __name__ == "__main__":
    main()
