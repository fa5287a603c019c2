"""Development benchmark of issue 9: catalogue search with phone photos of products.

Database: product images — caltech101-mini pictures treated as flat printed products (covers,
prints) when ``../shared/data/caltech101-mini`` is there, else studio shots of the embedded
catalogue's products. Queries, generated deterministically by seed: 1, 2 or 3 database products
rendered as a phone photo — printed with a white border, perspective warp, rotation, scale, contact
shadow — on a busy table top (the catalogue's clutter backgrounds) beside distractor products that
are not in the database, then glare, exposure change, blur, noise and JPEG. Relevance: the query's
product instances (SPEC §5). Reported per products-per-query: top-1 and mAP@5 for four settings of
the same ``dfcnn`` index — global descriptor only; + geometric verification; + multi-object;
all on — plus ms/query and the fallback counters.

    .venv/bin/python experiments/photo_benchmark.py                     # ~10 min on 1 core
    .venv/bin/python experiments/photo_benchmark.py --n-db 100 --queries 10 --no-mlflow   # smoke
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core: the machine is shared

import argparse
import glob
import io
import json
import logging
import math
import re
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from dfcnn.data.records import ImageRecord

log = logging.getLogger("photo_benchmark")

CALTECH = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "caltech101-mini")
PHOTO_SIZE = (1024, 768)
SETTINGS = {  # search-time overrides of one index
    "global": {"multi_object": False, "verify": {"enabled": False}},
    "+verify": {"multi_object": False, "verify": {"enabled": True, "words_top_m": 0}},
    "+verify +words, no vote tier": {"multi_object": False, "verify": {"enabled": True, "words_min_votes": 0}},
    "+verify +words (dfcnn default)": {"multi_object": False, "verify": {"enabled": True}},
    "+objects": {"multi_object": True, "verify": {"enabled": False}},
    "+objects +verify": {"multi_object": True, "verify": {"enabled": True, "words_top_m": 0}},
    "all on": {"multi_object": True, "verify": {"enabled": True}},
}

# ----------------------------------------------------------------------------- products
def caltech_products(root: str, n_db: int, seed: int) -> tuple[list[ImageRecord], list[str]]:
    """``n_db`` database records (one instance per picture) and the remaining pictures as distractors."""
    paths = sorted(p for p in glob.glob(os.path.join(root, "*", "*")) if p.lower().endswith((".jpg", ".jpeg", ".png")))
    order = np.random.default_rng(seed).permutation(len(paths))
    chosen = [paths[i] for i in order]
    db = []
    for p in chosen[:n_db]:
        label = os.path.basename(os.path.dirname(p))
        iid = f"{label}/{os.path.splitext(os.path.basename(p))[0]}"
        db.append(ImageRecord(path=os.path.abspath(p), label=label, labels=(label,), instance_id=iid, instance_ids=(iid,)))
    return db, [os.path.abspath(p) for p in chosen[n_db:]]


def catalogue_products(out: Path, n_db: int, seed: int) -> tuple[list[ImageRecord], list[str]]:
    """Studio shots of embedded-catalogue instances (database) and further instances (distractors)."""
    from dfcnn.data.catalogue.products import render_product
    from dfcnn.data.catalogue.styles import FIELDS, field_styles

    per_field = math.ceil(1.5 * n_db / len(FIELDS)) + 1
    styles = [s for f in sorted(FIELDS) for s in field_styles(seed, f, per_field)]
    styles = [styles[i] for i in np.random.default_rng(seed).permutation(len(styles))]
    directory = out / "catalogue_products"
    directory.mkdir(parents=True, exist_ok=True)
    db, distractors = [], []
    for k, style in enumerate(styles):
        path = directory / f"{style.instance_id}.png"
        if not path.exists():
            cut = render_product(style, 360)
            shot = Image.new("RGB", (cut.width + 40, cut.height + 40), (245, 244, 240))
            shot.paste(cut, (20, 20), cut)
            shot.save(path)
        if k < n_db:
            db.append(ImageRecord(path=str(path), label=style.field, labels=(style.field,), instance_id=style.instance_id,
                                  instance_ids=(style.instance_id,)))
        else:
            distractors.append(str(path))
    return db, distractors


# ----------------------------------------------------------------------------- phone photos
def as_print(image: Image.Image, rng) -> np.ndarray:
    """The product as an RGBA print: a white border, studio margins trimmed."""
    im = image.convert("RGB")
    border = max(2, int(0.04 * max(im.size)))
    framed = Image.new("RGB", (im.width + 2 * border, im.height + 2 * border), (246, 245, 240))
    framed.paste(im, (border, border))
    return np.dstack([np.asarray(framed), np.full(framed.size[::-1], 255, np.uint8)])


def place(canvas: np.ndarray, rgba: np.ndarray, centre, side: float, rng) -> list[float]:
    """Warp ``rgba`` into ``canvas`` (in place): scale to ``side``, rotate ±30°, perspective jitter
    up to 12 % of the side, soft contact shadow. Returns the visible box."""
    import cv2

    h, w = rgba.shape[:2]
    s = side / max(w, h)
    theta = math.radians(rng.uniform(-30, 30))
    c, si = math.cos(theta), math.sin(theta)
    half = np.array([[-w, -h], [w, -h], [w, h], [-w, h]], np.float64) * 0.5 * s
    quad = half @ np.array([[c, si], [-si, c]]) + np.asarray(centre)
    quad += rng.uniform(-0.12, 0.12, (4, 2)) * side
    H = cv2.getPerspectiveTransform(np.float32([[0, 0], [w, 0], [w, h], [0, h]]), np.float32(quad))
    size = (canvas.shape[1], canvas.shape[0])
    warped = cv2.warpPerspective(rgba[..., :3], H, size, flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    alpha = cv2.warpPerspective(rgba[..., 3], H, size, flags=cv2.INTER_LINEAR).astype(np.float32) / 255.0
    blur = max(3, int(side * 0.04)) | 1
    shadow = cv2.GaussianBlur(np.roll(alpha, (int(side * 0.02), int(side * 0.03)), axis=(0, 1)), (blur, blur), 0)
    canvas *= (1 - 0.45 * shadow)[..., None]
    canvas[:] = canvas * (1 - alpha[..., None]) + warped.astype(np.float32) * alpha[..., None]
    ys, xs = np.nonzero(alpha > 0.2)
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)] if len(xs) else [0, 0, 0, 0]


def photo_effects(canvas: np.ndarray, rng) -> Image.Image:
    """Glare, exposure, colour cast, blur, sensor noise and JPEG, as a phone would add them."""
    hh, ww = canvas.shape[:2]
    yy, xx = np.mgrid[0:hh, 0:ww].astype(np.float32)
    cx, cy, sigma = rng.uniform(0.2, 0.8) * ww, rng.uniform(0.2, 0.8) * hh, rng.uniform(0.08, 0.2) * ww
    glare = rng.uniform(0.25, 0.6) * 255 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2))
    arr = canvas * rng.uniform(0.8, 1.15) * (1 + rng.uniform(-0.06, 0.06, 3)).astype(np.float32) + glare[..., None]
    im = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    im = im.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.4)))
    arr = np.asarray(im, np.float32) + np.random.default_rng(int(rng.integers(0, 2**31))).normal(0, rng.uniform(2, 7), (hh, ww, 3))
    im = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=int(rng.integers(50, 86)))
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def render_query(products: list[Image.Image], distractors: list[Image.Image], rng) -> tuple[Image.Image, list]:
    """One phone photo holding ``products`` and ``distractors`` side by side on a busy table."""
    from dfcnn.data.catalogue.scenes import clutter_background

    ww, hh = PHOTO_SIZE
    canvas = np.asarray(clutter_background(rng, (ww, hh)), np.float32).copy()
    items = [(True, p) for p in products] + [(False, d) for d in distractors]
    items = [items[i] for i in rng.permutation(len(items))]
    slot = ww / len(items)
    boxes = []
    for k, (is_product, im) in enumerate(items):
        side = min(slot, hh) * rng.uniform(0.62, 0.8) if len(items) > 1 else hh * rng.uniform(0.5, 0.75)
        centre = ((k + 0.5) * slot + rng.uniform(-0.06, 0.06) * slot, hh * rng.uniform(0.42, 0.58))
        box = place(canvas, as_print(im, rng), centre, side, rng)
        if is_product:
            boxes.append(box)
    return photo_effects(canvas, rng), boxes


def make_queries(db: list[ImageRecord], distractors: list[str], per_count: int, seed: int, out: Path) -> list[ImageRecord]:
    """``per_count`` photos with 1, 2 and 3 products each (written as JPEGs under ``out``)."""
    qdir = out / "queries"
    qdir.mkdir(parents=True, exist_ok=True)
    queries = []
    for n in (1, 2, 3):
        for k in range(per_count):
            rng = np.random.default_rng([seed, n, k])
            chosen = [db[i] for i in rng.choice(len(db), n, replace=False)]
            dis = [distractors[i] for i in rng.choice(len(distractors), int(rng.integers(1, 3)), replace=False)]
            path = qdir / f"q{n}_{k:03d}.jpg"
            photo, boxes = render_query([Image.open(r.path) for r in chosen], [Image.open(p) for p in dis], rng)
            photo.save(path, quality=95)
            ids = tuple(r.instance_id for r in chosen)
            queries.append(ImageRecord(path=str(path), label=chosen[0].label, labels=tuple(r.label for r in chosen),
                                       instance_id=ids[0], instance_ids=ids, boxes=tuple(tuple(b) for b in boxes),
                                       extra={"n_products": n}))
    return queries


# ----------------------------------------------------------------------------- the index
def build_retriever(db: list[ImageRecord], image_size: int, forest: str, seed: int):
    import torch
    from hydra import compose, initialize_config_dir

    from dfcnn.config.schema import register_configs
    from dfcnn.methods import build_describer
    from dfcnn.retrieval.engine import settings_from
    from dfcnn.retrieval.retriever import Retriever

    torch.set_num_threads(1)
    register_configs()
    conf = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "conf"))
    with initialize_config_dir(config_dir=conf, version_base=None):
        cfg = compose("index", overrides=["index_dir=unused", "method=dfcnn", f"forest={forest}", f"seed={seed}",
                                          f"backbone.image_size={image_size}", "retrieval.verify.local_features=true",
                                          "forest.n_jobs=1"])
    settings = settings_from(cfg.retrieval)
    describer = build_describer(cfg)
    return Retriever.build(describer, db, db, settings, "dfcnn")


# ----------------------------------------------------------------------------- evaluation
def evaluate(retriever, queries: list[ImageRecord], db: list[ImageRecord], name: str, overrides: dict, top_k: int = 5):
    from dfcnn.metrics.ranking import average_precision, is_relevant

    stored = retriever.engine
    retriever.engine = stored.with_settings(overrides)
    retriever._photo = retriever._verifier = None  # fresh counters per setting
    by_path = {r.path: r for r in db}
    rows, times = [], []
    try:
        for q in queries:
            image = Image.open(q.path).convert("RGB")
            t = time.perf_counter()
            found = retriever.search_objects(image, top_k)
            times.append(time.perf_counter() - t)
            rel = np.array([is_relevant(q, by_path[h["path"]]) for h in found["results"]], bool)
            n_rel = len(q.instance_set())
            tops = {by_path[o["results"][0]["path"]].instance_id for o in found["objects"] if o["results"]}
            rows.append({"n": q.extra["n_products"], "top1": float(rel[:1].any()),
                         "ap5": average_precision(rel[:top_k], min(n_rel, top_k)),
                         "object_recall": len(tops & q.instance_set()) / n_rel, "n_objects": len(found["objects"])})
        counts = retriever.counts
    finally:
        retriever.engine = stored
    out = {"setting": name, "ms_per_query": 1000 * float(np.mean(times)), "counts": counts}
    for n in (1, 2, 3):
        sub = [r for r in rows if r["n"] == n]
        if sub:
            out[f"top1_{n}"] = float(np.mean([r["top1"] for r in sub]))
            out[f"map5_{n}"] = float(np.mean([r["ap5"] for r in sub]))
            out[f"object_recall_{n}"] = float(np.mean([r["object_recall"] for r in sub]))
    return out


def table(results: list[dict]) -> str:
    head = ("| setting | top-1, 1 product | mAP@5, 1 | top-1, 2 products | mAP@5, 2 | top-1, 3 products | mAP@5, 3 "
            "| ms/query |\n|---|---|---|---|---|---|---|---|\n")
    lines = []
    for r in results:
        cells = [f"{100 * r.get(f'{m}_{n}', float('nan')):.1f} %" for n in (1, 2, 3) for m in ("top1", "map5")]
        lines.append(f"| {r['setting']} | " + " | ".join(cells) + f" | {r['ms_per_query']:.0f} |")
    return head + "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database", choices=("auto", "caltech", "catalogue"), default="auto")
    ap.add_argument("--n-db", type=int, default=200, help="database products")
    ap.add_argument("--queries", type=int, default=20, help="photos per products-per-query count (1, 2, 3)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--image-size", type=int, default=512)
    ap.add_argument("--forest", default="fast")
    ap.add_argument("--settings", nargs="*", default=list(SETTINGS))
    ap.add_argument("--out", default="outputs/photo_benchmark")
    ap.add_argument("--no-mlflow", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    import cv2

    cv2.setNumThreads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    source = args.database
    if source == "auto":
        source = "caltech" if os.path.isdir(CALTECH) else "catalogue"
    if source == "caltech":
        db, distractors = caltech_products(os.path.abspath(CALTECH), args.n_db, args.seed)
    else:
        db, distractors = catalogue_products(out, args.n_db, args.seed)
    started = time.perf_counter()
    queries = make_queries(db, distractors, args.queries, args.seed, out)
    log.info("%d queries rendered in %.0f s", len(queries), time.perf_counter() - started)
    started = time.perf_counter()
    retriever = build_retriever(db, args.image_size, args.forest, args.seed)
    build_s = time.perf_counter() - started
    log.info("index of %d %s products built in %.0f s; local features %.0f bytes/image", retriever.ntotal, source,
             build_s, retriever.local.bytes_per_item())
    results = []
    for name in args.settings:
        results.append(evaluate(retriever, queries, db, name, SETTINGS[name]))
        log.info("%s: %s", name, json.dumps({k: v for k, v in results[-1].items() if k != "counts"}))
    text = table(results)
    print(f"\nDatabase: {retriever.ntotal} {source} products; {len(queries)} phone photos "
          f"({args.queries} each with 1, 2, 3 products); seed {args.seed}\n")
    print(text)
    for r in results:
        print(r["setting"], "object recall (products that are some object's top-1):",
              {n: round(r.get(f"object_recall_{n}", 0), 3) for n in (1, 2, 3)}, "counts:", r["counts"])
    summary = {"database": source, "n_db": retriever.ntotal, "queries_per_count": args.queries, "seed": args.seed,
               "build_s": build_s, "local_bytes_per_image": retriever.local.bytes_per_item(), "results": results}
    (out / "results.json").write_text(json.dumps(summary, indent=2))
    (out / "table.md").write_text(text)
    if not args.no_mlflow:
        import mlflow

        if not os.environ.get("MLFLOW_TRACKING_URI"):
            mlflow.set_tracking_uri("sqlite:///outputs/mlflow.db")
        mlflow.set_experiment("benchmarks")
        with mlflow.start_run(run_name="photo_benchmark"):
            mlflow.log_params({"database": source, "n_db": retriever.ntotal, "queries_per_count": args.queries,
                               "seed": args.seed, "image_size": args.image_size})
            for r in results:
                key = re.sub(r"[^0-9A-Za-z]+", "_", r["setting"].replace("+", "plus ")).strip("_")  # MLflow's key charset
                mlflow.log_metrics({f"{key}/{k}": v for k, v in r.items() if isinstance(v, float)})
            mlflow.log_artifact(str(out / "table.md"))


if __name__ == "__main__":
    main()
