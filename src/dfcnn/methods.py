"""Method registry (Hydra group ``method``): the describer that turns images into vectors."""

from __future__ import annotations

from omegaconf import DictConfig


def build_describer(cfg: DictConfig):
    """Build the configured method's describer (SPEC §1.3: dfcnn, cnn, inception, surf)."""
    name = cfg.method.name
    if name in ("cnn", "inception"):
        from dfcnn.features.describer import CnnDescriber

        return CnnDescriber.from_config(cfg)
    if name == "dfcnn":
        from dfcnn.features.describer import CnnDescriber

        return CnnDescriber.from_config(cfg)
    if name == "surf":
        from dfcnn.baselines.surf import SurfVladDescriber

        return SurfVladDescriber.from_config(cfg)
    raise ValueError(f"unknown method {name!r}: choose one of dfcnn, cnn, inception, surf")
