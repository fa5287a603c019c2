"""The DF-CNN describer (method ``dfcnn``): CNN descriptor fused with cascade-forest attributes.

fit: CNN describer fit (whitening) → CNN descriptors F of the training images → cascade forest
fitted on their category labels. transform: x = L2([(1 − w)·F ; w·a/‖a‖]) with a the forest's
attribute vector (SPEC §2.5). With ``forest.enabled=false`` it returns the plain CNN descriptors.

Training images without at least two usable labels: the forest is trained on the configured
labelled attribute dataset instead (``retrieval.attribute_data``, default the embedded catalogue;
SPEC §2.4) and ``info['attribute_source']`` says which; ``attribute_data=none`` makes it an error.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections import Counter
from typing import Sequence

import numpy as np

from dfcnn.data.records import ImageRecord
from dfcnn.persist import atomic_write_text, load_format_json
from dfcnn.retrieval.expansion import l2_normalise

log = logging.getLogger(__name__)

FORMAT = "dfcnn.fused_describer/1"


class AttributeLabelsError(ValueError):
    """The forest cannot be trained: fewer than two classes with enough labelled images."""


def fuse(F: np.ndarray, a: np.ndarray, w: float) -> np.ndarray:
    """SPEC §2.5 fused descriptor: x = L2([(1 − w)·F ; w·a/‖a‖]), row-wise."""
    F = np.atleast_2d(np.asarray(F, dtype=np.float32))
    a = np.atleast_2d(np.asarray(a, dtype=np.float32))
    return l2_normalise(np.concatenate([(1.0 - w) * F, w * l2_normalise(a)], axis=1))


def min_samples_per_class(forest_cfg) -> int:
    """Images a class needs so that k-fold class vectors still see n_folds of it after the validation split."""
    n_folds = int(forest_cfg.get("n_folds", 3))
    vf = float(forest_cfg.get("validation_fraction", 0.2))
    return max(2, math.ceil(n_folds / (1.0 - vf)) + (1 if vf > 0 else 0))


def trainable_labels(records: Sequence[ImageRecord], min_count: int) -> tuple[np.ndarray, list[str]]:
    """Mask of records whose label has at least ``min_count`` images, and the classes kept."""
    counts = Counter(r.label for r in records if r.label)
    classes = sorted(c for c, n in counts.items() if n >= min_count)
    dropped = {c: n for c, n in counts.items() if n < min_count}
    if dropped:
        log.warning("forest: classes with fewer than %d images left out of attribute training: %s", min_count, dropped)
    keep = np.array([bool(r.label) and r.label in set(classes) for r in records], dtype=bool)
    return keep, classes


class FusedDescriber:
    """Describer protocol over a ``CnnDescriber`` and a ``CascadeForestClassifier``."""

    def __init__(self, cnn, forest_cfg=None, attribute_weight: float = 0.3, enabled: bool = True,
                 attribute_data: str = "catalogue", outputs_dir: str = "outputs", data_seed: int = 0):
        if not 0.0 <= float(attribute_weight) <= 1.0:
            raise ValueError(f"retrieval.attribute_weight must be in [0, 1], got {attribute_weight}")
        self.cnn = cnn
        self.forest_cfg = forest_cfg
        self.attribute_weight = float(attribute_weight)
        self.enabled = bool(enabled)
        self.attribute_data = attribute_data
        self.outputs_dir = outputs_dir
        self.data_seed = data_seed
        self.forest = None
        self.attribute_source: str | None = None
        self._cnn_cache: dict[str, np.ndarray] = {}  # CNN descriptors computed during fit, reused by transform

    @classmethod
    def from_config(cls, cfg) -> "FusedDescriber":
        from dfcnn.features.describer import CnnDescriber

        retrieval = cfg.get("retrieval") or {}
        return cls(CnnDescriber.from_config(cfg), forest_cfg=cfg.forest,
                   attribute_weight=float(retrieval.get("attribute_weight", 0.3)),
                   enabled=bool(cfg.forest.get("enabled", True)),
                   attribute_data=str(retrieval.get("attribute_data", "catalogue")),
                   outputs_dir=str(cfg.paths.outputs) if cfg.get("paths") else "outputs",
                   data_seed=int(cfg.data.get("seed", 0)) if cfg.get("data") else 0)

    @property
    def dim(self) -> int:
        if not self.enabled:
            return self.cnn.dim
        n_attr = 2 * len(self.forest.classes_) if self.forest is not None else 0
        return self.cnn.dim + n_attr

    @property
    def info(self) -> dict:
        info = {f"cnn.{k}": v for k, v in self.cnn.info.items()}
        info.update({"implementation": f"{__name__}.FusedDescriber", "forest_enabled": self.enabled,
                     "attribute_weight": self.attribute_weight, "attribute_source": self.attribute_source,
                     "dim": self.dim})
        if self.forest is not None:
            info.update({"forest_classes": len(self.forest.classes_), "forest_layers": int(self.forest.n_layers_)})
        return info

    # -- fit / transform ---------------------------------------------------------------------------
    def fit(self, records: Sequence[ImageRecord], skip_log=None) -> "FusedDescriber":
        self.cnn.fit(records, skip_log=skip_log)
        if not self.enabled:
            return self
        from dfcnn.forest import CascadeForestClassifier, MLflowCallback

        F, kept = self.cnn.transform(records, skip_log=skip_log)
        self._cnn_cache = {r.path: row for r, row in zip(kept, F)}
        F, labels, source = self._attribute_training_data(F, kept, skip_log)
        log.info("forest: training on %d descriptors of %d classes (%s)", len(F), len(set(labels)), source)
        forest = CascadeForestClassifier.from_config(self.forest_cfg, callbacks=[MLflowCallback()])
        forest.fit(F, np.asarray(labels))
        self.forest, self.attribute_source = forest, source
        return self

    def _attribute_training_data(self, F, kept, skip_log):
        min_count = min_samples_per_class(self.forest_cfg)
        keep, classes = trainable_labels(kept, min_count)
        if len(classes) >= 2:
            return F[keep], [r.label for r, k in zip(kept, keep) if k], "indexed images' labels"
        why = (f"the training images have {len(classes)} class(es) with at least {min_count} images "
               f"(labels seen: {sorted({r.label for r in kept})[:10]})")
        if self.attribute_data in ("", "none", None):
            raise AttributeLabelsError(
                f"method=dfcnn needs labelled images of at least 2 classes to train the cascade forest, but {why}. "
                "Put the images in one sub-folder per class (data=folder), set retrieval.attribute_data=catalogue "
                "to train the attributes on the embedded catalogue, or use method=cnn / forest.enabled=false.")
        log.warning("forest: %s; training the attributes on data=%s instead (SPEC §2.4)", why, self.attribute_data)
        records = self._attribute_dataset_records()
        F2, kept2 = self.cnn.transform(records, skip_log=skip_log)
        keep2, classes2 = trainable_labels(kept2, min_count)
        if len(classes2) < 2:
            raise AttributeLabelsError(f"the attribute dataset data={self.attribute_data} has too few labelled "
                                       f"images ({len(classes2)} usable classes) to train the forest")
        return F2[keep2], [r.label for r, k in zip(kept2, keep2) if k], f"data={self.attribute_data}"

    def _attribute_dataset_records(self) -> list[ImageRecord]:
        from omegaconf import OmegaConf

        from dfcnn.config.data import DataConfig
        from dfcnn.data import load_splits

        data_cfg = OmegaConf.structured(DataConfig(name=self.attribute_data, seed=self.data_seed))
        splits = load_splits(data_cfg, self.outputs_dir)
        return list(splits.train) + list(splits.val)

    def attributes(self, F: np.ndarray) -> np.ndarray:
        """Attribute vectors a = forest.transform(F), ``[n, 2 × n_classes]``."""
        if self.forest is None:
            raise RuntimeError("FusedDescriber must be fitted before transform (the forest is not trained)")
        return self.forest.transform(np.atleast_2d(F))

    def _fused(self, F: np.ndarray) -> np.ndarray:
        if not self.enabled:
            return np.atleast_2d(F).astype(np.float32)
        if len(F) == 0:
            return np.zeros((0, self.dim), np.float32)
        return fuse(F, self.attributes(F), self.attribute_weight)

    def transform(self, records: Sequence[ImageRecord], skip_log=None) -> tuple[np.ndarray, list[ImageRecord]]:
        F, kept = self._cnn_descriptors(records, skip_log)
        return self._fused(F), kept

    def _cnn_descriptors(self, records, skip_log):
        """CNN descriptors, reusing those already computed for the training images during fit."""
        todo = [r for r in records if r.path not in self._cnn_cache]
        F_new, kept_new = self.cnn.transform(todo, skip_log=skip_log) if todo else (None, [])
        fresh = {r.path: row for r, row in zip(kept_new, F_new if F_new is not None else [])}
        kept = [r for r in records if r.path in fresh or r.path in self._cnn_cache]
        if not kept:
            return np.zeros((0, self.cnn.dim), np.float32), []
        F = np.stack([fresh[r.path] if r.path in fresh else self._cnn_cache[r.path] for r in kept])
        return F.astype(np.float32), kept

    def describe_image(self, image) -> np.ndarray:
        return self._fused(self.cnn.describe_image(image)[None, :])[0]

    # -- persistence (pickle-free: CNN describer JSON/.npy, forest JSON/UBJ) -----------------------
    def save(self, directory: str) -> None:
        self._cnn_cache = {}
        os.makedirs(directory, exist_ok=True)
        self.cnn.save(os.path.join(directory, "cnn"))
        if self.forest is not None:
            self.forest.save(os.path.join(directory, "forest"))
        meta = {"format": FORMAT, "attribute_weight": self.attribute_weight, "enabled": self.enabled,
                "attribute_source": self.attribute_source, "attribute_data": self.attribute_data,
                "has_forest": self.forest is not None}
        atomic_write_text(os.path.join(directory, "fused.json"), json.dumps(meta, indent=2))

    @classmethod
    def load(cls, directory: str) -> "FusedDescriber":
        from dfcnn.features.describer import CnnDescriber

        meta = load_format_json(os.path.join(directory, "fused.json"), FORMAT, "FusedDescriber")
        obj = cls(CnnDescriber.load(os.path.join(directory, "cnn")), attribute_weight=meta["attribute_weight"],
                  enabled=meta["enabled"], attribute_data=meta.get("attribute_data", "catalogue"))
        obj.attribute_source = meta.get("attribute_source")
        if meta.get("has_forest"):
            from dfcnn.forest import CascadeForestClassifier

            obj.forest = CascadeForestClassifier.load(os.path.join(directory, "forest"))
        elif obj.enabled:
            raise ValueError(f"{directory}: the forest is enabled but was never trained (no forest/ saved)")
        return obj
