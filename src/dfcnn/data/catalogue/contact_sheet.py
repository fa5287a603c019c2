"""A contact sheet of the catalogue: one row per field, then the three-object scenes, so a
person can check at a glance that the objects read as products."""

from __future__ import annotations

import os
from collections import defaultdict

from PIL import Image, ImageDraw

from dfcnn.data.catalogue.glyphs import font


def contact_sheet(records, out_path: str, thumb: int = 220, per_row: int = 8, draw_boxes: bool = True) -> str:
    """Write a PNG of thumbnails (boxes drawn, instance ids written) and return its path."""
    rows = defaultdict(list)
    for r in records:
        key = "scenes" if r.extra.get("scene") == "multi" else r.label
        rows[key].append(r)
    order = sorted(k for k in rows if k != "scenes") + (["scenes"] if "scenes" in rows else [])
    th = int(thumb * 0.75)
    label_w = 120
    grid = []
    for key in order:
        items = sorted(rows[key], key=lambda r: (not r.extra.get("studio", False), r.instance_id or "", r.extra.get("view", 0)))
        if key != "scenes":  # studio shots first, then one changed view per instance
            studio = [r for r in items if r.extra.get("studio")]
            views = [r for r in items if not r.extra.get("studio")]
            seen, firsts = set(), []
            for r in views:
                if r.instance_id not in seen:
                    seen.add(r.instance_id)
                    firsts.append(r)
            items = studio + firsts
        for start in range(0, len(items), per_row):
            grid.append((key if start == 0 else "", items[start : start + per_row]))
    sheet = Image.new("RGB", (label_w + per_row * (thumb + 6), len(grid) * (th + 24) + 10), (250, 250, 248))
    d = ImageDraw.Draw(sheet)
    f_big, f_small = font(22), font(12)
    for row, (key, items) in enumerate(grid):
        y = 5 + row * (th + 24)
        if key:
            name = items[0].extra["fields"][0].replace("_", " ") if key != "scenes" else "3 objects"
            d.text((8, y + th // 2 - 22), key if key != "scenes" else "A-G", fill=(30, 30, 30), font=f_big)
            d.text((8, y + th // 2 + 6), name, fill=(90, 90, 90), font=f_small)
        for col, r in enumerate(items):
            with Image.open(r.path) as im:
                im = im.convert("RGB")
                sx, sy = thumb / im.width, th / im.height
                t = im.resize((thumb, th), Image.Resampling.LANCZOS)
            if draw_boxes:
                td = ImageDraw.Draw(t)
                for (x0, y0, x1, y1), lab in zip(r.boxes, r.box_labels):
                    td.rectangle([x0 * sx, y0 * sy, x1 * sx, y1 * sy], outline=(0, 200, 90), width=2)
            x = label_w + col * (thumb + 6)
            sheet.paste(t, (x, y))
            caption = " ".join(r.instance_ids or (r.instance_id or "",)) + ("  studio" if r.extra.get("studio") else "")
            d.text((x + 2, y + th + 3), caption, fill=(60, 60, 60), font=f_small)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    tmp = out_path + ".tmp.png"
    sheet.save(tmp)
    os.replace(tmp, out_path)
    return out_path
