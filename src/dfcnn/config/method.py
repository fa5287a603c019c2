"""Schema of the Hydra group ``method`` (SPEC §1.3): which pipeline turns images into vectors."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class MethodConfig:
    name: str = "dfcnn"  # dfcnn | cnn | inception | surf
