"""dfcnn-train: fit one method (whitening, vocabulary, cascade forest) and score its retrieval.

One job of a sweep: ``dfcnn-train -m forest.n_trees=50,100 forest.xgb.reg_lambda=0.1,1,10``
gives one MLflow child run per job under the sweep's parent run.
"""

from __future__ import annotations

import logging

import mlflow
from omegaconf import DictConfig

from dfcnn.cli.app import hydra_entry, run_dir
from dfcnn.tracking.runs import tracked_run

log = logging.getLogger(__name__)


@hydra_entry("train")
def main(cfg: DictConfig) -> float:
    from dfcnn.data import load_splits
    from dfcnn.data.skipped import SkipLog
    from dfcnn.experiments.retrieval_eval import evaluate_method

    skip_log = SkipLog(run_dir() / "skipped.jsonl")
    with tracked_run(cfg, "train", extra_tags={"method": cfg.method.name}):
        splits = load_splits(cfg.data, cfg.paths.outputs)
        result = evaluate_method(cfg, splits, skip_log=skip_log)
        mlflow.log_metrics(result.metrics)
        mlflow.set_tags({f"info.{k}": str(v) for k, v in result.info.items()})
        mlflow.log_metrics(skip_log.metrics())
        if skip_log.count:
            mlflow.log_artifact(str(skip_log.path))
    return result.metrics["mAP"]  # the value an optimising sweeper maximises


if __name__ == "__main__":
    main()
