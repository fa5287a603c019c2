"""Datasets (SPEC §4): the embedded catalogue, ImageNet / Open Images / COCO subsets, folders,
and the safe image decoding they all share.

``load_splits(data_cfg, outputs_dir)`` is the one entry point: it returns deterministic
train / val / database / query splits of ``ImageRecord``s for the configured dataset.
"""

from __future__ import annotations

import logging
from typing import Callable

from dfcnn.data.decode import ImageDecodeError, load_image
from dfcnn.data.records import ImageRecord
from dfcnn.data.skipped import SkipLog
from dfcnn.data.splits import Splits, split_records

logger = logging.getLogger(__name__)

__all__ = ["ImageDecodeError", "ImageRecord", "SkipLog", "Splits", "load_image", "load_records", "load_splits"]

DATASETS = ("catalogue", "imagenet", "openimages", "coco", "folder")


def _loader(name: str) -> Callable:
    if name == "folder":
        from dfcnn.data.folder import load_folder

        return load_folder
    if name == "coco":
        from dfcnn.data.coco import load_coco

        return load_coco
    if name == "imagenet":
        from dfcnn.data.imagenet import load_imagenet

        return load_imagenet
    if name == "openimages":
        from dfcnn.data.openimages import load_openimages

        return load_openimages
    raise ValueError(f"data.name must be one of {DATASETS}, got {name!r}")


def load_records(data_cfg, skip_log: SkipLog | None = None) -> list[ImageRecord]:
    """Every selected record of a real-format dataset (not the catalogue), before splitting."""
    records = _loader(data_cfg.name)(data_cfg, skip_log)
    if getattr(data_cfg, "crop_objects", False):
        from dfcnn.data.select import object_records

        records = object_records(records)
    return records


def load_splits(data_cfg, outputs_dir: str, skip_log: SkipLog | None = None) -> Splits:
    """Deterministic (by ``data_cfg.seed``) splits of the configured dataset.

    ``database`` is what gets indexed, ``train`` / ``val`` are disjoint subsets of it, ``query``
    is disjoint from it. Files found unusable while listing are logged to ``skip_log``.
    """
    if data_cfg.name == "catalogue":
        from dfcnn.data.catalogue import catalogue_splits

        splits = catalogue_splits(data_cfg, outputs_dir)
    else:
        records = load_records(data_cfg, skip_log)
        if not records:
            raise ValueError(f"data={data_cfg.name}: no usable images found (root={data_cfg.root!r}, classes={data_cfg.classes})")
        splits = split_records(
            records,
            seed=int(data_cfg.seed),
            query_fraction=float(data_cfg.query_fraction),
            train_fraction=float(data_cfg.train_fraction),
            val_fraction=float(data_cfg.val_fraction),
        )
        splits.info = {"dataset": data_cfg.name, "root": data_cfg.root, "synthetic": False}
    splits.info["sizes"] = splits.sizes()
    if skip_log is not None:
        splits.info["skipped"] = skip_log.count
    logger.info("data=%s: %s", data_cfg.name, splits.sizes())
    return splits
