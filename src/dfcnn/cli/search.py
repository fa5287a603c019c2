"""dfcnn-search: query an index built by dfcnn-index; one JSON line per query image (SPEC §7).

    dfcnn-search index_dir=OUT query=PATH_OR_DIR_OR_LIST top_k=K output=FILE.jsonl [box=[x0,y0,x1,y1]]

Line schema: {"query": "<path>", "results": [{"rank": 1, "path": "<database path>", "score": 0.93}, ...]}
With retrieval.multi_object=true a line adds "objects": [{"box": [x0, y0, x1, y1], "results": [...]}, ...]
(``results`` stays the merged ranking); with retrieval.verify.enabled=true verified hits add "inliers".
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from dfcnn.cli.app import hydra_entry, run_dir
from dfcnn.tracking.runs import tracked_run

log = logging.getLogger(__name__)


def run_search(cfg: DictConfig, skip_log) -> dict[str, float]:
    """Search every query named by ``cfg.query``; writes ``cfg.output`` atomically; returns metrics."""
    from dfcnn.data.decode import ImageDecodeError
    from dfcnn.persist import atomic_write_text
    from dfcnn.retrieval.queries import QueryError, list_queries
    from dfcnn.retrieval.retriever import Retriever, clamp_top_k

    if int(cfg.top_k) <= 0:
        raise ValueError(f"top_k must be a positive number of results, got top_k={cfg.top_k}")
    box = list(cfg.box) if cfg.get("box") is not None else None
    overrides = {k: v for k, v in (OmegaConf.to_container(cfg.retrieval, resolve=True) or {}).items() if v is not None}
    retriever = Retriever.from_index(cfg.index_dir, overrides=overrides)
    top_k = clamp_top_k(int(cfg.top_k), retriever.ntotal)
    single = not os.path.isdir(str(cfg.query))
    paths = list_queries(str(cfg.query), skip_log)
    single = single and len(paths) == 1 and os.path.abspath(str(cfg.query)) == paths[0]
    lines, describe_ms, search_ms = [], [], []
    for path in tqdm(paths, desc="search", unit="query", disable=len(paths) < 2):
        objects = None
        try:
            hits, d_ms, s_ms = retriever.timed_search(path, top_k, box)
            if retriever.photo_mode:
                objects = retriever.search_objects(path, top_k, box)["objects"]
        except ImageDecodeError as err:
            if single:
                raise QueryError(f"query {path!r} is not a usable image: {err.reason}"
                                 + (f" ({err.detail})" if err.detail else "")) from err
            skip_log.add_error(err)
            continue
        line = {"query": path, "results": hits}
        if objects:
            line["objects"] = objects
        lines.append(json.dumps(line, ensure_ascii=False))
        describe_ms.append(d_ms)
        search_ms.append(s_ms)
    if not lines:
        raise QueryError(f"no query image named by query={cfg.query!r} could be read (see {skip_log.path})")
    output = Path(cfg.output).expanduser().resolve()
    atomic_write_text(str(output), "".join(line + "\n" for line in lines))
    log.info("%d queries searched (%d skipped) -> %s", len(lines), skip_log.count, output)
    metrics = {"n_queries": float(len(lines)), "top_k": float(top_k), "index_size": float(retriever.ntotal),
               "describe_ms_per_query": float(np.mean(describe_ms)), "search_ms_per_query": float(np.mean(search_ms))}
    metrics.update(skip_log.metrics("skipped_queries"))
    metrics.update({k: float(v) for k, v in retriever.counts.items()})  # verification / multi-object fallbacks
    return metrics


@hydra_entry("search")
def main(cfg: DictConfig) -> None:
    import mlflow

    from dfcnn.data.skipped import SkipLog

    skip_log = SkipLog(run_dir() / "skipped.jsonl")
    with tracked_run(cfg, "search") as run:
        metrics = run_search(cfg, skip_log)
        if run is not None:
            mlflow.log_metrics(metrics)
            output = Path(cfg.output).expanduser().resolve()
            if output.stat().st_size < 50 * 2**20:
                mlflow.log_artifact(str(output))
            if skip_log.count:
                mlflow.log_artifact(str(skip_log.path))


if __name__ == "__main__":
    main()
