"""The embedded catalogue of cultural-and-creative products (``data=catalogue``, SPEC §4).

Synthetic and documented as such: 7 fields A-G (vases, folding fans, lanterns, paper-cuts,
seals, bookmarks, pendants), several instances per field differing in palette, motif, text and
shape; each instance has a studio product shot plus cluttered views with geometric and
photometric changes, and each field has three-object scenes. Deterministic by seed.

Splits: relevance is by instance id. The database holds the product views (the studio shot and
the first cluttered views of every instance); queries are the held-out views and all
three-object scenes, whose primary instance is ``instance_id`` and whose objects are listed in
``extra["instance_ids"]`` aligned with ``boxes``.
"""

from __future__ import annotations

import os

from dfcnn.data.catalogue.build import build, manifest_records
from dfcnn.data.catalogue.styles import FIELDS
from dfcnn.data.splits import Splits, fit_subsets, with_split

__all__ = ["FIELDS", "catalogue_records", "catalogue_splits", "cache_root"]


def cache_root(cfg, outputs_dir: str) -> str:
    return os.path.abspath(cfg.cache_dir or os.path.join(outputs_dir, "cache", "catalogue"))


def catalogue_records(cfg, outputs_dir: str):
    """All records of the configured catalogue (rendered on first use, cached after)."""
    directory, manifest = build(cfg, cache_root(cfg, outputs_dir))
    return manifest_records(directory, manifest), directory


def catalogue_splits(cfg, outputs_dir: str) -> Splits:
    records, directory = catalogue_records(cfg, outputs_dir)
    views = int(cfg.views_per_instance)
    n_query = min(max(1, int(round(views * float(cfg.query_fraction)))), views - 1) if float(cfg.query_fraction) > 0 else 0
    database, query = [], []
    for r in records:
        if r.extra["scene"] == "multi" or r.extra["view"] >= views - n_query:
            query.append(r)
        else:
            database.append(r)
    if cfg.scene in ("single", "multi"):
        query = [r for r in query if r.extra["scene"] == cfg.scene]
    train, val = fit_subsets(database, float(cfg.train_fraction), float(cfg.val_fraction), int(cfg.seed))
    return Splits(
        train=sorted(train, key=lambda r: r.path),
        val=sorted(val, key=lambda r: r.path),
        database=with_split(database, "database"),
        query=with_split(query, "query"),
        info={"dataset": "catalogue", "directory": directory, "synthetic": True},
    )
