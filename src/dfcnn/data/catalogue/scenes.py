"""Placing product cut-outs in photographs: backgrounds, pose changes, shadows, lighting.

A scene is fully described by its seed and the products in it; ``megapixels`` only sets how many
pixels it is rendered with, so the same scene can be rendered at 1-7 MP (SPEC §5, Fig. 8).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from dfcnn.data.catalogue.products import render_product
from dfcnn.data.catalogue.shading import smooth_noise
from dfcnn.data.catalogue.styles import InstanceStyle

ASPECT = 4 / 3


def canvas_size(megapixels: float) -> tuple[int, int]:
    """(width, height) of a 4:3 scene holding ``megapixels`` million pixels."""
    w = int(round(math.sqrt(megapixels * 1e6 * ASPECT)))
    return w, int(round(w / ASPECT))


# ---------------------------------------------------------------- backgrounds
def studio_background(rng, size) -> Image.Image:
    """A seamless paper sweep: soft vertical gradient and vignette (catalogue product shots)."""
    w, h = size
    tone = np.array(rng.choice([[242, 240, 236], [232, 236, 240], [240, 234, 226], [226, 226, 224]]), dtype=np.float64)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    yy /= h
    xx /= w
    g = 1.02 - 0.12 * yy - 0.18 * ((xx - 0.5) ** 2 + (yy - 0.45) ** 2)
    arr = tone[None, None] * g[..., None]
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def _wood(rng, w, h):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64) / h
    warp = smooth_noise(rng, (h, w), cells=6) * 3
    grain = 0.5 + 0.5 * np.sin((yy * rng.uniform(25, 45) + warp) * math.pi)
    base = np.array(rng.choice([[150, 100, 60], [110, 70, 40], [185, 140, 95], [90, 60, 45]]), dtype=np.float64)
    return base[None, None] * (0.78 + 0.25 * grain[..., None])


def _linen(rng, w, h):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64) / h
    f = rng.uniform(120, 220)
    weave = 0.5 + 0.25 * np.sin(xx * f * math.pi) + 0.25 * np.sin(yy * f * math.pi)
    base = np.array(rng.choice([[205, 195, 175], [170, 180, 190], [120, 135, 120], [190, 160, 150]]), dtype=np.float64)
    return base[None, None] * (0.85 + 0.15 * weave[..., None]) * (0.9 + 0.15 * smooth_noise(rng, (h, w), 5)[..., None])


def _marble(rng, w, h):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64) / h
    n = smooth_noise(rng, (h, w), cells=7) * 6
    veins = np.abs(np.sin((xx * 3 + yy * 2 + n) * math.pi)) ** 0.25
    base = np.array(rng.choice([[230, 228, 222], [60, 60, 64], [215, 205, 195]]), dtype=np.float64)
    return base[None, None] * (0.75 + 0.25 * veins[..., None])


MUTED = (
    (150, 60, 55), (60, 70, 110), (95, 110, 70), (180, 140, 70), (120, 120, 120), (70, 90, 95),
    (160, 120, 100), (110, 80, 110), (200, 190, 170), (40, 45, 50), (175, 170, 160), (130, 150, 165),
)


def _muted(rng, alpha=255):
    c = np.array(MUTED[int(rng.integers(0, len(MUTED)))], dtype=np.float64) * rng.uniform(0.85, 1.1)
    return tuple(int(v) for v in np.clip(c, 0, 255)) + (alpha,)


def clutter_background(rng, size) -> Image.Image:
    """A table-top: wood, linen or marble, strewn with everyday objects (books, cups, pens,
    leaves, papers) that are not catalogue products, in muted colours and mildly out of focus."""
    w, h = size
    sw, sh = max(64, w // 2), max(48, h // 2)  # drawn at half size: soft, and quick at 7 MP
    kind = rng.integers(0, 3)
    arr = (_wood, _linen, _marble)[kind](rng, sw, sh)
    im = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    d = ImageDraw.Draw(im, "RGBA")
    shadow = (0, 0, 0, 70)
    for _ in range(int(rng.integers(6, 13))):
        kind = rng.integers(0, 5)
        cx, cy = rng.uniform(-0.1, 1.1) * sw, rng.uniform(-0.1, 1.1) * sh
        s = rng.uniform(0.1, 0.3) * sh
        col = _muted(rng)
        so = max(1, s * 0.06)
        if kind == 0:  # book: rotated block, page edge and a title band
            a = rng.uniform(0, math.pi)
            dx, dy = math.cos(a), math.sin(a)
            bw, bh = s * rng.uniform(1.0, 1.5), s * rng.uniform(0.7, 1.0)

            def quad(ox, oy, fw, fh):
                return [(ox + dx * fw - dy * fh, oy + dy * fw + dx * fh), (ox - dx * fw - dy * fh, oy - dy * fw + dx * fh), (ox - dx * fw + dy * fh, oy - dy * fw - dx * fh), (ox + dx * fw + dy * fh, oy + dy * fw - dx * fh)]

            d.polygon(quad(cx + so, cy + so, bw, bh), fill=shadow)
            d.polygon(quad(cx, cy, bw, bh), fill=(235, 228, 210, 255))
            d.polygon(quad(cx - so * 0.6, cy - so * 0.6, bw * 0.97, bh * 0.97), fill=col)
            d.polygon(quad(cx - so * 0.6 + dx * bw * 0.6, cy - so * 0.6 + dy * bw * 0.6, bw * 0.08, bh * 0.97), fill=tuple(int(v * 0.7) for v in col[:3]) + (255,))
        elif kind == 1:  # cup or plate seen from above
            ceramic = (238, 235, 228, 255) if rng.random() < 0.6 else col
            d.ellipse([cx - s + so, cy - s + so, cx + s + so, cy + s + so], fill=shadow)
            d.ellipse([cx - s, cy - s, cx + s, cy + s], fill=ceramic)
            inner = tuple(int(v * 0.88) for v in ceramic[:3]) + (255,)
            d.ellipse([cx - s * 0.72, cy - s * 0.72, cx + s * 0.72, cy + s * 0.72], fill=inner)
            if rng.random() < 0.5:  # tea in the cup
                d.ellipse([cx - s * 0.55, cy - s * 0.55, cx + s * 0.55, cy + s * 0.55], fill=(150, 110, 50, 255))
        elif kind == 2:  # pen / chopsticks
            a = rng.uniform(0, math.pi)
            length = s * 2.5
            pc = (30, 30, 35, 255) if rng.random() < 0.5 else (190, 170, 130, 255)
            for off in ((0, 0),) if rng.random() < 0.5 else ((0, 0), (s * 0.12, s * 0.08)):
                p0 = (cx + off[0], cy + off[1])
                p1 = (p0[0] + math.cos(a) * length, p0[1] + math.sin(a) * length)
                d.line([(p0[0] + so, p0[1] + so), (p1[0] + so, p1[1] + so)], fill=shadow, width=max(1, int(s * 0.07)))
                d.line([p0, p1], fill=pc, width=max(1, int(s * 0.06)))
        elif kind == 3:  # leaf with a midrib
            a = rng.uniform(0, 2 * math.pi)
            leaf = Image.new("RGBA", (int(s * 2) + 2, int(s * 0.8) + 2))
            ld = ImageDraw.Draw(leaf)
            green = (70 + int(rng.integers(0, 40)), 95 + int(rng.integers(0, 40)), 60, 245)
            ld.ellipse([0, 0, int(s * 2), int(s * 0.8)], fill=green)
            ld.line([(0, s * 0.4), (s * 2, s * 0.4)], fill=(120, 140, 90, 255), width=max(1, int(s * 0.03)))
            leaf = leaf.rotate(math.degrees(a), expand=True)
            im.paste(leaf, (int(cx), int(cy)), leaf)
        else:  # sheet of paper with lines of text
            d.rectangle([cx - s + so, cy - s * 1.3 + so, cx + s + so, cy + s * 1.3 + so], fill=shadow)
            d.rectangle([cx - s, cy - s * 1.3, cx + s, cy + s * 1.3], fill=(244, 241, 232, 255))
            for k in range(7):
                yk = cy - s + k * s * 0.3
                d.line([(cx - s * 0.8, yk), (cx + s * rng.uniform(0.2, 0.8), yk)], fill=(110, 110, 110, 200), width=max(1, int(s * 0.035)))
    im = im.filter(ImageFilter.GaussianBlur(max(0.8, sh / 300)))
    return im.resize((w, h), Image.Resampling.BILINEAR)


# ---------------------------------------------------------------- pose and placement
def posed(product: Image.Image, rng, rotation: float, strength: float) -> Image.Image:
    """Geometric change of a cut-out: in-plane rotation, aspect (foreshortening) and shear."""
    w, h = product.size
    sx = 1 + rng.uniform(-0.12, 0.12) * strength
    shear = rng.uniform(-0.12, 0.12) * strength
    im = product.resize((max(1, int(w * sx)), h), Image.Resampling.BICUBIC)
    if abs(shear) > 1e-3:
        w2 = im.width + int(abs(shear) * h)
        off = -shear * h if shear > 0 else 0
        im = im.transform((w2, h), Image.Transform.AFFINE, (1, shear, off, 0, 1, 0), Image.Resampling.BICUBIC)
    if abs(rotation) > 0.1:
        im = im.rotate(rotation, resample=Image.Resampling.BICUBIC, expand=True)
    box = im.getchannel("A").getbbox()
    return im.crop(box) if box else im


def drop_shadow(scene: Image.Image, obj: Image.Image, xy, strength=0.45):
    """Soft contact shadow, offset away from the (top-left) light."""
    a = obj.getchannel("A")
    blur = max(1, int(max(obj.size) * 0.025))
    off = (xy[0] + blur, xy[1] + blur)
    shadow = Image.new("L", scene.size, 0)
    shadow.paste(a.point(lambda v: int(v * strength)), off)
    shadow = shadow.filter(ImageFilter.GaussianBlur(blur))
    dark = Image.new("RGB", scene.size, (20, 18, 16))
    scene.paste(dark, (0, 0), shadow)


def paste_product(scene: Image.Image, obj: Image.Image, xy) -> tuple[float, float, float, float]:
    """Composite a posed cut-out with its shadow; returns its visible box (x0, y0, x1, y1)."""
    drop_shadow(scene, obj, xy)
    scene.paste(obj, xy, obj)
    bx = obj.getchannel("A").point(lambda v: 255 if v > 40 else 0).getbbox() or (0, 0, obj.width, obj.height)
    x0, y0 = max(0, xy[0] + bx[0]), max(0, xy[1] + bx[1])
    x1, y1 = min(scene.width, xy[0] + bx[2]), min(scene.height, xy[1] + bx[3])
    return float(x0), float(y0), float(x1), float(y1)


def fit_height(style: InstanceStyle, target_h: int, max_w: int) -> Image.Image:
    """Render so that the cut-out fits ``target_h`` x ``max_w`` (wide fans are limited by width)."""
    im = render_product(style, target_h)
    if im.width > max_w:
        f = max_w / im.width
        im = im.resize((max(1, int(max_w)), max(1, round(im.height * f))), Image.Resampling.LANCZOS)
    return im


# ---------------------------------------------------------------- photometric change
def photometric(im: Image.Image, rng, strength: float) -> Image.Image:
    """Lighting and camera changes: exposure, contrast, saturation, colour cast, blur, noise."""
    im = ImageEnhance.Brightness(im).enhance(1 + rng.uniform(-0.22, 0.22) * strength)
    im = ImageEnhance.Contrast(im).enhance(1 + rng.uniform(-0.2, 0.2) * strength)
    im = ImageEnhance.Color(im).enhance(1 + rng.uniform(-0.25, 0.25) * strength)
    cast = 1 + rng.uniform(-0.07, 0.07, 3) * strength
    blur = rng.uniform(0, 1.0) * strength * max(im.size) / 800
    noise_sigma = rng.uniform(0, 5) * strength
    noise_seed = int(rng.integers(0, 2**31 - 1))
    arr = np.asarray(im, dtype=np.float32) * cast[None, None].astype(np.float32)
    if noise_sigma > 0.5:
        arr += np.random.default_rng(noise_seed).normal(0, noise_sigma, arr.shape).astype(np.float32)
    im = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    if blur > 0.4:
        im = im.filter(ImageFilter.GaussianBlur(blur))
    return im


# ---------------------------------------------------------------- the two scene kinds
def single_view(style: InstanceStyle, seed_seq, megapixels: float, studio: bool) -> tuple[Image.Image, tuple]:
    """One product; ``studio`` = the clean catalogue shot, else a cluttered, changed view."""
    rng = np.random.default_rng(seed_seq)
    w, h = canvas_size(megapixels)
    bg = studio_background(rng, (w, h)) if studio else clutter_background(rng, (w, h))
    strength = 0.25 if studio else 1.0
    scale = rng.uniform(0.7, 0.82) if studio else rng.uniform(0.5, 0.85)
    rotation = rng.uniform(-4, 4) if studio else rng.uniform(-25, 25)
    obj = fit_height(style, int(h * scale), int(w * 0.9))
    obj = posed(obj, rng, rotation, strength)
    if obj.width > w * 0.95 or obj.height > h * 0.95:
        f = min(w * 0.95 / obj.width, h * 0.95 / obj.height)
        obj = obj.resize((max(1, int(obj.width * f)), max(1, int(obj.height * f))), Image.Resampling.LANCZOS)
    cx = rng.uniform(0.45, 0.55) if studio else rng.uniform(0.3, 0.7)
    cy = rng.uniform(0.47, 0.53) if studio else rng.uniform(0.35, 0.65)
    x = int(np.clip(cx * w - obj.width / 2, 0, w - obj.width))
    y = int(np.clip(cy * h - obj.height / 2, 0, h - obj.height))
    box = paste_product(bg, obj, (x, y))
    return photometric(bg, rng, strength), box


def multi_scene(styles: list[InstanceStyle], seed_seq, megapixels: float) -> tuple[Image.Image, list]:
    """Three products side by side (slight overlap allowed) on a cluttered table."""
    rng = np.random.default_rng(seed_seq)
    w, h = canvas_size(megapixels)
    bg = clutter_background(rng, (w, h))
    order = rng.permutation(len(styles))
    slot_w = w / len(styles)
    boxes = [None] * len(styles)
    for slot, i in enumerate(order):
        obj = fit_height(styles[i], int(h * rng.uniform(0.38, 0.55)), int(slot_w * 0.95))
        obj = posed(obj, rng, rng.uniform(-20, 20), 0.8)
        if obj.width > slot_w * 0.98:
            f = slot_w * 0.98 / obj.width
            obj = obj.resize((max(1, int(obj.width * f)), max(1, int(obj.height * f))), Image.Resampling.LANCZOS)
        cx = (slot + 0.5 + rng.uniform(-0.1, 0.1)) * slot_w
        cy = rng.uniform(0.35, 0.65) * h
        x = int(np.clip(cx - obj.width / 2, 0, w - obj.width))
        y = int(np.clip(cy - obj.height / 2, 0, h - obj.height))
        boxes[i] = paste_product(bg, obj, (x, y))
    return photometric(bg, rng, 0.8), boxes
