"""Small shading tools that make flat drawings read as 3-D objects under one studio light."""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

LIGHT = np.array([-0.45, -0.5, 0.75])
LIGHT = LIGHT / np.linalg.norm(LIGHT)
HALF = LIGHT + np.array([0.0, 0.0, 1.0])
HALF = HALF / np.linalg.norm(HALF)


def shade(rgb: np.ndarray, nx: np.ndarray, ny: np.ndarray, nz: np.ndarray, ambient=0.45, diffuse=0.65, gloss=0.0, shininess=30.0) -> np.ndarray:
    """Lambert + Blinn-Phong on float RGB [..., 3] in 0-255 given unit normals."""
    dot_l = np.clip(nx * LIGHT[0] + ny * LIGHT[1] + nz * LIGHT[2], 0, 1)
    out = rgb * (ambient + diffuse * dot_l)[..., None]
    if gloss:
        dot_h = np.clip(nx * HALF[0] + ny * HALF[1] + nz * HALF[2], 0, 1)
        out = out + 255.0 * gloss * (dot_h**shininess)[..., None]
    return np.clip(out, 0, 255)


def lathe(profile: np.ndarray, texture: np.ndarray, width: int, gloss=0.35, ambient=0.45) -> np.ndarray:
    """Wrap ``texture`` (front half, [Th, Tw, 3]) on a surface of revolution.

    ``profile[y]`` is the radius in pixels of row ``y``; returns RGBA float [H, width, 4].
    """
    h = len(profile)
    cx = (width - 1) / 2.0
    xs = np.arange(width, dtype=np.float64)[None, :] - cx
    r = np.maximum(profile[:, None], 1e-6)
    u = np.clip(xs / r, -1, 1)
    th, tw = texture.shape[:2]
    tx = ((np.arcsin(u) / np.pi + 0.5) * (tw - 1)).astype(np.int64)
    ty = np.broadcast_to((np.arange(h) * (th - 1) // max(h - 1, 1))[:, None], tx.shape)
    rgb = texture[ty, tx].astype(np.float64)
    # slope of the profile tilts the normal up or down
    slope = np.gradient(profile)[:, None]
    nz0 = np.sqrt(np.clip(1 - u**2, 0, 1))
    ny = -slope * nz0 * 0.8
    nx = u
    norm = np.sqrt(nx**2 + ny**2 + nz0**2) + 1e-9
    rgb = shade(rgb, nx / norm, ny / norm, nz0 / norm, ambient=ambient, gloss=gloss)
    alpha = np.clip(r - np.abs(xs) + 0.5, 0, 1) * (profile[:, None] > 0.5)
    return np.concatenate([rgb, 255.0 * alpha[..., None]], axis=-1)


def relief(mask: np.ndarray, rgb: np.ndarray, softness: float, gloss=0.3, strength=1.0, ambient=0.45) -> np.ndarray:
    """Shade a flat shape (``mask`` in 0-1) as a rounded relief: the height is a blurred mask."""
    h, w = mask.shape
    small = max(1, int(max(h, w) / 384))
    m = mask[::small, ::small].astype(np.float64)
    height = ndimage.gaussian_filter(m, sigma=max(1.0, softness / small))
    if small > 1:
        height = ndimage.zoom(height, (h / height.shape[0], w / height.shape[1]), order=1)[:h, :w]
        pad_h, pad_w = h - height.shape[0], w - height.shape[1]
        if pad_h or pad_w:
            height = np.pad(height, ((0, pad_h), (0, pad_w)), mode="edge")
    gy, gx = np.gradient(height)
    k = strength * softness
    nx, ny, nz = -gx * k, -gy * k, np.ones_like(gx)
    norm = np.sqrt(nx**2 + ny**2 + nz**2)
    return shade(rgb, nx / norm, ny / norm, nz / norm, ambient=ambient, gloss=gloss)


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int = 8) -> np.ndarray:
    """Low-frequency noise in [0, 1], the same pattern at any ``shape`` for the same rng state."""
    grid = rng.random((cells, cells))
    im = Image.fromarray((grid * 255).astype(np.uint8), "L").resize((shape[1], shape[0]), Image.Resampling.BICUBIC)
    return np.asarray(im, dtype=np.float64) / 255.0


def emboss(mask: np.ndarray, offset: int) -> np.ndarray:
    """Light/dark rims of a carved line pattern (positive = lit edge), for engraving."""
    shifted = np.roll(np.roll(mask, offset, axis=0), offset, axis=1)
    return mask - shifted


def to_image(rgba: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(rgba, 0, 255).astype(np.uint8), "RGBA")
