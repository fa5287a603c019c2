"""Fig. 8: feature consistency FC(P) of single- and three-object scenes at P megapixels.

Each scene is rendered once at the largest pixel count and resampled (Lanczos) to every
smaller P, so the scene content is identical across P and only the pixel count changes; the
renders are cached under ``<outputs>/cache/fig8``.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
from PIL import Image

from dfcnn.data.catalogue.scenes import multi_scene, single_view
from dfcnn.data.catalogue.styles import FIELDS, field_styles
from dfcnn.metrics.consistency import feature_consistency

log = logging.getLogger(__name__)


def base_scenes(data_cfg, n_scenes: int, megapixels: float, cache_dir: Path) -> dict[str, list[Image.Image]]:
    """``n_scenes`` single-object and three-object scenes at ``megapixels``, deterministic by seed."""
    seed = int(data_cfg.seed)
    letters = list(FIELDS)[: int(data_cfg.n_fields)]
    per_field = int(data_cfg.instances_per_field)
    cache_dir.mkdir(parents=True, exist_ok=True)
    scenes: dict[str, list[Image.Image]] = {"single": [], "three": []}
    for i in range(n_scenes):
        for kind in scenes:
            path = cache_dir / f"seed{seed}_{kind}{i}_{megapixels:g}mp.png"
            if not path.exists():
                fields = [letters[(i + j * 2) % len(letters)] for j in range(1 if kind == "single" else 3)]
                styles = [field_styles(seed, f, per_field)[(i + j) % per_field] for j, f in enumerate(fields)]
                seq = np.random.SeedSequence([seed, 8_888, i, len(styles)])
                image = single_view(styles[0], seq, megapixels, False)[0] if kind == "single" \
                    else multi_scene(styles, seq, megapixels)[0]
                tmp = path.with_suffix(".tmp.png")
                image.save(tmp)
                tmp.replace(path)
            with Image.open(path) as im:
                scenes[kind].append(im.convert("RGB"))
    return scenes


def at_megapixels(image: Image.Image, megapixels: float) -> Image.Image:
    scale = math.sqrt(megapixels * 1e6 / (image.width * image.height))
    if scale >= 1.0:
        return image
    return image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.Resampling.LANCZOS)


def consistency_curves(describe, scenes: dict[str, list[Image.Image]], megapixels: list[float]) -> dict[str, list[float]]:
    """``kind -> [FC(P) for P in megapixels]`` in %."""
    return {kind: [feature_consistency(describe, [at_megapixels(s, p) for s in images]) for p in megapixels]
            for kind, images in scenes.items()}


def plot(curves: dict[str, dict[str, list[float]]], megapixels: list[float], path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, kind in zip(axes, ("single", "three")):
        for method, c in curves.items():
            ax.plot(megapixels, c[kind], marker="o", label=method)
        ax.set(title=f"{kind}-object scenes", xlabel="total pixels (MP)", ylabel="feature consistency (%)")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
