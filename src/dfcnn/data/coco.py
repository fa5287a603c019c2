"""``data=coco``: COCO instances JSON (``images``, ``annotations`` with bbox [x, y, w, h],
``categories``), with class subsets, per-class caps and single / multi-object selection."""

from __future__ import annotations

import glob
import json
import logging
import os
from collections import defaultdict

from dfcnn.data.listing import usable
from dfcnn.data.select import boxed_record, cap_per_class, keep_scene
from dfcnn.data.skipped import SkipLog

logger = logging.getLogger(__name__)


def resolve(root: str, path: str | None) -> str | None:
    if path is None:
        return None
    path = os.path.expanduser(path)
    return path if os.path.isabs(path) else os.path.join(root, path)


def find_annotations(root: str, given: str | None) -> str:
    if given:
        path = resolve(root, given)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"data.annotations {path!r} does not exist")
        return path
    candidates = [os.path.join(root, "annotations.json")] + sorted(glob.glob(os.path.join(root, "annotations", "instances_*.json")))
    for c in candidates:
        if os.path.isfile(c):
            return c
    raise FileNotFoundError(f"no COCO instances JSON under {root!r}; set data.annotations=<file.json>")


def find_images_dir(root: str, given: str | None, annotations: str) -> str:
    if given:
        return resolve(root, given)
    stem = os.path.basename(annotations).replace("instances_", "").replace(".json", "")
    for c in (os.path.join(root, "images"), os.path.join(root, stem), os.path.join(root, "images", stem)):
        if os.path.isdir(c):
            return c
    return root


def load_coco(cfg, skip_log: SkipLog | None = None):
    if not cfg.root:
        raise ValueError("data=coco needs data.root=<folder with the images and the instances JSON>")
    root = os.path.abspath(os.path.expanduser(cfg.root))
    ann_path = find_annotations(root, cfg.annotations)
    images_dir = find_images_dir(root, cfg.images_dir, ann_path)
    with open(ann_path, encoding="utf-8") as fh:
        coco = json.load(fh)
    cats = {c["id"]: c["name"] for c in coco["categories"]}
    wanted = None
    if cfg.classes:
        wanted = set()
        for c in cfg.classes:
            c = str(c)
            if c in cats.values():
                wanted.add(c)
            elif c.isdigit() and int(c) in cats:
                wanted.add(cats[int(c)])
            else:
                raise ValueError(f"data.classes: {c!r} is not a category of {ann_path}")
    per_image = defaultdict(list)
    for a in coco["annotations"]:
        x, y, w, h = a["bbox"]
        if w <= 0 or h <= 0:
            continue
        per_image[a["image_id"]].append(((x, y, x + w, y + h), cats[a["category_id"]], bool(a.get("iscrowd", 0))))
    records = []
    for im in sorted(coco["images"], key=lambda i: i["file_name"]):
        anns = per_image.get(im["id"], [])
        rec = boxed_record(
            os.path.join(images_dir, im["file_name"]),
            [a[0] for a in anns],
            [a[1] for a in anns],
            wanted,
            image_id=im["id"],
            width=im.get("width"),
            height=im.get("height"),
        )
        if rec is None or not keep_scene(rec.box_labels, cfg.scene):
            continue
        if not usable(rec.path, cfg.max_pixels, skip_log, check=cfg.check_images, non_utf8=cfg.non_utf8_names):
            continue
        records.append(rec)
    records = cap_per_class(records, cfg.max_per_class, cfg.seed)
    logger.info("coco %s: %d images (scene=%s)", ann_path, len(records), cfg.scene)
    return records
