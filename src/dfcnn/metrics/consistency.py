"""Feature consistency FC(P) (SPEC §5, Fig. 8): how stable a descriptor is under a fixed
family of everyday perturbations of the same scene."""

from __future__ import annotations

import io
from typing import Callable, Sequence

import numpy as np
from PIL import Image, ImageEnhance


def jpeg(quality: int) -> Callable[[Image.Image], Image.Image]:
    def apply(im: Image.Image) -> Image.Image:
        buffer = io.BytesIO()
        im.save(buffer, format="JPEG", quality=quality)
        buffer.seek(0)
        return Image.open(buffer).convert("RGB")
    return apply


def rotate(degrees: float) -> Callable[[Image.Image], Image.Image]:
    return lambda im: im.rotate(degrees, resample=Image.BILINEAR, expand=False, fillcolor=(128, 128, 128))


def center_crop(fraction: float) -> Callable[[Image.Image], Image.Image]:
    def apply(im: Image.Image) -> Image.Image:
        w, h = im.size
        cw, ch = round(w * fraction), round(h * fraction)
        x0, y0 = (w - cw) // 2, (h - ch) // 2
        return im.crop((x0, y0, x0 + cw, y0 + ch))
    return apply


def brightness(factor: float) -> Callable[[Image.Image], Image.Image]:
    return lambda im: ImageEnhance.Brightness(im).enhance(factor)


def contrast(factor: float) -> Callable[[Image.Image], Image.Image]:
    return lambda im: ImageEnhance.Contrast(im).enhance(factor)


PERTURBATIONS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "jpeg75": jpeg(75),
    "rotate+10": rotate(10),
    "rotate-10": rotate(-10),
    "crop90": center_crop(0.9),
    "brightness+20": brightness(1.2),
    "brightness-20": brightness(0.8),
    "contrast+20": contrast(1.2),
    "contrast-20": contrast(0.8),
}


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / denom) if denom > 0 else 0.0


def feature_consistency(describe: Callable[[Image.Image], np.ndarray], scenes: Sequence[Image.Image],
                        perturbations: dict[str, Callable] | None = None) -> float:
    """FC = 100 × mean cosine between each scene's descriptor and its perturbed copies'."""
    perturbations = PERTURBATIONS if perturbations is None else perturbations
    sims = []
    for scene in scenes:
        reference = describe(scene)
        sims.extend(cosine(reference, describe(p(scene))) for p in perturbations.values())
    if not sims:
        raise ValueError("feature consistency needs at least one scene and one perturbation")
    return 100.0 * float(np.mean(sims))
