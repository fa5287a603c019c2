"""Schema of the Hydra group ``data`` (SPEC §4)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass
class DataConfig:
    name: str = "catalogue"  # catalogue | imagenet | openimages | coco | folder
    root: Optional[str] = None  # dataset folder (not used by the embedded catalogue)
    annotations: Optional[str] = None  # coco JSON / Open Images CSV, relative to root or absolute
    classes: Optional[list[str]] = None  # class subset; None = all
    max_per_class: Optional[int] = None  # cap of images per class
    scene: str = "any"  # any | single | multi (SPEC §4 selection)
    seed: int = 0
    query_fraction: float = 0.2  # share of each class held out as queries
    train_fraction: float = 0.5  # share of the database used to fit whitening / forest
    val_fraction: float = 0.2  # share of the database (disjoint from train) for forest early stopping
    max_pixels: int = 89_478_485  # decompression-bomb guard (Pillow's default limit)
    check_images: bool = True  # read every listed file's header when listing (bad files -> skipped.jsonl)
    non_utf8_names: str = "skip"  # skip | keep: files whose names are not valid UTF-8
    images_dir: Optional[str] = None  # coco / openimages: image folder, relative to root (default: guessed)
    source_split: Optional[str] = None  # imagenet: train | val | all; openimages: the CSV prefix (e.g. validation)
    crop_objects: bool = False  # boxed datasets: one record per box (crop by box) instead of per image
    # embedded catalogue (data=catalogue)
    n_fields: int = 7
    instances_per_field: int = 4
    views_per_instance: int = 4
    multi_scenes_per_field: int = 4
    megapixels: float = 0.25
    cache_dir: Optional[str] = None  # default: <paths.outputs>/cache/catalogue
    extra: dict = field(default_factory=dict)
