"""Class subsets, per-class caps and single- vs multi-object selection (SPEC §4)."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import Iterable, Sequence

from dfcnn.data.records import ImageRecord
from dfcnn.data.splits import stable_key

SCENES = ("any", "single", "multi")


def scene_kind(box_labels: Sequence[str]) -> str:
    """``single``: exactly one box; ``multi``: >= 3 boxes of >= 3 distinct classes; else ``other``."""
    if len(box_labels) == 1:
        return "single"
    if len(box_labels) >= 3 and len(set(box_labels)) >= 3:
        return "multi"
    return "other"


def keep_scene(box_labels: Sequence[str], scene: str) -> bool:
    if scene not in SCENES:
        raise ValueError(f"data.scene must be one of {SCENES}, got {scene!r}")
    if not box_labels:
        return False
    return scene == "any" or scene_kind(box_labels) == scene


def boxed_record(path: str, boxes: Iterable, box_labels: Iterable[str], wanted: set[str] | None, **extra) -> ImageRecord | None:
    """A record holding only the boxes of the chosen classes; primary label = largest box's."""
    pairs = [(tuple(float(v) for v in b), lab) for b, lab in zip(boxes, box_labels) if wanted is None or lab in wanted]
    if not pairs:
        return None
    largest = max(pairs, key=lambda p: (p[0][2] - p[0][0]) * (p[0][3] - p[0][1]))
    boxes_t = tuple(p[0] for p in pairs)
    labels_t = tuple(p[1] for p in pairs)
    return ImageRecord(
        path=path,
        label=largest[1],
        labels=tuple(sorted(set(labels_t))),
        boxes=boxes_t,
        box_labels=labels_t,
        extra=dict(extra),
    )


def select_scene(records: Iterable[ImageRecord], scene: str) -> list[ImageRecord]:
    return [r for r in records if keep_scene(r.box_labels, scene)]


def cap_per_class(records: Sequence[ImageRecord], max_per_class: int | None, seed: int) -> list[ImageRecord]:
    """At most ``max_per_class`` records per primary label, chosen by a seed-fixed order."""
    if not max_per_class:
        return list(records)
    groups: dict[str, list[ImageRecord]] = defaultdict(list)
    for r in records:
        groups[r.label].append(r)
    kept = []
    for _, group in sorted(groups.items()):
        kept.extend(sorted(group, key=lambda r: stable_key(seed, r.path))[:max_per_class])
    return sorted(kept, key=lambda r: r.path)


def crop_box(image, box, margin: float = 0.0):
    """Crop a PIL image to ``(x0, y0, x1, y1)`` (clipped to the image), with a relative margin."""
    x0, y0, x1, y1 = box
    mw, mh = (x1 - x0) * margin, (y1 - y0) * margin
    w, h = image.size
    x0, y0 = max(0, int(round(x0 - mw))), max(0, int(round(y0 - mh)))
    x1, y1 = min(w, int(round(x1 + mw))), min(h, int(round(y1 + mh)))
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"empty crop box {box} for image {w}x{h}")
    return image.crop((x0, y0, x1, y1))


def object_records(records: Iterable[ImageRecord]) -> list[ImageRecord]:
    """One record per box (``extra['box']`` holds it), for crop-level datasets."""
    out = []
    for r in records:
        for i, (box, lab) in enumerate(zip(r.boxes, r.box_labels)):
            out.append(
                dataclasses.replace(
                    r, label=lab, labels=(lab,), boxes=(box,), box_labels=(lab,), extra={**r.extra, "box": box, "box_index": i}
                )
            )
    return out
