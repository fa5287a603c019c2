"""Deterministic train / val / database / query splits shared by every dataset."""

from __future__ import annotations

import dataclasses
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from dfcnn.data.records import ImageRecord


@dataclass
class Splits:
    """``database`` is indexed; ``train`` and ``val`` are subsets of it (fit whitening, vocabulary,
    forest); ``query`` is disjoint from ``database``."""

    train: list[ImageRecord]
    val: list[ImageRecord]
    database: list[ImageRecord]
    query: list[ImageRecord]
    info: dict = field(default_factory=dict)

    def sizes(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in ("train", "val", "database", "query")}

    def classes(self) -> list[str]:
        return sorted({r.label for r in self.database})


def stable_key(seed: int, text: str) -> str:
    """A seed-dependent ordering key that does not change with Python's hash randomisation."""
    return hashlib.sha1(f"{seed}:{text}".encode("utf-8", errors="surrogateescape")).hexdigest()


def with_split(records: Iterable[ImageRecord], split: str) -> list[ImageRecord]:
    return [r if r.split == split else dataclasses.replace(r, split=split) for r in records]


def _by_label(records: Sequence[ImageRecord], seed: int) -> dict[str, list[ImageRecord]]:
    groups: dict[str, list[ImageRecord]] = defaultdict(list)
    for r in records:
        groups[r.label].append(r)
    return {k: sorted(v, key=lambda r: stable_key(seed, r.path)) for k, v in sorted(groups.items())}


def _take(n_items: int, fraction: float, keep_one: bool) -> int:
    if fraction <= 0:
        return 0
    k = int(round(n_items * fraction))
    if keep_one and n_items >= 2:
        k = min(max(k, 1), n_items - 1)
    return min(k, n_items)


def fit_subsets(database: Sequence[ImageRecord], train_fraction: float, val_fraction: float, seed: int):
    """Per-class train and val subsets of the database (disjoint), in a seed-fixed order."""
    train, val = [], []
    for _, group in _by_label(database, seed + 1).items():
        n_train = _take(len(group), train_fraction, keep_one=False) if train_fraction < 1 else len(group)
        n_train = max(n_train, 1) if group else 0
        rest = group[n_train:]
        n_val = min(_take(len(group), val_fraction, keep_one=False), len(rest))
        train.extend(group[:n_train])
        val.extend(rest[:n_val])
    return with_split(train, "train"), with_split(val, "val")


def split_records(
    records: Sequence[ImageRecord],
    *,
    seed: int,
    query_fraction: float,
    train_fraction: float,
    val_fraction: float,
) -> Splits:
    """Per-class hold-out of ``query_fraction`` as queries, the rest as the database.

    A class with a single image stays in the database (no query without a relevant item).
    """
    database, query = [], []
    for _, group in _by_label(records, seed).items():
        n_query = _take(len(group), query_fraction, keep_one=True)
        query.extend(group[:n_query])
        database.extend(group[n_query:])
    database = sorted(database, key=lambda r: r.path)
    query = sorted(query, key=lambda r: r.path)
    train, val = fit_subsets(database, train_fraction, val_fraction, seed)
    return Splits(
        train=sorted(train, key=lambda r: r.path),
        val=sorted(val, key=lambda r: r.path),
        database=with_split(database, "database"),
        query=with_split(query, "query"),
    )
