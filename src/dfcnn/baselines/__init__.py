"""Baseline methods of SPEC §3 built here: SURF key-points encoded by VLAD (``surf``).

``inception`` and ``cnn`` are built from the features package's backbones.
"""

from dfcnn.baselines.surf import SurfVladDescriber
from dfcnn.baselines.surf_features import Keypoints, SurfExtractor, available_implementations
from dfcnn.baselines.vlad import VladEncoder

__all__ = ["Keypoints", "SurfExtractor", "SurfVladDescriber", "VladEncoder", "available_implementations"]
