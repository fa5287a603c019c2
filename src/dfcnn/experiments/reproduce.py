"""The paper's artefacts (Figs. 7-11, Table I) for every method, logged to MLflow and written
to a report. One child MLflow run per method under the caller's parent run."""

from __future__ import annotations

import logging
import resource
from pathlib import Path

import mlflow
import numpy as np
from omegaconf import DictConfig

from dfcnn.errors import UnavailableError
from dfcnn.experiments import fig7_convergence, fig8_consistency, fig9_runtime, fig10_false_retrieval, fig11_content_matching
from dfcnn.experiments.artefacts import MissingData
from dfcnn.experiments.paper_report import write_report
from dfcnn.experiments.retrieval_eval import MethodResult, evaluate_method
from dfcnn.experiments.table1_environment import table1_markdown
from dfcnn.tracking.runs import tracked_run

log = logging.getLogger(__name__)

FIGURE_FILES = {
    "fig7": "fig7_convergence.png",
    "fig8": "fig8_consistency.png",
    "fig9": "fig9_runtime.png",
    "fig10": "fig10_false_retrieval.png",
    "fig11": "fig11_content_matching.png",
}


def compute_artefact(name: str, result: MethodResult, cfg: DictConfig, scenes) -> object:
    """One artefact's data for one method; raises MissingData when the data cannot support it."""
    figs = cfg.figures
    if name == "fig7":
        return fig7_convergence.convergence(result, cfg.forest.xgb, seed=cfg.seed, n_jobs=cfg.forest.n_jobs)
    if name == "fig8":
        return fig8_consistency.consistency_curves(result.describer.describe_image, scenes, list(figs.fig8_megapixels))
    if name == "fig9":
        return fig9_runtime.runtime_by_field(result, figs.fig9_images_per_field, figs.fig9_repeats, cfg.top_k)
    if name == "fig10":
        return fig10_false_retrieval.frp_curves(result, figs.fig10_searches, figs.frp_top_l)
    if name == "fig11":
        return fig11_content_matching.cmd_table(result, list(figs.fig11_lengths), figs.fig11_searches_per_field)
    raise ValueError(f"unknown artefact {name!r}: choose from {sorted(FIGURE_FILES) + ['table1']}")


def log_artefact_metrics(name: str, data) -> None:
    """Curves as MLflow metric histories, so the UI overlays the methods."""
    if name == "fig7":
        for step, (err, loss) in enumerate(zip(data["error"], data["loss"]), start=1):
            mlflow.log_metrics({"fig7_val_error": err, "fig7_val_loss": loss}, step=step)
        mlflow.log_metrics({"fig7_best_error_round": data["best_error_round"], "fig7_best_loss_round": data["best_loss_round"]})
    elif name == "fig8":
        for kind, values in data.items():
            for step, value in enumerate(values):
                mlflow.log_metric(f"fig8_fc_{kind}", value, step=step)
    elif name == "fig9":
        mlflow.log_metrics({"fig9_extract_ms": float(np.mean([r["extract_ms"] for r in data.values()])),
                            "fig9_search_ms": float(np.mean([r["search_ms"] for r in data.values()]))})
        for field, r in data.items():
            mlflow.log_metrics({f"fig9_extract_ms.{field}": r["extract_ms"], f"fig9_search_ms.{field}": r["search_ms"]})
    elif name == "fig10":
        for kind, curve in data.items():
            for step, value in enumerate(curve, start=1):
                mlflow.log_metric(f"fig10_frp_{kind}", float(value), step=step)
    elif name == "fig11":
        for length, values in data.items():
            mlflow.log_metric(f"fig11_cmd_L{length}", float(np.median(values)))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def reproduce(cfg: DictConfig, method_cfgs: dict[str, DictConfig], splits, report_dir: Path,
              skip_log=None, rerun: str = "dfcnn-reproduce") -> Path:
    """Run every method, make every artefact it can, write figures + report; returns report path."""
    report_dir.mkdir(parents=True, exist_ok=True)
    wanted = [a for a in cfg.artefacts if a != "table1"]
    for name in wanted:
        if name not in FIGURE_FILES:
            raise ValueError(f"unknown artefact {name!r}: choose from {sorted(FIGURE_FILES) + ['table1']}")
    scenes = None
    if "fig8" in wanted:
        if cfg.data.name != "catalogue":
            wanted.remove("fig8")
        else:
            scenes = fig8_consistency.base_scenes(cfg.data, cfg.figures.fig8_scenes, max(cfg.figures.fig8_megapixels),
                                                  Path(cfg.paths.outputs) / "cache" / "fig8")
    results, failures, problems = {}, {}, {}
    artefacts: dict[str, dict] = {name: {} for name in wanted}
    floors = None
    infos: dict[str, dict] = {}
    for method, mcfg in method_cfgs.items():
        try:
            with tracked_run(mcfg, "reproduce", run_name=method, nested=True, extra_tags={"method": method}):
                result = evaluate_method(mcfg, splits, skip_log=skip_log)
                mlflow.log_metrics(result.metrics)
                mlflow.set_tags({f"info.{k}": str(v) for k, v in result.info.items()})
                results[method] = result.metrics
                infos[method] = result.info
                for name in wanted:
                    try:
                        data = compute_artefact(name, result, cfg, scenes)
                    except MissingData as exc:
                        problems[name] = str(exc)
                        log.warning("%s: %s", name, exc)
                        continue
                    artefacts[name][method] = data
                    log_artefact_metrics(name, data)
                if "fig10" in artefacts and method in artefacts["fig10"] and floors is None:
                    floors = fig10_false_retrieval.frp_floor(result, cfg.figures.fig10_searches, cfg.figures.frp_top_l)
        except UnavailableError as exc:
            log.warning("method %s cannot run here: %s", method, exc)
            failures[method] = str(exc)
    for name, per_method in artefacts.items():
        if not per_method:
            continue
        path = report_dir / FIGURE_FILES[name]
        if name == "fig8":
            fig8_consistency.plot(per_method, list(cfg.figures.fig8_megapixels), path)
        else:
            {"fig7": fig7_convergence, "fig9": fig9_runtime, "fig10": fig10_false_retrieval,
             "fig11": fig11_content_matching}[name].plot(per_method, path)
        mlflow.log_artifact(str(path), "paper")
    table1 = table1_markdown()
    table_path = report_dir / "table1_environment.md"
    table_path.write_text("# Table I — experimental environment\n\n" + table1, encoding="utf-8")
    mlflow.log_artifact(str(table_path), "paper")
    notes = [f"Dataset `{cfg.data.name}`: {len(splits.database)} database images, {len(splits.query)} queries"
             + (" (synthetic catalogue: product-like renders, not photographs)" if cfg.data.name == "catalogue" else ""),
             f"Backbone {cfg.backbone.name} at image_size {cfg.backbone.image_size}; peak RSS {peak_rss_mb():.0f} MB."]
    report = write_report(report_dir / "report.md", dataset=cfg.data.name, results=results, failures=failures,
                          artefacts={k: v for k, v in artefacts.items() if v}, problems=problems,
                          figures_cfg=cfg.figures, table1=table1, rerun=rerun, notes=notes, frp_floor=floors, infos=infos)
    mlflow.log_artifact(str(report), "paper")
    mlflow.log_metric("peak_rss_mb", peak_rss_mb())
    if not results:
        raise UnavailableError(f"no method could run: {failures}")
    return report
