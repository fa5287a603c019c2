"""``data=imagenet``: an ImageNet-style subset.

Layouts: ``train/<wnid>/*.JPEG`` (also ``ILSVRC/Data/CLS-LOC/train``), optional ``val/*.JPEG``
labelled by ``LOC_val_solution.csv`` (``ImageId,PredictionString`` with repeated
``wnid xmin ymin xmax ymax``), optional ``LOC_train_solution.csv`` for train boxes, and names
from ``LOC_synset_mapping.txt`` (``n01440764 tench, Tinca tinca``). Labels are wnids; the
readable name is kept in ``extra["name"]``. ``data.classes`` takes wnids or names.
"""

from __future__ import annotations

import csv
import logging
import os

from dfcnn.data.listing import usable, walk_images
from dfcnn.data.records import ImageRecord
from dfcnn.data.select import boxed_record, cap_per_class, keep_scene
from dfcnn.data.skipped import SkipLog

logger = logging.getLogger(__name__)


def _first_dir(*candidates):
    return next((c for c in candidates if os.path.isdir(c)), None)


def _first_file(*candidates):
    return next((c for c in candidates if os.path.isfile(c)), None)


def read_synsets(path: str | None) -> dict[str, str]:
    if not path:
        return {}
    out = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            wnid, _, names = line.strip().partition(" ")
            if wnid:
                out[wnid] = names.split(",")[0].strip() or wnid
    return out


def read_solution(path: str | None) -> dict[str, list[tuple[str, tuple[float, float, float, float]]]]:
    """ImageId -> [(wnid, (xmin, ymin, xmax, ymax))] from a ``LOC_*_solution.csv``."""
    if not path:
        return {}
    out = {}
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            parts = row["PredictionString"].split()
            boxes = []
            for i in range(0, len(parts) - 4, 5):
                boxes.append((parts[i], tuple(float(v) for v in parts[i + 1 : i + 5])))
            out[row["ImageId"]] = boxes
    return out


def load_imagenet(cfg, skip_log: SkipLog | None = None):
    if not cfg.root:
        raise ValueError("data=imagenet needs data.root=<folder with train/ and LOC_synset_mapping.txt>")
    root = os.path.abspath(os.path.expanduser(cfg.root))
    cls_loc = os.path.join(root, "ILSVRC", "Data", "CLS-LOC")
    train_dir = _first_dir(os.path.join(root, "train"), os.path.join(cls_loc, "train"))
    val_dir = _first_dir(os.path.join(root, "val"), os.path.join(cls_loc, "val"))
    names = read_synsets(_first_file(os.path.join(root, "LOC_synset_mapping.txt")))
    by_name = {v: k for k, v in names.items()}
    wanted = None
    if cfg.classes:
        wanted = set()
        for c in cfg.classes:
            if c in by_name:
                wanted.add(by_name[c])
            elif c in names or not names:
                wanted.add(c)
            else:
                raise ValueError(f"data.classes: {c!r} is neither a wnid nor a name in LOC_synset_mapping.txt")
    which = cfg.source_split or ("train" if train_dir else "val")
    if which not in ("train", "val", "all"):
        raise ValueError(f"data.source_split for imagenet must be train | val | all, got {which!r}")
    candidates: list[tuple[str, str, list]] = []  # (path, wnid, boxes)
    if which in ("train", "all"):
        if not train_dir:
            raise FileNotFoundError(f"no train/ folder under {root!r}")
        solution = read_solution(_first_file(os.path.join(root, "LOC_train_solution.csv")))
        wnids = sorted(wanted) if wanted is not None else sorted(e.name for e in os.scandir(train_dir) if e.is_dir())
        for wnid in wnids:  # only the chosen synsets' folders are walked
            if not os.path.isdir(os.path.join(train_dir, wnid)):
                raise FileNotFoundError(f"data.classes: no folder train/{wnid} under {root!r}")
            for path in walk_images(os.path.join(train_dir, wnid), skip_log):
                candidates.append((path, wnid, solution.get(os.path.splitext(os.path.basename(path))[0], [])))
    if which in ("val", "all") and val_dir:
        solution = read_solution(_first_file(os.path.join(root, "LOC_val_solution.csv")))
        for path in walk_images(val_dir, skip_log):
            rel = os.path.relpath(path, val_dir).split(os.sep)
            image_id = os.path.splitext(rel[-1])[0]
            boxes = solution.get(image_id, [])
            wnid = rel[0] if len(rel) > 1 else (boxes[0][0] if boxes else None)
            if wnid is None:
                logger.debug("val image %s has no label in LOC_val_solution.csv", path)
                continue
            candidates.append((path, wnid, boxes))
    records = []
    for path, wnid, boxes in candidates:
        if wanted is not None and wnid not in wanted:
            continue
        if boxes:
            rec = boxed_record(path, [b for _, b in boxes], [w for w, _ in boxes], wanted, name=names.get(wnid, wnid))
            if rec is None or not keep_scene(rec.box_labels, cfg.scene):
                continue
        else:
            if cfg.scene != "any":
                continue  # no boxes: cannot tell single from multi
            rec = ImageRecord(path=path, label=wnid, labels=(wnid,), extra={"name": names.get(wnid, wnid)})
        if not usable(path, cfg.max_pixels, skip_log, check=cfg.check_images, non_utf8=cfg.non_utf8_names):
            continue
        records.append(rec)
    records = cap_per_class(records, cfg.max_per_class, cfg.seed)
    logger.info("imagenet %s (%s): %d images in %d synsets", root, which, len(records), len({r.label for r in records}))
    return records


__all__ = ["load_imagenet", "read_synsets", "read_solution"]
