"""Render the catalogue to disk once per setting, with a manifest, and read it back.

Layout: ``<cache_root>/<hash of the settings>/{images/*.jpg, manifest.json}``. Each image is
written atomically as soon as it is rendered (large scenes stream to disk, nothing is held in
memory); the manifest is written last, so a directory with a manifest is complete and reused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import asdict

import numpy as np
from tqdm import tqdm

from dfcnn.data.catalogue.scenes import canvas_size, multi_scene, single_view
from dfcnn.data.catalogue.styles import FIELDS, field_styles
from dfcnn.data.records import ImageRecord
from dfcnn.persist import atomic_write_json

logger = logging.getLogger(__name__)

GENERATOR_VERSION = 3
JPEG_QUALITY = 92
MAX_MEGAPIXELS = 7.0


def settings_of(cfg) -> dict:
    """The settings that decide the catalogue's content (and nothing else)."""
    n_fields = int(cfg.n_fields)
    if not 1 <= n_fields <= len(FIELDS):
        raise ValueError(f"data.n_fields must be in 1..{len(FIELDS)}, got {n_fields}")
    mp = float(cfg.megapixels)
    if not 0 < mp <= MAX_MEGAPIXELS:
        raise ValueError(f"data.megapixels must be in (0, {MAX_MEGAPIXELS}], got {mp}")
    if int(cfg.instances_per_field) < 1 or int(cfg.views_per_instance) < 1:
        raise ValueError("data.instances_per_field and data.views_per_instance must be >= 1")
    if int(cfg.multi_scenes_per_field) > 0 and n_fields < 3:
        raise ValueError("three-object scenes need data.n_fields >= 3 (or data.multi_scenes_per_field=0)")
    return {
        "version": GENERATOR_VERSION,
        "seed": int(cfg.seed),
        "n_fields": n_fields,
        "instances_per_field": int(cfg.instances_per_field),
        "views_per_instance": int(cfg.views_per_instance),
        "multi_scenes_per_field": int(cfg.multi_scenes_per_field),
        "megapixels": round(mp, 4),
        "jpeg_quality": JPEG_QUALITY,
    }


def settings_hash(settings: dict) -> str:
    return hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]


def _save_jpeg(im, path: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".jpg.tmp")
    os.close(fd)
    try:
        im.save(tmp, "JPEG", quality=JPEG_QUALITY, subsampling=0 if JPEG_QUALITY >= 90 else 2)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def scene_plan(settings: dict) -> list[dict]:
    """Every image to render: its file name, kind, products and seed. Pure function of settings."""
    seed = settings["seed"]
    letters = list(FIELDS)[: settings["n_fields"]]
    styles = {f: field_styles(seed, f, settings["instances_per_field"]) for f in letters}
    plan = []
    for f in letters:
        for st in styles[f]:
            for v in range(settings["views_per_instance"]):
                plan.append({"file": f"{st.instance_id}_v{v}.jpg", "kind": "single", "studio": v == 0, "view": v, "styles": [st], "seed": [seed, ord(f), st.index, v, 1]})
    rng = np.random.default_rng([seed, 7_777])
    for fi, f in enumerate(letters):
        others = [g for g in letters if g != f]
        for k in range(settings["multi_scenes_per_field"]):
            main = styles[f][k % len(styles[f])]
            picked = rng.choice(len(others), size=2, replace=False)
            extra = [styles[others[j]][int(rng.integers(0, len(styles[others[j]])))] for j in picked]
            plan.append({"file": f"scene_{f}{k:02d}.jpg", "kind": "multi", "studio": False, "view": k, "styles": [main] + extra, "seed": [seed, ord(f), k, 2]})
    return plan


def _record_dict(item: dict, path: str, boxes: list) -> dict:
    styles = item["styles"]
    letters = [s.field for s in styles]
    return {
        "path": path,
        "label": letters[0],
        "labels": sorted(set(letters)),
        "instance_id": styles[0].instance_id,
        "boxes": [list(b) for b in boxes],
        "box_labels": letters,
        "extra": {
            "scene": item["kind"],
            "studio": item["studio"],
            "view": item["view"],
            "instance_ids": [s.instance_id for s in styles],
            "fields": [s.kind for s in styles],
            "styles": [{k: v for k, v in asdict(s).items() if k in ("palette_name", "motif", "shape", "word")} for s in styles],
        },
    }


def build(cfg, cache_root: str) -> tuple[str, dict]:
    """Render (or reuse) the catalogue for ``cfg``; returns (directory, manifest)."""
    settings = settings_of(cfg)
    directory = os.path.join(cache_root, settings_hash(settings))
    manifest_path = os.path.join(directory, "manifest.json")
    if os.path.exists(manifest_path):
        with open(manifest_path, encoding="utf-8") as fh:
            manifest = json.load(fh)
        if manifest.get("settings") == settings and all(os.path.exists(os.path.join(directory, r["file"])) for r in manifest["records"]):
            logger.info("catalogue: reusing %s (%d images)", directory, len(manifest["records"]))
            return directory, manifest
    images = os.path.join(directory, "images")
    os.makedirs(images, exist_ok=True)
    plan = scene_plan(settings)
    size = canvas_size(settings["megapixels"])
    logger.info("catalogue: rendering %d images of %dx%d into %s", len(plan), *size, directory)
    records = []
    for item in tqdm(plan, desc="catalogue", unit="img", disable=None):
        seq = np.random.SeedSequence(item["seed"])
        if item["kind"] == "single":
            im, box = single_view(item["styles"][0], seq, settings["megapixels"], item["studio"])
            boxes = [box]
        else:
            im, boxes = multi_scene(item["styles"], seq, settings["megapixels"])
        rel = os.path.join("images", item["file"])
        _save_jpeg(im, os.path.join(directory, rel))
        rec = _record_dict(item, rel, boxes)
        rec["file"] = rel
        records.append(rec)
    manifest = {"settings": settings, "size": list(size), "fields": {f: FIELDS[f] for f in list(FIELDS)[: settings["n_fields"]]}, "records": records}
    atomic_write_json(manifest_path, manifest, indent=1)
    return directory, manifest


def manifest_records(directory: str, manifest: dict) -> list[ImageRecord]:
    """ImageRecords with absolute paths, in manifest order."""
    out = []
    for r in manifest["records"]:
        out.append(
            ImageRecord(
                path=os.path.abspath(os.path.join(directory, r["file"])),
                label=r["label"],
                labels=tuple(r["labels"]),
                instance_id=r["instance_id"],
                instance_ids=tuple(r["extra"]["instance_ids"]),
                boxes=tuple(tuple(b) for b in r["boxes"]),
                box_labels=tuple(r["box_labels"]),
                extra=dict(r["extra"]),
            )
        )
    return out
