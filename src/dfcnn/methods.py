"""Method registry (Hydra group ``method``): the describer that turns images into vectors.

``build_describer`` makes a fresh one from a run config; ``describer_kind`` / ``load_describer``
name a fitted one in an index manifest and read it back. Only the classes listed in ``KINDS``
can be loaded, so a manifest cannot make the loader import arbitrary code.
"""

from __future__ import annotations

import importlib

from omegaconf import DictConfig

KINDS = {
    "fused": "dfcnn.retrieval.fused:FusedDescriber",
    "cnn": "dfcnn.features.describer:CnnDescriber",
    "surf": "dfcnn.baselines.surf:SurfVladDescriber",
}


def build_describer(cfg: DictConfig):
    """Build the configured method's describer (SPEC §1.3: dfcnn, cnn, inception, surf)."""
    name = cfg.method.name
    if name in ("cnn", "inception"):
        from dfcnn.features.describer import CnnDescriber

        return CnnDescriber.from_config(cfg)
    if name == "dfcnn":
        from dfcnn.retrieval.fused import FusedDescriber

        return FusedDescriber.from_config(cfg)
    if name == "surf":
        from dfcnn.baselines.surf import SurfVladDescriber

        return SurfVladDescriber.from_config(cfg)
    raise ValueError(f"unknown method {name!r}: choose one of dfcnn, cnn, inception, surf")


def _describer_class(kind: str):
    if kind not in KINDS:
        raise ValueError(f"unknown describer kind {kind!r}; known: {sorted(KINDS)}")
    module, name = KINDS[kind].split(":")
    return getattr(importlib.import_module(module), name)


def describer_kind(describer) -> str:
    """The ``KINDS`` key of a describer instance (what an index manifest records)."""
    for kind in KINDS:
        module, name = KINDS[kind].split(":")
        cls = type(describer)
        if cls.__module__ == module and cls.__name__ == name:
            return kind
    raise ValueError(f"describer {type(describer).__name__} is not a registered kind ({sorted(KINDS)})")


def load_describer(kind: str, directory: str):
    """Read a fitted describer saved by ``describer.save(directory)``."""
    return _describer_class(kind).load(directory)
