"""``data=openimages``: Open Images boxes (``*-annotations-bbox.csv``: ImageID, Source,
LabelName, Confidence, XMin, XMax, YMin, YMax, IsOccluded, IsTruncated, IsGroupOf, ...; coordinates
normalised to [0, 1]) and names from ``class-descriptions-boxable.csv`` (MID, name; no header)."""

from __future__ import annotations

import csv
import glob
import logging
import os
from collections import defaultdict

from dfcnn.data.coco import resolve
from dfcnn.data.decode import ImageDecodeError, probe_image
from dfcnn.data.listing import is_utf8
from dfcnn.data.select import boxed_record, cap_per_class, keep_scene
from dfcnn.data.skipped import SkipLog

logger = logging.getLogger(__name__)


def read_class_names(path: str) -> dict[str, str]:
    with open(path, encoding="utf-8", newline="") as fh:
        return {row[0]: row[1] for row in csv.reader(fh) if len(row) >= 2}


def bbox_csvs(root: str, cfg) -> list[str]:
    if cfg.annotations:
        path = resolve(root, cfg.annotations)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"data.annotations {path!r} does not exist")
        return [path]
    pattern = f"{cfg.source_split}-annotations-bbox.csv" if cfg.source_split else "*-annotations-bbox.csv"
    found = sorted(glob.glob(os.path.join(root, pattern)) + glob.glob(os.path.join(root, "annotations", pattern)))
    if not found:
        raise FileNotFoundError(f"no {pattern} under {root!r}; set data.annotations=<csv>")
    return found


def image_path(root: str, cfg, csv_path: str, image_id: str) -> str:
    prefix = os.path.basename(csv_path).split("-annotations-bbox.csv")[0]
    dirs = [resolve(root, cfg.images_dir)] if cfg.images_dir else [os.path.join(root, prefix), os.path.join(root, "images", prefix), os.path.join(root, "images"), root]
    for d in dirs:
        for ext in (".jpg", ".jpeg", ".png"):
            p = os.path.join(d, image_id + ext)
            if os.path.exists(p):
                return p
    return os.path.join(dirs[0], image_id + ".jpg")


def load_openimages(cfg, skip_log: SkipLog | None = None):
    if not cfg.root:
        raise ValueError("data=openimages needs data.root=<folder with images and the annotation CSVs>")
    root = os.path.abspath(os.path.expanduser(cfg.root))
    names_path = os.path.join(root, "class-descriptions-boxable.csv")
    if not os.path.isfile(names_path):
        names_path = os.path.join(root, "annotations", "class-descriptions-boxable.csv")
    names = read_class_names(names_path) if os.path.isfile(names_path) else {}
    by_name = {v: k for k, v in names.items()}
    wanted_mids = None
    if cfg.classes:
        wanted_mids = set()
        for c in cfg.classes:
            if c in names:
                wanted_mids.add(c)
            elif c in by_name:
                wanted_mids.add(by_name[c])
            else:
                raise ValueError(f"data.classes: {c!r} is neither a MID nor a name in {names_path}")
    boxes = defaultdict(list)  # (csv, image id) -> [(xmin, xmax, ymin, ymax, mid, group)]
    for path in bbox_csvs(root, cfg):
        with open(path, encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):  # streamed: the real train CSV has ~15M rows
                mid = row["LabelName"]
                if wanted_mids is not None and mid not in wanted_mids:
                    continue
                boxes[(path, row["ImageID"])].append(
                    (float(row["XMin"]), float(row["XMax"]), float(row["YMin"]), float(row["YMax"]), mid, row.get("IsGroupOf", "0") == "1")
                )
    records = []
    for (csv_path, image_id), rows in sorted(boxes.items(), key=lambda kv: kv[0][1]):
        labels = [names.get(r[4], r[4]) for r in rows]
        if not keep_scene(labels, cfg.scene):
            continue
        path = image_path(root, cfg, csv_path, image_id)
        if cfg.non_utf8_names == "skip" and not is_utf8(path):
            if skip_log is not None:
                skip_log.add(path, "non_utf8_name")
            continue
        try:
            w, h = probe_image(path, cfg.max_pixels)  # pixel boxes need the size
        except ImageDecodeError as err:
            if skip_log is not None:
                skip_log.add_error(err)
            continue
        pix = [(r[0] * w, r[2] * h, r[1] * w, r[3] * h) for r in rows]
        rec = boxed_record(path, pix, labels, None, image_id=image_id, group_of=[r[5] for r in rows], mids=[r[4] for r in rows])
        if rec is not None:
            records.append(rec)
    records = cap_per_class(records, cfg.max_per_class, cfg.seed)
    logger.info("openimages %s: %d images (scene=%s)", root, len(records), cfg.scene)
    return records
