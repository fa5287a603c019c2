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
    max_pixels: int = 89_478_485  # decompression-bomb guard (Pillow's default limit)
    # embedded catalogue (data=catalogue)
    n_fields: int = 7
    instances_per_field: int = 4
    views_per_instance: int = 4
    multi_scenes_per_field: int = 4
    megapixels: float = 0.25
    cache_dir: Optional[str] = None  # default: <paths.outputs>/cache/catalogue
    extra: dict = field(default_factory=dict)
