"""Retrieval quality on the development data, to choose the retrieval defaults (issue 5).

One DF-CNN describer (CNN + whitening + cascade forest, fitted on the split's training images) per
dataset; its CNN descriptors F and attributes a are computed once, then every variant is a cheap
re-index: attribute weight w ∈ {0, 0.1, 0.3, 0.5} (w = 0: CNN only) × {plain cosine, Eq. 14 fuzzy
re-ranking, αQE, DBA, all three}. Scores: mAP and P@10 over the held-out queries (SPEC §5 relevance).

    .venv/bin/python experiments/benchmarks/retrieval_quality.py                 # both datasets, ~10 min
    .venv/bin/python experiments/benchmarks/retrieval_quality.py --datasets caltech --image-size 512

Caveat: the forest is trained on the database's own training half, so those items carry in-sample
attributes -- the situation of a labelled catalogue being indexed, which is what dfcnn-index does.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

DATASETS = {
    "caltech": ["data=folder", "data.root=/work/shared/data/caltech101-mini"],
    "coco": ["data=coco", "data.root=/work/shared/data/coco256"],
}
VARIANTS = {
    "plain": dict(fuzzy=False),
    "fuzzy": dict(fuzzy=True),
    "qe": dict(fuzzy=False, query_expansion=True),
    "dba": dict(fuzzy=False, dba=True),
    "fuzzy+qe+dba": dict(fuzzy=True, query_expansion=True, dba=True),
}


def compose_config(overrides: list[str]):
    from hydra import compose, initialize_config_dir

    from dfcnn.cli.app import conf_dir
    from dfcnn.config import register_configs

    register_configs()
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        return compose(config_name="train", overrides=overrides)


def describe(dataset: str, image_size: int, outputs: str, forest: list[str]):
    from dfcnn.data import load_splits
    from dfcnn.retrieval.fused import FusedDescriber

    cfg = compose_config(DATASETS[dataset] + [f"backbone.image_size={image_size}", f"paths.outputs={outputs}"] + forest)
    splits = load_splits(cfg.data, outputs)
    t = time.perf_counter()
    fused = FusedDescriber.from_config(cfg).fit(splits.train)
    F_db, db = fused._cnn_descriptors(splits.database, None)
    F_q, queries = fused._cnn_descriptors(splits.query, None)
    from dfcnn.metrics.ranking import relevance_matrix

    info = {"sizes": splits.sizes(), "describe_fit_s": round(time.perf_counter() - t, 1), "cnn_dim": int(F_db.shape[1]),
            "forest_layers": int(fused.forest.n_layers_), "classes": len(fused.forest.classes_)}
    arrays = {"F_db": F_db, "A_db": fused.attributes(F_db), "F_q": F_q, "A_q": fused.attributes(F_q),
              "relevant": relevance_matrix(queries, db)}
    return arrays, info


def evaluate(F_db, A_db, F_q, A_q, relevant, weights, base) -> list[dict]:
    from dfcnn.metrics.ranking import ranking_summary
    from dfcnn.retrieval.engine import SearchEngine
    from dfcnn.retrieval.fused import fuse

    rows = []
    for w in weights:
        X_db = F_db if w == 0 else fuse(F_db, A_db, w)
        X_q = F_q if w == 0 else fuse(F_q, A_q, w)
        for name, switches in VARIANTS.items():
            engine = SearchEngine.build(X_db, replace(base, **switches))
            _, ids = engine.search(X_q, engine.ntotal)
            m = ranking_summary(np.take_along_axis(relevant, ids, axis=1), relevant.sum(axis=1), ks=(10,))
            rows.append({"w": w, "variant": name, "mAP": m["mAP"], "P@10": m.get("P_at_10", m.get("P@10"))})
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| w | variant | mAP | P@10 |", "|---|---|---|---|"]
    lines += [f"| {r['w']:.1f} | {r['variant']} | {r['mAP']:.4f} | {r['P@10']:.4f} |" for r in rows]
    return "\n".join(lines)


def main(argv=None) -> dict:
    import torch

    from dfcnn.config.retrieval import RetrievalConfig

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    p.add_argument("--image-size", type=int, default=256)
    p.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.1, 0.3, 0.5])
    p.add_argument("--outputs", default="outputs")
    p.add_argument("--forest", nargs="*", default=["forest.n_trees=50", "forest.xgb.n_estimators=50",
                                                    "forest.max_layers=2", "forest.n_jobs=1"])
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    base = RetrievalConfig(threads=1)
    out_dir = Path(args.outputs) / "quality"
    out_dir.mkdir(parents=True, exist_ok=True)
    results = {}
    for dataset in args.datasets:
        root = DATASETS[dataset][1].split("=", 1)[1]
        if not os.path.isdir(root):
            print(f"{dataset}: {root} is absent, skipped")
            continue
        cache = out_dir / f"{dataset}_{args.image_size}.npz"
        if cache.exists():  # descriptors of an earlier run with the same image size
            with np.load(cache, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            info = json.loads((out_dir / f"{dataset}_{args.image_size}.json").read_text())
        else:
            arrays, info = describe(dataset, args.image_size, args.outputs, args.forest)
            np.savez(cache, **arrays)
            (out_dir / f"{dataset}_{args.image_size}.json").write_text(json.dumps(info))
        rows = evaluate(**arrays, weights=args.weights, base=base)
        results[dataset] = {"info": info, "rows": rows}
        text = f"## {dataset} (image_size {args.image_size}, {info})\n\n{table(rows)}\n"
        print(text, flush=True)
        (out_dir / f"{dataset}.md").write_text(text)
    (out_dir / "quality.json").write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
