"""The seven product kinds of the catalogue, each rendered as an RGBA cut-out.

``render_product(style, height)`` draws one instance upright on a transparent canvas,
``height`` pixels tall. The drawing depends only on the instance style (its own random seed),
never on ``height``, so the same product renders alike at any pixel count.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from dfcnn.data.catalogue import motifs
from dfcnn.data.catalogue.glyphs import glyph_block, glyph_mask, text_mask
from dfcnn.data.catalogue.shading import emboss, lathe, relief, shade, smooth_noise, to_image
from dfcnn.data.catalogue.styles import InstanceStyle

MAX_DRAW = 1600  # products are drawn at most this tall, then resized (keeps 7 MP scenes quick)
MAX_DRAW_AREA = 2.2e6  # ... and with at most this many pixels (wide fans)
ASPECTS = {"vase": 0.6, "folding_fan": 1.9, "lantern": 0.75, "paper_cut": 1.0, "seal": 0.95, "bookmark": 0.36, "pendant": 0.62}


def _rgba(size, color=(0, 0, 0, 0)):
    return Image.new("RGBA", size, color)


def _mask_np(im: Image.Image) -> np.ndarray:
    return np.asarray(im.convert("L"), dtype=np.float64) / 255.0


def _profile(points, h: int, smooth: float = 0.03) -> np.ndarray:
    t, r = np.array(points, dtype=np.float64).T
    ys = np.linspace(0, 1, h)
    prof = np.interp(ys, t, r)
    k = max(1, int(smooth * h))
    kernel = np.exp(-0.5 * (np.arange(-3 * k, 3 * k + 1) / k) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(prof, 3 * k, mode="edge")
    return np.convolve(padded, kernel, mode="valid") * h


# ---------------------------------------------------------------- A: vase
VASE_SHAPES = {
    "meiping": [(0, 0.075), (0.05, 0.075), (0.07, 0.1), (0.12, 0.13), (0.2, 0.25), (0.32, 0.3), (0.55, 0.25), (0.85, 0.15), (0.97, 0.14), (1, 0.14)],
    "yuhuchun": [(0, 0.15), (0.04, 0.12), (0.18, 0.075), (0.34, 0.095), (0.55, 0.21), (0.74, 0.28), (0.88, 0.21), (0.95, 0.14), (1, 0.14)],
    "gourd": [(0, 0.06), (0.06, 0.065), (0.14, 0.14), (0.24, 0.16), (0.34, 0.1), (0.42, 0.1), (0.6, 0.25), (0.76, 0.28), (0.9, 0.2), (0.97, 0.15), (1, 0.15)],
    "baluster": [(0, 0.17), (0.05, 0.14), (0.15, 0.11), (0.25, 0.14), (0.42, 0.26), (0.62, 0.27), (0.82, 0.19), (0.93, 0.13), (0.97, 0.155), (1, 0.155)],
}
VASE_BANDS = {  # (neck band, main panel, foot band) as fractions of the height
    "meiping": ((0.08, 0.16), (0.24, 0.7), (0.76, 0.9)),
    "yuhuchun": ((0.04, 0.12), (0.4, 0.8), (0.84, 0.93)),
    "gourd": ((0.12, 0.22), (0.5, 0.84), (0.88, 0.95)),
    "baluster": ((0.12, 0.22), (0.3, 0.76), (0.8, 0.92)),
}


def vase(style: InstanceStyle, h: int, rng) -> Image.Image:
    base, primary, secondary, accent = style.palette
    pts = [(t, r * (1 + rng.uniform(-0.06, 0.06))) for t, r in VASE_SHAPES[style.shape]]
    prof = _profile(pts, h)
    w = int(2 * prof.max() + 4)
    tw, th = int(h * 1.3), h
    tex = _rgba((tw, th), base + (255,))
    neck, main, foot = VASE_BANDS[style.shape]
    motifs.lattice(tex, (0, int(neck[0] * th), tw, int(neck[1] * th)), rng, style.palette)
    motifs.MOTIFS.get(style.motif, motifs.floral)(tex, (0, int(main[0] * th), tw, int(main[1] * th)), rng, style.palette)
    motifs.lotus_petals(tex, (0, int(foot[0] * th), tw, int(foot[1] * th)), rng, style.palette)
    d = ImageDraw.Draw(tex)
    lw = max(1, th // 150)
    for y in (main[0] - 0.015, main[1] + 0.015):
        d.line([(0, y * th), (tw, y * th)], fill=accent, width=lw)
    # a cartouche with the instance's mark on the front of the main panel
    gs = int(th * 0.09)
    g = glyph_block(style.glyph_seeds[:2], gs, cols=1, stroke=0.12)
    gx, gy = tw // 2 - g.width // 2, int((main[0] + main[1]) / 2 * th - g.height / 2)
    d.rectangle([gx - lw * 3, gy - lw * 3, gx + g.width + lw * 3, gy + g.height + lw * 3], fill=base, outline=primary, width=lw)
    tex.paste(Image.new("RGBA", g.size, primary + (255,)), (gx, gy), g)
    rgba = lathe(prof, np.asarray(tex.convert("RGB")), w, gloss=0.45)
    im = to_image(rgba)
    # the mouth: a dark ellipse at the lip
    r0 = prof[2]
    d = ImageDraw.Draw(im)
    d.ellipse([w / 2 - r0 * 0.85, -r0 * 0.12, w / 2 + r0 * 0.85, r0 * 0.22], fill=tuple(int(c * 0.35) for c in base) + (255,))
    return im


# ---------------------------------------------------------------- B: folding fan
def folding_fan(style: InstanceStyle, h: int, rng) -> Image.Image:
    base, primary, secondary, accent = style.palette
    span = math.radians(150 if style.shape == "wide" else 120)
    w = int(h * (1.9 if style.shape == "wide" else 1.75))
    px, py = w / 2, h * 0.93
    big_r = min(w / 2 * 0.98, py * 0.98)
    r_in = big_r * 0.42
    th, tw = int(h * 0.6), int(w * 1.2)
    tex = _rgba((tw, th), base + (255,))
    motifs.MOTIFS.get(style.motif, motifs.mountains)(tex, (0, 0, tw, th), rng, style.palette)
    t = text_mask(style.word, max(8, int(th * 0.1)))
    tx = int(tw * rng.uniform(0.55, 0.7))
    tex.paste(Image.new("RGBA", t.size, primary + (255,)), (tx, int(th * 0.12)), t)
    g = glyph_mask(style.glyph_seeds[0], int(th * 0.13))
    tex.paste(Image.new("RGBA", g.size, (190, 35, 35, 255)), (tx + t.width + th // 30, int(th * 0.1)), g)
    texa = np.asarray(tex.convert("RGB"), dtype=np.float64)

    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = xs - px, py - ys
    rr = np.hypot(dx, dy)
    theta = np.arctan2(dy, dx)
    a0 = (math.pi - span) / 2
    u = np.clip((math.pi - a0 - theta) / span, 0, 1)  # 0 at the left guard
    v = np.clip((big_r - rr) / (big_r - r_in), 0, 1)
    n_pleats = int(rng.integers(14, 22))
    pos = u * n_pleats
    frac = pos - np.floor(pos)
    even = (np.floor(pos) % 2) == 0
    pleat = np.where(even, frac, 1 - frac)
    rgb = texa[(v * (th - 1)).astype(int), (u * (tw - 1)).astype(int)]
    nx = (pleat - 0.5) * 0.6 * np.cos(theta - math.pi / 2 + 0.0)
    nz = np.ones_like(nx)
    norm = np.sqrt(nx**2 + nz**2)
    rgb = shade(rgb, nx / norm, np.zeros_like(nx), nz / norm, ambient=0.55, diffuse=0.5)
    ang_ok = (theta >= a0) & (theta <= math.pi - a0)
    leaf = ang_ok & (rr >= r_in) & (rr <= big_r)
    alpha = leaf * np.clip(big_r - rr + 0.5, 0, 1)
    # bamboo sticks below the leaf, guard sticks along both edges
    wood = np.array([150, 105, 60], dtype=np.float64) * (0.8 + 0.2 * (accent[0] / 255))
    stick_w = 0.12
    sticks = ang_ok & (rr < r_in) & (rr > big_r * 0.05) & ((frac < stick_w) | (frac > 1 - stick_w)) & even
    guard_ang = 0.012
    guard = ((np.abs(theta - a0) < guard_ang * (1 + rr / big_r)) | (np.abs(theta - (math.pi - a0)) < guard_ang * (1 + rr / big_r))) & (rr < big_r * 1.01)
    stick_mask = sticks | guard
    rgb = np.where(stick_mask[..., None], wood * (0.75 + 0.25 * pleat)[..., None], rgb)
    alpha = np.maximum(alpha, stick_mask.astype(np.float64))
    # rim line along the outer edge
    rim = leaf & (rr > big_r * 0.975)
    rgb = np.where(rim[..., None], np.array(accent, dtype=np.float64) * 0.8, rgb)
    im = to_image(np.concatenate([rgb, 255 * alpha[..., None]], axis=-1))
    d = ImageDraw.Draw(im)
    pr = h * 0.025
    d.ellipse([px - pr, py - pr, px + pr, py + pr], fill=(200, 170, 90, 255), outline=(90, 60, 30, 255), width=max(1, h // 200))
    return im


# ---------------------------------------------------------------- C: lantern
def lantern(style: InstanceStyle, h: int, rng) -> Image.Image:
    base, primary, secondary, accent = style.palette
    gold = (222, 175, 60)
    big = 0.36 if style.shape == "round" else 0.27
    top, bottom = 0.12, 0.74
    w = int(2 * big * h) + 4
    ys = np.linspace(0, 1, h)
    tt = (ys - top) / (bottom - top)
    body = np.where((tt > 0) & (tt < 1), big * h * np.clip(1 - (2 * tt - 1) ** 2, 0, 1) ** 0.55, 0.0)
    body = np.maximum(body, np.where((tt > -0.01) & (tt < 1.01), 0.42 * big * h, 0))
    th, tw = h, int(h * 1.2)
    tex = _rgba((tw, th), base + (255,))
    d = ImageDraw.Draw(tex)
    ribs = int(rng.integers(10, 16))
    lw = max(1, tw // 250)
    for k in range(ribs + 1):
        x = k * tw / ribs
        d.line([(x, 0), (x, th)], fill=tuple(int(c * 0.6) for c in base), width=lw)
    band = (int((top + 0.06) * th), int((top + 0.12) * th))
    motifs.MOTIFS.get(style.motif, motifs.clouds)(tex, (0, band[0], tw, band[1]), rng, (base, gold, gold, gold))
    band2 = (int((bottom - 0.12) * th), int((bottom - 0.06) * th))
    motifs.lattice(tex, (0, band2[0], tw, band2[1]), rng, (base, gold, gold, gold))
    # medallion with the character on the front
    cx, cy, mr = tw / 2, (top + bottom) / 2 * th, 0.12 * th
    d.ellipse([cx - mr, cy - mr * 1.1, cx + mr, cy + mr * 1.1], fill=primary if primary != base else gold, outline=gold, width=lw * 3)
    g = glyph_mask(style.glyph_seeds[0], int(mr * 1.3), stroke=0.13)
    ink = (150, 20, 20) if sum(primary) > 450 else gold
    tex.paste(Image.new("RGBA", g.size, ink + (255,)), (int(cx - g.width / 2), int(cy - g.height / 2)), g)
    rgba = lathe(body, np.asarray(tex.convert("RGB")), w, gloss=0.15, ambient=0.62)
    # warm inner glow
    rgba[..., :3] = np.clip(rgba[..., :3] * 1.08 + 10, 0, 255)
    # gold caps
    cap_prof = np.zeros(h)
    for a, b in ((top - 0.045, top + 0.005), (bottom - 0.005, bottom + 0.045)):
        cap_prof[int(a * h) : int(b * h)] = 0.5 * big * h
    cap_tex = np.full((8, 8, 3), gold, dtype=np.uint8)
    caps = lathe(cap_prof, cap_tex, w, gloss=0.6)
    sel = caps[..., 3:] > 0
    rgba = np.where(sel, caps, rgba)
    im = to_image(rgba)
    d = ImageDraw.Draw(im)
    cxw = w / 2
    lw2 = max(1, h // 120)
    d.arc([cxw - h * 0.05, 0, cxw + h * 0.05, (top - 0.04) * h * 2], 180, 360, fill=gold + (255,), width=lw2)
    d.line([(cxw, (top - 0.045) * h), (cxw, (top - 0.1) * h)], fill=gold + (255,), width=lw2)
    # tassel
    t0 = (bottom + 0.045) * h
    d.line([(cxw, t0), (cxw, t0 + 0.05 * h)], fill=gold + (255,), width=lw2 * 2)
    d.ellipse([cxw - 0.02 * h, t0 + 0.04 * h, cxw + 0.02 * h, t0 + 0.08 * h], fill=gold + (255,))
    tas = (200, 30, 30, 255) if base[0] < 180 or base[1] > 100 else (240, 190, 60, 255)
    for k in range(-8, 9):
        d.line([(cxw + k * 0.002 * h, t0 + 0.075 * h), (cxw + k * 0.006 * h, h - 2)], fill=tas, width=max(1, h // 300))
    return im


# ---------------------------------------------------------------- D: paper-cut
def paper_cut(style: InstanceStyle, h: int, rng) -> Image.Image:
    base = style.palette[0]
    n = int(h)
    ys, xs = np.mgrid[0:n, 0:n].astype(np.float64)
    c = (n - 1) / 2
    x, y = (xs - c) / n, (ys - c) / n  # -0.5 .. 0.5
    r = np.hypot(x, y)
    ang = np.arctan2(y, x)
    folds = int(rng.choice([6, 8, 10]))
    wedge = 2 * math.pi / folds
    a = np.mod(ang, wedge)
    a = np.where(a > wedge / 2, wedge - a, a)  # mirror: paper folded then cut
    fx, fy = r * np.cos(a), r * np.sin(a)
    px = 1.0 / n
    if style.shape == "circle":
        outer = 0.47 - r
    elif style.shape == "square":
        outer = 0.45 - np.maximum(np.abs(x), np.abs(y))
    else:  # flower outline with scalloped edge
        outer = 0.43 + 0.04 * np.cos(ang * folds) - r
    paper = np.clip(outer / px + 0.5, 0, 1)
    holes = np.zeros_like(r)

    def cut(dist):  # dist < 0 inside a hole
        nonlocal holes
        holes = np.maximum(holes, np.clip(-dist / px + 0.5, 0, 1))

    border = 0.035
    kind = style.motif
    # rings of motifs between centre and border
    rings = [0.09, 0.2, 0.31]
    for ri, rad in enumerate(rings):
        choice = kind if ri == 1 else ["petals", "rings", "stars", "crescents"][int(rng.integers(0, 4))]
        ang_c = wedge / 4 if ri % 2 else 0.0
        cx_, cy_ = rad * math.cos(ang_c), rad * math.sin(ang_c)
        size = 0.035 + 0.02 * rng.random()
        if choice == "petals":  # elongated petal pointing outward
            ca, sa = math.cos(ang_c), math.sin(ang_c)
            u_ = (fx - cx_) * ca + (fy - cy_) * sa
            v_ = -(fx - cx_) * sa + (fy - cy_) * ca
            cut(np.sqrt((u_ / (size * 1.6)) ** 2 + (v_ / (size * 0.6)) ** 2) - 1.0)
        elif choice == "rings":
            d0 = np.hypot(fx - cx_, fy - cy_)
            cut(np.abs(d0 - size * 0.8) - size * 0.22)
        elif choice == "stars":  # diamond
            cut((np.abs(fx - cx_) + np.abs(fy - cy_)) - size)
        else:  # crescent: circle minus offset circle
            d0 = np.hypot(fx - cx_, fy - cy_) - size
            d1 = np.hypot(fx - cx_ - size * 0.5, fy - cy_) - size * 0.85
            cut(np.maximum(d0, -d1))
    # small teardrops near the border and a centre rosette
    cut(np.hypot(fx - 0.395, fy) - 0.012)
    cut(np.hypot(fx, fy) - 0.03)
    lim = 0.47 if style.shape == "circle" else 0.43
    keep_border = r > lim - border - 0.02
    holes = np.where(keep_border & (style.shape != "square"), 0, holes)
    if style.shape == "square":
        holes = np.where(np.maximum(np.abs(x), np.abs(y)) > 0.45 - border, 0, holes)
    alpha = paper * (1 - holes)
    grain = 0.93 + 0.07 * smooth_noise(rng, (n, n), cells=32)
    rgb = np.array(base, dtype=np.float64)[None, None, :] * grain[..., None]
    return to_image(np.concatenate([rgb, 255 * alpha[..., None]], axis=-1))


# ---------------------------------------------------------------- E: seal
def seal(style: InstanceStyle, h: int, rng) -> Image.Image:
    base, primary, secondary, accent = style.palette
    w = int(h * 0.95)
    im = _rgba((w, h))
    # paper card with the red impression, lying behind
    card = _rgba((int(w * 0.62), int(h * 0.5)), (246, 240, 226, 255))
    cd = ImageDraw.Draw(card)
    s = int(card.height * 0.62)
    ox, oy = (card.width - s) // 2, int(card.height * 0.12)
    red = (190, 30, 30)
    relief_white = style.index % 2 == 0
    block = glyph_block(style.glyph_seeds, int(s * 0.86), cols=2, stroke=0.13)
    if relief_white:  # white characters cut into a red square
        cd.rectangle([ox, oy, ox + s, oy + s], fill=red + (255,))
        card.paste(Image.new("RGBA", block.size, (246, 240, 226, 255)), (ox + (s - block.width) // 2, oy + (s - block.height) // 2), block)
    else:  # red characters with a red frame
        cd.rectangle([ox, oy, ox + s, oy + s], outline=red + (255,), width=max(2, s // 18))
        card.paste(Image.new("RGBA", block.size, red + (255,)), (ox + (s - block.width) // 2, oy + (s - block.height) // 2), block)
    t = text_mask(style.word, max(6, int(card.height * 0.09)))
    card.paste(Image.new("RGBA", t.size, (60, 50, 45, 255)), ((card.width - t.width) // 2, int(card.height * 0.82)), t)
    card = card.rotate(rng.uniform(-8, -3), resample=Image.Resampling.BICUBIC, expand=True)
    im.alpha_composite(card, (0, int(h * 0.45)))
    # the stone: square column with a carved knob
    sw, sh = int(w * 0.34), int(h * 0.52)
    sx, sy = int(w * 0.58), int(h * 0.4)
    mask = _rgba((w, h))
    md = ImageDraw.Draw(mask)
    md.rounded_rectangle([sx, sy, sx + sw, sy + sh], radius=sw // 10, fill=(255, 255, 255, 255))
    kh = int(h * 0.3)
    if style.shape == "beast":  # crouching beast: body, head, ears
        md.ellipse([sx + sw * 0.05, sy - kh * 0.55, sx + sw * 0.95, sy + kh * 0.2], fill=(255,) * 4)
        md.ellipse([sx + sw * 0.5, sy - kh * 0.95, sx + sw * 1.0, sy - kh * 0.3], fill=(255,) * 4)
        md.ellipse([sx + sw * 0.55, sy - kh * 1.05, sx + sw * 0.7, sy - kh * 0.8], fill=(255,) * 4)
        md.ellipse([sx + sw * 0.8, sy - kh * 1.05, sx + sw * 0.95, sy - kh * 0.8], fill=(255,) * 4)
    elif style.shape == "dome":
        md.ellipse([sx, sy - kh * 0.7, sx + sw, sy + kh * 0.5], fill=(255,) * 4)
    else:  # flat top with a rounded cap
        md.rounded_rectangle([sx - sw * 0.03, sy - kh * 0.2, sx + sw * 1.03, sy + kh * 0.1], radius=sw // 8, fill=(255,) * 4)
    m = _mask_np(mask.split()[3])
    noise = smooth_noise(rng, (h, w), cells=10)
    col = np.array(base, dtype=np.float64)[None, None] * (0.8 + 0.35 * noise[..., None])
    if style.motif == "veins":
        yy, xx = np.mgrid[0:h, 0:w] / h
        veins = np.abs(np.sin((xx * 9 + yy * 4 + 3 * smooth_noise(rng, (h, w), cells=6)) * math.pi))
        col = col * (0.75 + 0.25 * veins[..., None] ** 0.3) + np.array(primary)[None, None] * (1 - veins[..., None] ** 0.15) * 0.5
    rgb = relief(m, col, softness=sw * 0.12, gloss=0.45, strength=1.2)
    stone = to_image(np.concatenate([rgb, 255 * m[..., None]], axis=-1))
    im.alpha_composite(stone)
    return im


# ---------------------------------------------------------------- F: bookmark
def bookmark(style: InstanceStyle, h: int, rng) -> Image.Image:
    base, primary, secondary, accent = style.palette
    w = int(h * 0.36)
    im = _rgba((w, h))
    top = int(h * 0.16)
    card_mask = Image.new("L", (w, h), 0)
    md = ImageDraw.Draw(card_mask)
    x0, x1 = int(w * 0.06), int(w * 0.94)
    if style.shape == "arched":
        md.rectangle([x0, top + (x1 - x0) // 2, x1, h - 2], fill=255)
        md.ellipse([x0, top, x1, top + (x1 - x0)], fill=255)
    else:
        md.rounded_rectangle([x0, top, x1, h - 2], radius=int(w * 0.07), fill=255)
    paint = _rgba((w, h), base + (255,))
    inner = (int(w * 0.14), top + int(h * 0.06), int(w * 0.86), h - int(h * 0.05))
    motifs.MOTIFS.get(style.motif, motifs.bamboo)(paint, inner, rng, style.palette)
    pd = ImageDraw.Draw(paint)
    lw = max(1, w // 60)
    pd.rectangle(inner, outline=accent, width=lw)
    # vertical caption: the English word rotated, plus two characters and a red seal
    t = text_mask(style.word, max(6, int(w * 0.12))).rotate(90, expand=True)
    tx = inner[0] + lw * 3
    paint.paste(Image.new("RGBA", t.size, primary + (255,)), (tx, inner[1] + lw * 4), t)
    g = glyph_block(style.glyph_seeds[:2], int(w * 0.16), cols=1, stroke=0.12)
    paint.paste(Image.new("RGBA", g.size, primary + (255,)), (inner[2] - g.width - lw * 3, inner[1] + lw * 4), g)
    ss = int(w * 0.12)
    sy = inner[3] - ss - lw * 4
    pd.rectangle([inner[2] - ss - lw * 3, sy, inner[2] - lw * 3, sy + ss], fill=(185, 35, 35))
    gm = glyph_mask(style.glyph_seeds[3], int(ss * 0.8))
    paint.paste(Image.new("RGBA", gm.size, (245, 235, 215, 255)), (inner[2] - ss - lw * 3 + ss // 10, sy + ss // 10), gm)
    arr = np.asarray(paint, dtype=np.float64)
    m = _mask_np(card_mask)
    rgb = relief(m, arr[..., :3], softness=w * 0.02, gloss=0.1, strength=0.6, ambient=0.6)
    card = to_image(np.concatenate([rgb, 255 * m[..., None]], axis=-1))
    im.alpha_composite(card)
    d = ImageDraw.Draw(im)
    hx, hy, hr = w // 2, top + int(h * 0.035), max(2, int(w * 0.04))
    d.ellipse([hx - hr, hy - hr, hx + hr, hy + hr], fill=(0, 0, 0, 0))
    cord = (200, 40, 40, 255) if base[0] < 200 or base[2] > 150 else (60, 100, 160, 255)
    clw = max(1, w // 45)
    d.line([(hx, hy), (hx, int(h * 0.06))], fill=cord, width=clw)
    d.ellipse([hx - clw * 2, int(h * 0.05) - clw * 2, hx + clw * 2, int(h * 0.05) + clw * 2], fill=cord)
    for k in range(-6, 7):
        d.line([(hx, int(h * 0.05)), (hx + k * w * 0.02, 2)], fill=cord, width=max(1, clw // 2))
    return im


# ---------------------------------------------------------------- G: pendant
def _knot(d, cx, y0, y1, color, lw):
    """A Chinese knot: a diamond of woven loops with side ears."""
    s = (y1 - y0) / 2
    cy = (y0 + y1) / 2
    for k in range(-2, 3):
        o = k * s / 3
        d.line([(cx - s + abs(o) + o, cy + o - abs(o) * 0), (cx + o, cy - s + abs(o))], fill=color, width=lw)
    d.polygon([(cx, cy - s), (cx + s, cy), (cx, cy + s), (cx - s, cy)], outline=color, width=lw * 2)
    for k in (-0.5, 0, 0.5):
        d.line([(cx - s / 2 + k * s, cy - s / 2 - k * s * 0 + abs(k) * s), (cx + s / 2 + k * s, cy + s / 2 - abs(k) * s)], fill=color, width=lw)
        d.line([(cx + s / 2 + k * s, cy - s / 2 + abs(k) * s), (cx - s / 2 + k * s, cy + s / 2 - abs(k) * s)], fill=color, width=lw)
    for side in (-1, 1):
        ex = cx + side * s * 1.25
        d.ellipse([ex - s * 0.3, cy - s * 0.3, ex + s * 0.3, cy + s * 0.3], outline=color, width=lw)


def pendant(style: InstanceStyle, h: int, rng) -> Image.Image:
    base, primary, secondary, accent = style.palette
    w = int(h * 0.62)
    im = _rgba((w, h))
    d = ImageDraw.Draw(im)
    cord = (190, 30, 35, 255)
    lw = max(1, h // 200)
    cx = w / 2
    d.line([(cx - w * 0.04, 0), (cx, h * 0.1)], fill=cord, width=lw * 2)
    d.line([(cx + w * 0.04, 0), (cx, h * 0.1)], fill=cord, width=lw * 2)
    _knot(d, cx, h * 0.1, h * 0.24, cord, lw)
    d.line([(cx, h * 0.24), (cx, h * 0.33)], fill=cord, width=lw * 2)
    # jade body
    body = Image.new("L", (w, h), 0)
    bd = ImageDraw.Draw(body)
    cy, rad = h * 0.53, w * 0.42
    if style.shape == "bi":
        bd.ellipse([cx - rad, cy - rad, cx + rad, cy + rad], fill=255)
        bd.ellipse([cx - rad * 0.33, cy - rad * 0.33, cx + rad * 0.33, cy + rad * 0.33], fill=0)
    elif style.shape == "plaque":
        bd.rounded_rectangle([cx - rad * 0.75, cy - rad * 1.05, cx + rad * 0.75, cy + rad * 1.05], radius=int(rad * 0.25), fill=255)
    else:  # longevity lock: wide body with two upper lobes
        bd.ellipse([cx - rad, cy - rad * 0.55, cx + rad, cy + rad * 0.75], fill=255)
        bd.ellipse([cx - rad * 0.95, cy - rad * 0.85, cx - rad * 0.05, cy - rad * 0.05], fill=255)
        bd.ellipse([cx + rad * 0.05, cy - rad * 0.85, cx + rad * 0.95, cy - rad * 0.05], fill=255)
    m = _mask_np(body)
    carve = Image.new("L", (w, h), 0)
    cd = ImageDraw.Draw(carve)
    if style.motif == "grain":
        for ring, count in ((0.55, 18), (0.75, 26), (0.92, 34)):
            for k in range(count):
                a = 2 * math.pi * k / count
                px, py = cx + math.cos(a) * rad * ring * 0.9, cy + math.sin(a) * rad * ring * 0.9
                rr = rad * 0.035
                cd.ellipse([px - rr, py - rr, px + rr, py + rr], outline=255, width=max(1, lw))
    elif style.motif in ("clouds", "waves"):
        cimg = Image.new("RGB", (w, h), (0, 0, 0))
        getattr(motifs, style.motif)(cimg, (int(cx - rad), int(cy - rad), int(cx + rad), int(cy + rad)), rng, ((0, 0, 0), (255, 255, 255), (255, 255, 255), (255, 255, 255)))
        carve = cimg.convert("L")
    if style.shape != "bi" or style.motif == "plain":
        gs = int(rad * 0.8)
        g = glyph_mask(style.glyph_seeds[0], gs, stroke=0.14)
        bg = Image.new("L", (w, h), 0)
        bg.paste(g, (int(cx - gs / 2), int(cy - gs / 2)))
        if style.shape != "bi":
            carve = Image.fromarray(np.where(np.asarray(bg) > 0, 255, (np.asarray(carve) * (np.asarray(bg) == 0) * 0.0)).astype(np.uint8))
        else:
            carve = bg
    cm = np.asarray(carve.filter(ImageFilter.GaussianBlur(max(0.5, lw * 0.6))), dtype=np.float64) / 255.0 * m
    noise = smooth_noise(rng, (h, w), cells=9)
    col = np.array(base, dtype=np.float64)[None, None] * (0.78 + 0.38 * noise[..., None])
    col = col * (1 - 0.35 * cm[..., None])
    rgb = relief(m, col, softness=rad * 0.18, gloss=0.55, strength=1.4)
    rgb = np.clip(rgb + 60 * emboss(cm, max(1, lw))[..., None], 0, 255)
    jade = to_image(np.concatenate([rgb, 255 * m[..., None]], axis=-1))
    im.alpha_composite(jade)
    d = ImageDraw.Draw(im)
    bottom = cy + rad * (1.05 if style.shape == "plaque" else 0.78 if style.shape == "lock" else 1.0)
    d.line([(cx, bottom - lw * 2), (cx, bottom + h * 0.05)], fill=cord, width=lw * 2)
    br = h * 0.018
    by = bottom + h * 0.05
    d.ellipse([cx - br, by - br, cx + br, by + br], fill=(230, 190, 70, 255))
    for k in range(-7, 8):
        d.line([(cx, by + br), (cx + k * w * 0.008, min(h - 2, by + h * 0.16))], fill=cord, width=max(1, lw))
    return im


RENDERERS = {
    "vase": vase,
    "folding_fan": folding_fan,
    "lantern": lantern,
    "paper_cut": paper_cut,
    "seal": seal,
    "bookmark": bookmark,
    "pendant": pendant,
}


def render_product(style: InstanceStyle, height: int) -> Image.Image:
    """An RGBA cut-out of ``style``, ``height`` px tall (cropped to its alpha)."""
    draw_h = int(min(max(height, 64), MAX_DRAW, math.sqrt(MAX_DRAW_AREA / ASPECTS[style.kind])))
    rng = np.random.default_rng(style.seed)
    im = RENDERERS[style.kind](style, draw_h, rng)
    box = im.getchannel("A").getbbox()
    if box:
        im = im.crop(box)
    scale = height / im.height
    if abs(scale - 1) > 1e-3:
        im = im.resize((max(1, round(im.width * scale)), max(1, round(height))), Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BICUBIC)
    return im
