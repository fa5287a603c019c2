"""The one record type every dataset yields, so loaders, extractors and metrics agree."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ImageRecord:
    """One image of a dataset.

    ``labels`` holds every class present (a multi-object scene has several); ``label`` is the
    primary one (the single object, or the first box's class). ``instance_id`` identifies the
    product instance where the dataset knows it (relevance is by instance then, else by label).
    ``boxes`` are ``(x0, y0, x1, y1)`` pixel boxes aligned with ``box_labels``.
    """

    path: str
    label: str
    labels: tuple[str, ...] = ()
    instance_id: str | None = None
    instance_ids: tuple[str, ...] = ()  # every product instance in a multi-object scene
    boxes: tuple[tuple[float, float, float, float], ...] = ()
    box_labels: tuple[str, ...] = ()
    split: str = "database"
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def label_set(self) -> frozenset[str]:
        return frozenset(self.labels or (self.label,))

    def instance_set(self) -> frozenset[str]:
        if self.instance_ids:
            return frozenset(self.instance_ids)
        return frozenset((self.instance_id,)) if self.instance_id is not None else frozenset()
