"""Schemas of the Hydra groups ``backbone`` and ``aggregator`` (SPEC §2.1-2.3)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass
class BackboneConfig:
    name: str = "efficientnet_lite0"
    pretrained: bool = True
    weights_path: Optional[str] = None
    image_size: int = 512  # longer side after resizing
    multiscale: bool = False  # scales {1, 1/sqrt(2), 1/2} summed before the final L2
    batch_size: int = 8
    num_workers: int = 0
    accelerator: str = "cpu"
    devices: int = 1


@dataclass
class AggregatorConfig:
    name: str = "dfcnn"  # gap | mac | spoc | gem | rmac | crow | dfcnn
    levels: int = 3  # R-MAC grid levels
    alpha: float = 0.5  # Eq. 12 exponent
    gem_p: float = 3.0
    whiten: bool = True
    whiten_dim: Optional[int] = 512  # None = min(L, 512)
    whiten_shrinkage: float = 0.0  # covariance shrinkage towards a scaled identity, 0..1
    whiten_eps: float = 1e-6  # eigenvalue floor, relative to the largest eigenvalue
