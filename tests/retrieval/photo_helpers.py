"""Helpers of the verification / multi-object tests: textured 'products' and photos of them."""

import numpy as np
from PIL import Image, ImageDraw


def product(seed: int, size=(200, 150)) -> Image.Image:
    """A richly textured flat product (a print): random shapes, lines and text-like strokes."""
    rng = np.random.default_rng(seed)
    im = Image.new("RGB", size, tuple(int(v) for v in rng.integers(150, 255, 3)))
    d = ImageDraw.Draw(im)
    w, h = size
    for _ in range(40):
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        x1, y1 = x0 + int(rng.integers(8, 50)), y0 + int(rng.integers(8, 50))
        colour = tuple(int(v) for v in rng.integers(0, 255, 3))
        kind = rng.integers(0, 3)
        if kind == 0:
            d.rectangle([x0, y0, x1, y1], fill=colour, outline=(0, 0, 0))
        elif kind == 1:
            d.ellipse([x0, y0, x1, y1], fill=colour)
        else:
            d.line([x0, y0, x1, y1], fill=colour, width=int(rng.integers(1, 4)))
    return im


def photo(products, positions, size=(640, 480), angle=0.0, scale=1.0, seed=0) -> tuple[Image.Image, list]:
    """Products pasted (scaled, rotated) on a mid-grey noisy table; returns the photo and their boxes."""
    rng = np.random.default_rng(seed)
    base = rng.normal(120, 6, (size[1], size[0], 3)).clip(0, 255).astype(np.uint8)
    im = Image.fromarray(base, "RGB")
    boxes = []
    for p, (x, y) in zip(products, positions):
        q = p.resize((int(p.width * scale), int(p.height * scale)), Image.Resampling.BICUBIC).convert("RGBA")
        q = q.rotate(angle, expand=True, resample=Image.Resampling.BICUBIC)
        im.paste(q, (x, y), q)
        boxes.append([x, y, x + q.width, y + q.height])
    return im, boxes
