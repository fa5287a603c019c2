"""Procedural seal-script-like characters and short captions, drawn without any font file.

Each glyph is a deterministic function of its seed: boxy horizontal / vertical strokes on a
small grid, which reads as carved characters on seals, lanterns and pendants.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

WORDS = (
    "PEONY", "LOTUS", "CRANE", "BAMBOO", "PLUM", "ORCHID", "MOON", "JADE", "SPRING", "AUTUMN",
    "DRAGON", "PHOENIX", "TEA", "SILK", "HARMONY", "CLOUD", "RIVER", "PINE", "BLOSSOM", "LANTERN",
    "FORTUNE", "WILLOW", "MOUNTAIN", "SNOW", "SUNRISE", "KOI", "MAGPIE", "CHRYSANTH",
)


def glyph_mask(seed: int, size: int, stroke: float = 0.1) -> Image.Image:
    """An ``L`` mask of one character: 255 on strokes, 0 elsewhere."""
    rng = np.random.default_rng(seed)
    scale = 4  # draw large, downsample: smooth edges
    s = size * scale
    im = Image.new("L", (s, s), 0)
    d = ImageDraw.Draw(im)
    grid = np.linspace(0.12, 0.88, 5) * s
    w = max(2, int(stroke * s))
    n = int(rng.integers(5, 9))
    # a frame-like radical (口) in some glyphs, placed in one quadrant
    if rng.random() < 0.5:
        c0, r0 = int(rng.integers(0, 2)), int(rng.integers(0, 2))
        x0, y0, x1, y1 = grid[c0 * 2], grid[r0 * 2], grid[c0 * 2 + 2], grid[r0 * 2 + 2]
        d.rectangle([x0, y0, x1, y1], outline=255, width=w)
        n -= 2
    for _ in range(max(n, 2)):
        if rng.random() < 0.55:  # horizontal stroke
            r = int(rng.integers(0, 5))
            c0 = int(rng.integers(0, 3))
            c1 = int(rng.integers(c0 + 2, 5))
            d.line([(grid[c0], grid[r]), (grid[c1], grid[r])], fill=255, width=w)
        else:  # vertical stroke, sometimes with a hooked end
            c = int(rng.integers(0, 5))
            r0 = int(rng.integers(0, 3))
            r1 = int(rng.integers(r0 + 2, 5))
            d.line([(grid[c], grid[r0]), (grid[c], grid[r1])], fill=255, width=w)
            if rng.random() < 0.3 and c > 0:
                d.line([(grid[c], grid[r1]), (grid[c - 1], grid[r1])], fill=255, width=w)
    # central vertical spine keeps the glyph connected
    if rng.random() < 0.6:
        d.line([(grid[2], grid[0]), (grid[2], grid[4])], fill=255, width=w)
    return im.resize((size, size), Image.Resampling.LANCZOS)


def glyph_block(seeds, size: int, cols: int, stroke: float = 0.1) -> Image.Image:
    """Several glyphs in a grid (column-major, as seal characters are read): ``L`` mask."""
    seeds = list(seeds)
    rows = int(np.ceil(len(seeds) / cols))
    cell = size // max(rows, cols)
    im = Image.new("L", (cell * cols, cell * rows), 0)
    for i, sd in enumerate(seeds):
        c, r = cols - 1 - i // rows, i % rows  # right-to-left columns
        im.paste(glyph_mask(sd, cell, stroke), (c * cell, r * cell))
    return im


def font(size: int) -> ImageFont.ImageFont:
    """Pillow's bundled font (no system font needed); falls back to the bitmap one."""
    try:
        return ImageFont.load_default(size=max(6, int(size)))
    except TypeError:  # Pillow without FreeType
        return ImageFont.load_default()


def text_mask(text: str, height: int) -> Image.Image:
    """An ``L`` mask of ``text`` in Pillow's bundled font, cropped to its ink, ``height`` px high."""
    f = font(height)
    box = f.getbbox(text)
    w, h = max(1, box[2] - box[0]), max(1, box[3] - box[1])
    im = Image.new("L", (w + 4, h + 4), 0)
    ImageDraw.Draw(im).text((2 - box[0], 2 - box[1]), text, fill=255, font=f)
    return im
