"""Schema of the ``surf`` section (SPEC §3): SURF key-points encoded to one vector by VLAD."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SurfConfig:
    implementation: str = "auto"  # auto | opencv | mahotas (auto: OpenCV non-free SURF if present)
    hessian_threshold: float = 400.0  # OpenCV units; mapped for mahotas (see baselines.surf_features)
    max_keypoints: int = 1000  # strongest key-points kept per image
    max_side: int = 512  # longer side after downscaling (never upscaled); 0 = keep size
    n_clusters: int = 64  # VLAD vocabulary size k; descriptor width k x 64
    max_training_descriptors: int = 100_000  # sample of training descriptors for k-means
    kmeans_n_init: int = 1
    kmeans_max_iter: int = 100
    n_jobs: int = 1  # threads for extraction (mahotas and OpenCV release the GIL)
