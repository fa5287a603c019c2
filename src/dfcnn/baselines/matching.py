"""How well two images' local features match: Lowe's ratio test, then RANSAC homography inliers.

This is the discrimination check of SPEC §3 (rotated / rescaled copies must match far better
than unrelated images); it tells how much a local-feature implementation can be trusted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MatchResult:
    ratio_matches: int  # matches passing the ratio test
    inliers: int  # of those, consistent with one RANSAC homography


def ratio_matches(desc_a: np.ndarray, desc_b: np.ndarray, ratio: float = 0.75) -> list[tuple[int, int]]:
    """Nearest neighbours a -> b whose distance is < ratio x that of the second nearest."""
    import cv2

    if len(desc_a) == 0 or len(desc_b) < 2:
        return []
    knn = cv2.BFMatcher(cv2.NORM_L2).knnMatch(
        np.ascontiguousarray(desc_a, np.float32), np.ascontiguousarray(desc_b, np.float32), k=2
    )
    return [(m[0].queryIdx, m[0].trainIdx) for m in knn if len(m) == 2 and m[0].distance < ratio * m[1].distance]


def match_inliers(
    xy_a: np.ndarray,
    desc_a: np.ndarray,
    xy_b: np.ndarray,
    desc_b: np.ndarray,
    ratio: float = 0.75,
    ransac_px: float = 5.0,
    seed: int = 0,
) -> MatchResult:
    """Ratio-test matches and RANSAC homography inliers between two key-point sets."""
    import cv2

    pairs = ratio_matches(desc_a, desc_b, ratio)
    if len(pairs) < 4:
        return MatchResult(len(pairs), 0)
    src = np.float32([xy_a[i] for i, _ in pairs])
    dst = np.float32([xy_b[j] for _, j in pairs])
    cv2.setRNGSeed(seed)
    _, mask = cv2.findHomography(src, dst, cv2.RANSAC, ransac_px)
    return MatchResult(len(pairs), int(mask.sum()) if mask is not None else 0)
