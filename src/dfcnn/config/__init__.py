"""Structured configs: one dataclass per Hydra group, so a wrong key or type fails naming it."""

from dfcnn.config.schema import register_configs

__all__ = ["register_configs"]
