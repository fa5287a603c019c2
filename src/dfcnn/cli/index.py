"""dfcnn-index: fit the method on the images under a folder and write a self-contained index.

    dfcnn-index data=folder data.root=DIR index_dir=OUT [method=dfcnn|cnn|inception|surf]
    dfcnn-index data=folder data.root=MORE index_dir=OUT add=true      # add new images
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

from dfcnn.cli.app import hydra_entry, run_dir
from dfcnn.tracking.runs import tracked_run

log = logging.getLogger(__name__)


def explicit_overrides(prefix: str) -> dict:
    """``key -> value`` of the command-line overrides under ``prefix.`` (what the user really asked)."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.core.override_parser.overrides_parser import OverridesParser

        task = HydraConfig.get().overrides.task
    except (ImportError, ValueError):
        return {}
    out = {}
    for ov in OverridesParser.create().parse_overrides(list(task)):
        key = ov.key_or_group
        if key.startswith(prefix + ".") and not ov.is_delete():
            out[key[len(prefix) + 1:]] = ov.value()
    return out


def _dir_state(path: Path) -> str:
    from dfcnn.retrieval.store import MANIFEST

    if not path.exists():
        return "absent"
    if path.is_dir() and not any(path.iterdir()):
        return "empty"
    if (path / MANIFEST).is_file():
        return "index"
    return "other"


def run_index(cfg: DictConfig, skip_log, retrieval_overrides: dict | None = None) -> dict[str, float]:
    """Build (or extend, with ``add=true``) the index at ``cfg.index_dir``; returns MLflow metrics."""
    from dfcnn.data import load_splits
    from dfcnn.methods import build_describer
    from dfcnn.retrieval.engine import settings_from
    from dfcnn.retrieval.retriever import Retriever
    from dfcnn.retrieval.store import IndexDirError

    target = Path(cfg.index_dir).expanduser().resolve()
    state = _dir_state(target)
    if state == "other":
        raise IndexDirError(f"index_dir {str(target)!r} exists and is not a dfcnn index; choose another index_dir "
                            "(dfcnn-index never overwrites other files)")
    if state == "index" and not (cfg.add or cfg.overwrite):
        raise IndexDirError(f"index_dir {str(target)!r} already holds an index: pass add=true to add the new images "
                            "to it, or overwrite=true to rebuild it")
    if cfg.add and state != "index":
        raise IndexDirError(f"add=true needs an existing index at {str(target)!r} (found {state}); drop add=true to build one")

    data_cfg = cfg.data.copy()
    with open_dict(data_cfg):
        data_cfg.query_fraction = 0.0  # index every image: no held-out queries
    started = time.perf_counter()
    splits = load_splits(data_cfg, cfg.paths.outputs, skip_log=skip_log)
    seen, records = set(), []
    for r in list(splits.database) + list(splits.query):
        if r.path not in seen:
            seen.add(r.path)
            records.append(r)
    if cfg.add:
        retriever = Retriever.from_index(target, overrides=retrieval_overrides)
        log.info("adding to the %s index at %s (its fitted describer is reused)", retriever.method, target)
        before = retriever.ntotal
        added = retriever.add(records, skip_log=skip_log)
        metrics = {"n_added": float(added), "n_before": float(before)}
    else:
        settings = settings_from(cfg.retrieval)
        describer = build_describer(cfg)
        fit_records = list(splits.train) + list(splits.val)
        log.info("fitting method=%s on %d images, indexing %d", cfg.method.name, len(fit_records), len(records))
        retriever = Retriever.build(describer, fit_records, records, settings, cfg.method.name, skip_log=skip_log)
        metrics = {"n_added": float(retriever.ntotal), "n_fit_images": float(len(fit_records))}
    build_s = time.perf_counter() - started
    out = retriever.save(target, OmegaConf.to_yaml(cfg, resolve=True))
    sizes = {p.relative_to(out).as_posix(): p.stat().st_size for p in out.rglob("*") if p.is_file()}
    model = sum(n for rel, n in sizes.items() if rel.startswith("describer/"))
    per_item = sum(n for rel, n in sizes.items() if not rel.startswith("describer/")
                   and rel not in ("manifest.json", "config.yaml"))
    metrics.update({"n_indexed": float(retriever.ntotal), "build_s": build_s, "index_bytes": float(sum(sizes.values())),
                    "model_bytes": float(model), "bytes_per_image": per_item / max(retriever.ntotal, 1),
                    "descriptor_dim": float(retriever.engine.dim)})
    local = sum(n for rel, n in sizes.items() if rel.startswith("local/"))
    if local:  # geometric verification's key-points (retrieval.verify.local_features)
        metrics["local_bytes_per_image"] = local / max(retriever.ntotal, 1)
    metrics.update(skip_log.metrics("skipped_images"))
    log.info("index at %s: %d images (%d skipped), %.0f bytes/image", out, retriever.ntotal, skip_log.count,
             metrics["bytes_per_image"])
    return metrics


@hydra_entry("index")
def main(cfg: DictConfig) -> None:
    import mlflow

    from dfcnn.data.skipped import SkipLog

    skip_log = SkipLog(run_dir() / "skipped.jsonl")
    with tracked_run(cfg, "index", extra_tags={"method": cfg.method.name}) as run:
        metrics = run_index(cfg, skip_log, explicit_overrides("retrieval") if cfg.add else None)
        if run is not None:
            mlflow.log_metrics(metrics)
            mlflow.log_artifact(str(Path(cfg.index_dir).expanduser().resolve() / "manifest.json"))
            if skip_log.count:
                mlflow.log_artifact(str(skip_log.path))


if __name__ == "__main__":
    main()
