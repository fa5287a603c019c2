"""The R-MAC region grid (Tolias, Sicre & Jégou, ICLR 2016), shared by ``rmac`` and ``dfcnn``.

Regions are square, of side ``w_l = floor(2·min(W, H) / (l + 1))`` at level ``l = 1..L``, laid out
with about 40 % overlap; the longer side gets extra regions so that the overlap stays close to
40 %. The layout follows Tolias' ``rmac_regions.m`` (and Radenović's port of it), with 0-based
``(x, y, w, h)`` coordinates on the feature map.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch

OVERLAP = 0.4  # desired overlap of neighbouring regions
STEPS = (2, 3, 4, 5, 6, 7)  # candidate numbers of regions along the longer side


def _extra_regions(W: int, H: int) -> tuple[int, int]:
    """How many extra regions the longer side gets (Wd, Hd), chosen for ~40 % overlap."""
    w = min(W, H)
    if W == H:
        return 0, 0
    best, best_idx = math.inf, 0
    for idx, step in enumerate(STEPS):
        b = (max(W, H) - w) / (step - 1)
        err = abs((w * w - w * b) / (w * w) - OVERLAP)
        if err < best:  # first minimum wins, as MATLAB's min does
            best, best_idx = err, idx
    extra = best_idx + 1
    return (extra, 0) if H < W else (0, extra)


def _centres(size: int, wl: int, wl2: int, n: int) -> list[int]:
    """0-based start coordinates of ``n`` regions of side ``wl`` spread over ``size`` cells."""
    b = 0.0 if n == 1 else (size - wl) / (n - 1)
    return [int(math.floor(wl2 + k * b) - wl2) for k in range(n)]


@lru_cache(maxsize=256)
def rmac_grid(W: int, H: int, levels: int = 3) -> tuple[tuple[int, int, int, int], ...]:
    """Regions ``(x, y, w, h)`` of the R-MAC grid on a ``W × H`` map, level by level."""
    if W < 1 or H < 1:
        raise ValueError(f"feature map must be at least 1x1, got {W}x{H}")
    w = min(W, H)
    Wd, Hd = _extra_regions(W, H)
    regions: list[tuple[int, int, int, int]] = []
    for level in range(1, levels + 1):
        wl = int(math.floor(2 * w / (level + 1)))
        if wl < 1:
            continue
        wl2 = int(math.floor(wl / 2 - 1))
        xs = _centres(W, wl, wl2, level + Wd)
        ys = _centres(H, wl, wl2, level + Hd)
        for y in ys:
            for x in xs:
                regions.append((x, y, wl, wl))
    return tuple(regions)


@lru_cache(maxsize=256)
def regions_with_whole_map(W: int, H: int, levels: int = 3) -> tuple[tuple[int, int, int, int], ...]:
    """The whole map first, then the R-MAC grid (SPEC §2.3), each region once.

    On a square map level 1 of the grid *is* the whole map, and on very thin maps two levels can
    produce the same squares; repeats are dropped so no region is counted twice in the sum.
    """
    return tuple(dict.fromkeys(((0, 0, W, H),) + rmac_grid(W, H, levels)))


def regions_tensor(W: int, H: int, levels: int = 3, device=None) -> torch.Tensor:
    """``regions_with_whole_map`` as an int64 tensor ``[R, 4]``."""
    return torch.tensor(regions_with_whole_map(W, H, levels), dtype=torch.long, device=device)
