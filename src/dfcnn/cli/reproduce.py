"""dfcnn-reproduce: run every method over the configured data and write the paper's artefacts."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import mlflow
from omegaconf import DictConfig

from dfcnn.cli.app import hydra_entry, run_dir
from dfcnn.errors import UnavailableError
from dfcnn.tracking.runs import tracked_run

log = logging.getLogger(__name__)


def method_config(cfg: DictConfig, method: str) -> DictConfig:
    """The run's config recomposed with ``method=<method>`` (same user overrides otherwise)."""
    from hydra import compose
    from hydra.core.hydra_config import HydraConfig

    overrides = [o for o in HydraConfig.get().overrides.task if not o.lstrip("+~").startswith("method=")]
    return compose(config_name="reproduce", overrides=overrides + [f"method={method}"])


@hydra_entry("reproduce")
def main(cfg: DictConfig) -> None:
    from dfcnn.data import load_splits
    from dfcnn.data.skipped import SkipLog
    from dfcnn.experiments.retrieval_eval import evaluate_method
    from dfcnn.experiments.summary_report import write_summary_report

    report_dir = Path(cfg.report_dir or Path(cfg.paths.outputs) / "paper")
    skip_log = SkipLog(run_dir() / "skipped.jsonl")
    with tracked_run(cfg, "reproduce", run_name="reproduce"):
        splits = load_splits(cfg.data, cfg.paths.outputs)
        results, failures = {}, {}
        for method in cfg.methods:
            mcfg = method_config(cfg, method)
            try:
                with tracked_run(mcfg, "reproduce", run_name=method, nested=True, extra_tags={"method": method}):
                    result = evaluate_method(mcfg, splits, skip_log=skip_log)
                    mlflow.log_metrics(result.metrics)
                    mlflow.set_tags({f"info.{k}": str(v) for k, v in result.info.items()})
                    results[method] = result.metrics
            except UnavailableError as exc:
                log.warning("method %s cannot run here: %s", method, exc)
                failures[method] = str(exc)
        mlflow.log_metric("skipped_images", skip_log.count)
        if skip_log.count:
            mlflow.log_artifact(str(skip_log.path))
        report = write_summary_report(report_dir / "report.md", cfg.data.name, results, failures,
                                      rerun="dfcnn-reproduce " + " ".join(sys.argv[1:]))
        mlflow.log_artifact(str(report))
        for method, metrics in results.items():
            mlflow.log_metrics({f"{method}.{k}": v for k, v in metrics.items() if k in ("mAP", "P@10")})
        log.info("report written to %s", report)
        if not results:
            raise UnavailableError(f"no method could run: {failures}")


if __name__ == "__main__":
    main()
