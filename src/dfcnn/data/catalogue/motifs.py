"""Decorative motifs painted on product surfaces (textures before they are wrapped on a shape).

Every function draws inside ``box`` of a Pillow image using only relative coordinates and the
given random generator, so a motif looks the same at any resolution for the same seed.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import ImageDraw


def _lw(box, frac: float) -> int:
    return max(1, int(round(min(box[2] - box[0], box[3] - box[1]) * frac)))


def floral(im, box, rng, colors):
    """Peony-like blossoms with leaves, scattered over the box."""
    d = ImageDraw.Draw(im)
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    n = int(rng.integers(3, 6))
    for _ in range(n):
        cx, cy = x0 + w * rng.uniform(0.1, 0.9), y0 + h * rng.uniform(0.15, 0.85)
        r = min(w, h) * rng.uniform(0.12, 0.2)
        for k in range(2):  # two leaves
            a = rng.uniform(0, 2 * math.pi)
            lx, ly = cx + math.cos(a) * r * 1.3, cy + math.sin(a) * r * 1.3
            d.ellipse([lx - r * 0.7, ly - r * 0.35, lx + r * 0.7, ly + r * 0.35], fill=colors[2])
        petals = int(rng.integers(5, 9))
        rot = rng.uniform(0, 2 * math.pi)
        for p in range(petals):
            a = rot + 2 * math.pi * p / petals
            px, py = cx + math.cos(a) * r * 0.55, cy + math.sin(a) * r * 0.55
            d.ellipse([px - r * 0.5, py - r * 0.5, px + r * 0.5, py + r * 0.5], fill=colors[1], outline=colors[3], width=_lw(box, 0.006))
        d.ellipse([cx - r * 0.3, cy - r * 0.3, cx + r * 0.3, cy + r * 0.3], fill=colors[3])


def waves(im, box, rng, colors):
    """Seigaiha: overlapping rows of concentric arcs."""
    d = ImageDraw.Draw(im)
    x0, y0, x1, y1 = box
    r = (x1 - x0) / rng.uniform(5, 9)
    lw = max(1, int(r * 0.09))
    row = 0
    y = y1 + r
    while y > y0 - r:
        off = (row % 2) * r
        x = x0 - r + off
        while x < x1 + r:
            for k, frac in enumerate((1.0, 0.72, 0.46, 0.22)):
                rr = r * frac
                d.ellipse([x - rr, y - rr, x + rr, y + rr], fill=colors[0] if k % 2 == 0 else colors[0], outline=colors[1], width=lw)
            x += 2 * r
        y -= r * 0.5
        row += 1


def clouds(im, box, rng, colors):
    """Auspicious clouds: clusters of spirals."""
    d = ImageDraw.Draw(im)
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    lw = _lw(box, 0.012)
    for _ in range(int(rng.integers(3, 6))):
        cx, cy = x0 + w * rng.uniform(0.1, 0.9), y0 + h * rng.uniform(0.2, 0.8)
        r = min(w, h) * rng.uniform(0.08, 0.14)
        for k in (-1, 0, 1):
            sx = cx + k * r * 1.4
            for frac in (1.0, 0.6, 0.25):
                rr = r * frac
                d.arc([sx - rr, cy - rr, sx + rr, cy + rr], 180, 360 + 90, fill=colors[1], width=lw)
        d.line([(cx - r * 2.6, cy + r), (cx + r * 2.6, cy + r)], fill=colors[1], width=lw)


def lattice(im, box, rng, colors):
    """Meander (fret) key pattern in a band, or a diagonal lattice."""
    d = ImageDraw.Draw(im)
    x0, y0, x1, y1 = box
    h = y1 - y0
    lw = max(1, int(h * 0.08))
    if rng.random() < 0.5:
        s = h * 0.8
        x = x0
        ym = y0 + h * 0.1
        while x < x1:
            pts = [(x, ym + s), (x, ym), (x + s, ym), (x + s, ym + s * 0.65), (x + s * 0.35, ym + s * 0.65), (x + s * 0.35, ym + s * 0.35)]
            d.line(pts, fill=colors[1], width=lw, joint="curve")
            d.line([(x, ym + s), (x + s * 1.3, ym + s)], fill=colors[1], width=lw)
            x += s * 1.3
    else:
        step = h * 0.7
        x = x0 - h
        while x < x1 + h:
            d.line([(x, y0), (x + h, y1)], fill=colors[1], width=lw)
            d.line([(x + h, y0), (x, y1)], fill=colors[1], width=lw)
            x += step
    d.line([(x0, y0 + lw // 2), (x1, y0 + lw // 2)], fill=colors[3], width=lw)
    d.line([(x0, y1 - lw // 2), (x1, y1 - lw // 2)], fill=colors[3], width=lw)


def dots(im, box, rng, colors):
    """Staggered polka dots with rings."""
    d = ImageDraw.Draw(im)
    x0, y0, x1, y1 = box
    step = (x1 - x0) / rng.uniform(6, 10)
    r = step * rng.uniform(0.18, 0.3)
    row = 0
    y = y0 + step / 2
    while y < y1:
        x = x0 + step / 2 + (row % 2) * step / 2
        while x < x1:
            d.ellipse([x - r, y - r, x + r, y + r], fill=colors[1])
            d.ellipse([x - r * 0.45, y - r * 0.45, x + r * 0.45, y + r * 0.45], fill=colors[3])
            x += step
        y += step * 0.8
        row += 1


def mountains(im, box, rng, colors):
    """Layered ink-wash ridges with a sun disc."""
    d = ImageDraw.Draw(im)
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    sx, sy = x0 + w * rng.uniform(0.15, 0.85), y0 + h * rng.uniform(0.15, 0.35)
    sr = min(w, h) * 0.09
    d.ellipse([sx - sr, sy - sr, sx + sr, sy + sr], fill=colors[3])
    for layer in range(3):
        base = y0 + h * (0.55 + 0.15 * layer)
        n = 9
        xs = np.linspace(x0, x1, n)
        ys = base - h * rng.uniform(0.05, 0.35, n) * (1 - 0.25 * layer)
        pts = [(x0, y1)] + list(zip(xs.tolist(), ys.tolist())) + [(x1, y1)]
        col = tuple(int(c * (1 - 0.18 * layer) + 255 * 0.0) for c in colors[1]) if layer else colors[2]
        d.polygon(pts, fill=col)


def bamboo(im, box, rng, colors):
    """Bamboo stalks with nodes and leaves."""
    d = ImageDraw.Draw(im)
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    for _ in range(int(rng.integers(2, 4))):
        x = x0 + w * rng.uniform(0.15, 0.85)
        sw = max(2, int(w * rng.uniform(0.04, 0.06)))
        d.line([(x, y0), (x, y1)], fill=colors[1], width=sw)
        y = y0 + h * rng.uniform(0.05, 0.2)
        while y < y1:
            d.line([(x - sw, y), (x + sw, y)], fill=colors[2], width=max(1, sw // 3))
            if rng.random() < 0.6:
                side = 1 if rng.random() < 0.5 else -1
                for k in range(3):
                    a = math.radians(20 + 25 * k) * side
                    lx, ly = x + side * w * 0.12 * math.cos(a - side * 0.3), y + h * 0.05 * (k - 1)
                    d.polygon([(x, y), (lx, ly - sw), (lx + side * w * 0.06, ly + sw * 0.5)], fill=colors[1])
            y += h * rng.uniform(0.12, 0.2)


def plum(im, box, rng, colors):
    """A plum branch with five-petal blossoms."""
    d = ImageDraw.Draw(im)
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    lw = _lw(box, 0.025)
    x, y = x0, y0 + h * rng.uniform(0.5, 0.9)
    pts = [(x, y)]
    for _ in range(6):
        x += w * rng.uniform(0.12, 0.22)
        y -= h * rng.uniform(-0.05, 0.15)
        pts.append((x, y))
    d.line(pts, fill=colors[2], width=lw, joint="curve")
    for px, py in pts[1:]:
        r = min(w, h) * rng.uniform(0.04, 0.07)
        for p in range(5):
            a = 2 * math.pi * p / 5
            qx, qy = px + math.cos(a) * r * 0.7, py + math.sin(a) * r * 0.7
            d.ellipse([qx - r * 0.55, qy - r * 0.55, qx + r * 0.55, qy + r * 0.55], fill=colors[1])
        d.ellipse([px - r * 0.3, py - r * 0.3, px + r * 0.3, py + r * 0.3], fill=colors[3])


def lotus_petals(im, box, rng, colors):
    """A band of upright lotus-petal panels (vase feet and shoulders)."""
    d = ImageDraw.Draw(im)
    x0, y0, x1, y1 = box
    n = int(rng.integers(8, 14))
    pw = (x1 - x0) / n
    lw = max(1, int(pw * 0.08))
    for i in range(n):
        px = x0 + i * pw
        d.polygon([(px + pw * 0.08, y1), (px + pw * 0.5, y0 + (y1 - y0) * 0.05), (px + pw * 0.92, y1)], outline=colors[1], fill=colors[0], width=lw)
        d.line([(px + pw * 0.5, y1), (px + pw * 0.5, y0 + (y1 - y0) * 0.35)], fill=colors[1], width=lw)


MOTIFS = {
    "floral": floral,
    "waves": waves,
    "clouds": clouds,
    "dots": dots,
    "mountains": mountains,
    "bamboo": bamboo,
    "plum": plum,
}
BANDS = {"lattice": lattice, "lotus": lotus_petals}
