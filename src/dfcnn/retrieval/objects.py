"""Multi-object queries: find product regions in a photo, search each and the whole photo, merge
(issue 9; SPEC §7's ``objects`` list).

Why: one global descriptor of a photo holding two or three products is dominated by one of them
(or by the clutter); crops of each product recover the others. Regions come from the summed
activation map S'(x, y) = Σ_ℓ S_ℓ(x, y) of the backbone (SPEC §2.3 notation): connected
components of S' above Otsu's threshold, and R-MAC grid windows scored by their mean S' with
non-maximum suppression. A describer without a CNN (SURF) uses the grey image's gradient energy
as its map. A user-given box replaces the detection.

With verification on, every candidate is verified once against the whole photo's key-points; a
region's ranking then counts only the inliers that fall inside it, and verified candidates whose
outline lies outside every region become objects of their own.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence

import numpy as np
from PIL import Image

from dfcnn.retrieval.verify import Verification, verified_score, voted_score

log = logging.getLogger(__name__)

MAX_AREA_FRACTION = 0.8  # a region this large is the whole photo again: not searched separately
NMS_IOU = 0.3
COUNT_KEYS = ("photos", "regions_found", "region_too_small", "no_regions", "box_too_small", "verified_objects")


# ----------------------------------------------------------------------------- the map S'
def cnn_of(describer):
    """The CnnDescriber inside a describer (itself, or FusedDescriber.cnn), or None."""
    for d in (describer, getattr(describer, "cnn", None)):
        if d is not None and hasattr(d, "net") and hasattr(d, "params") and hasattr(d, "backbone"):
            return d
    return None


def activation_map(describer, image: Image.Image, side: int | None = None) -> np.ndarray:
    """S' of the describer's backbone on ``image`` resized to longer side ``side`` (default: the
    describer's image_size) as float32 [h, w]; gradient energy without a CNN."""
    cnn = cnn_of(describer)
    if cnn is None:
        gray = np.asarray(image.convert("L").resize((64, max(1, round(64 * image.height / image.width)))), np.float32)
        gy, gx = np.gradient(gray)
        return np.hypot(gx, gy).astype(np.float32)
    import torch

    from dfcnn.features.images import preprocess

    tensor = preprocess(image, int(side or cnn.params.image_size), cnn.backbone.spec.fixed_size)
    device = next(cnn.backbone.parameters()).device
    with torch.no_grad():
        fmap = cnn.backbone(tensor[None].to(device))[0]
    return fmap.sum(dim=0).cpu().numpy().astype(np.float32)


# ----------------------------------------------------------------------------- boxes
def iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def nms(boxes: list, scores: Sequence[float], threshold: float = NMS_IOU) -> list[int]:
    """Indices of the boxes kept by greedy non-maximum suppression, best first."""
    keep: list[int] = []
    for i in np.argsort(-np.asarray(scores, np.float64), kind="stable"):
        if all(iou(boxes[i], boxes[j]) <= threshold for j in keep):
            keep.append(int(i))
    return keep


def component_boxes(smap: np.ndarray, image_size: tuple[int, int]) -> tuple[list, list]:
    """Boxes (image pixels) and mean-S' scores of the connected components of S' above Otsu's threshold."""
    import cv2

    if smap.size == 0 or float(smap.max()) <= 0:
        return [], []
    up = 4  # upsample the coarse map so components follow its shape, not its cells
    h, w = smap.shape
    big = cv2.resize(smap, (w * up, h * up), interpolation=cv2.INTER_LINEAR)
    u8 = np.clip(255 * big / float(big.max()), 0, 255).astype(np.uint8)
    _, mask = cv2.threshold(u8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    sx, sy = image_size[0] / (w * up), image_size[1] / (h * up)
    boxes, scores = [], []
    for k in range(1, n):
        x, y, bw, bh, _area = stats[k]
        boxes.append([x * sx, y * sy, (x + bw) * sx, (y + bh) * sy])
        scores.append(float(big[labels == k].mean()))
    return boxes, scores


def grid_boxes(smap: np.ndarray, image_size: tuple[int, int], levels: int = 6) -> tuple[list, list]:
    """R-MAC grid windows (levels 2..L, image pixels) scored by mean S' relative to the whole map."""
    from dfcnn.features.regions import rmac_grid

    h, w = smap.shape
    mean = float(smap.mean()) or 1.0
    sx, sy = image_size[0] / w, image_size[1] / h
    boxes, scores = [], []
    for (x, y, rw, rh) in rmac_grid(w, h, levels):
        if rw * rh >= 0.6 * w * h:
            continue
        boxes.append([x * sx, y * sy, (x + rw) * sx, (y + rh) * sy])
        scores.append(float(smap[y:y + rh, x:x + rw].mean()) / mean)
    return boxes, scores


def find_regions(describer, image: Image.Image, max_objects: int, min_side: int, proposals: str = "both",
                 counts: Counter | None = None, map_side: int | None = 1024) -> list[list[float]]:
    """Up to ``max_objects`` product regions of ``image`` (x0, y0, x1, y1), most salient first.

    Regions with a side under ``min_side`` pixels, or covering most of the photo, are dropped
    (the former counted as ``region_too_small``)."""
    if proposals not in ("activation", "grid", "both"):
        raise ValueError(f"retrieval.object_proposals must be activation, grid or both, got {proposals!r}")
    counts = counts if counts is not None else Counter()
    smap = activation_map(describer, image, map_side)
    boxes, scores = [], []
    if proposals in ("activation", "both"):
        b, s = component_boxes(smap, image.size)
        boxes += b
        scores += [v + 1.0 for v in s]  # components first: they follow the objects' outlines
    if proposals in ("grid", "both"):
        b, s = grid_boxes(smap, image.size)
        boxes += b
        scores += s
    area = float(image.width * image.height)
    kept_boxes, kept_scores = [], []
    for b, s in zip(boxes, scores):
        if min(b[2] - b[0], b[3] - b[1]) < min_side:
            counts["region_too_small"] += 1
            continue
        if (b[2] - b[0]) * (b[3] - b[1]) > MAX_AREA_FRACTION * area:
            continue
        kept_boxes.append([round(float(v), 1) for v in b])
        kept_scores.append(s)
    order = nms(kept_boxes, kept_scores)[: max(0, int(max_objects))]
    regions = [kept_boxes[i] for i in order]
    counts["regions_found"] += len(regions)
    if not regions:
        counts["no_regions"] += 1
    return regions


# ----------------------------------------------------------------------------- merging
def merge_max(rankings: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """One ranking from several (scores, ids): each item keeps its best score over them."""
    best: dict[int, float] = {}
    for scores, ids in rankings:
        for s, i in zip(scores, ids):
            i = int(i)
            if i >= 0 and (i not in best or s > best[i]):
                best[i] = float(s)
    items = sorted(best.items(), key=lambda t: -t[1])
    return np.array([s for _, s in items], np.float64), np.array([i for i, _ in items], np.int64)


def inliers_inside(v: Verification, xy: np.ndarray, box: Sequence[float], margin: float = 0.1) -> int:
    """How many of a verification's inliers lie in ``box`` (grown by ``margin`` of its size)."""
    if v.inliers == 0 or len(v.query_idx) == 0:
        return 0
    x0, y0, x1, y1 = box
    mx, my = (x1 - x0) * margin, (y1 - y0) * margin
    p = xy[v.query_idx]
    return int(((p[:, 0] >= x0 - mx) & (p[:, 0] <= x1 + mx) & (p[:, 1] >= y0 - my) & (p[:, 1] <= y1 + my)).sum())


def clip_box(box: Sequence[float], size: tuple[int, int]) -> list[float]:
    w, h = size
    return [float(np.clip(box[0], 0, w)), float(np.clip(box[1], 0, h)), float(np.clip(box[2], 0, w)),
            float(np.clip(box[3], 0, h))]


class PhotoSearch:
    """Whole photo + regions (+ verification) for one ``Retriever``; the counters add up over queries."""

    def __init__(self, retriever):
        self.r = retriever
        self.counts: Counter = Counter({k: 0 for k in COUNT_KEYS})

    def _global(self, image: Image.Image, depth: int) -> tuple[np.ndarray, np.ndarray]:
        q = self.r.describe_query(image)
        s, i = self.r.engine.search(q[None, :], min(depth, self.r.ntotal))
        return s[0].astype(np.float64), i[0]

    def search(self, image: Image.Image, top_k: int, box: Sequence[float] | None = None) -> dict:
        """``{"results", "objects", "describe_ms", "search_ms", "verifications"}`` for one photo."""
        settings = self.r.engine.settings
        vcfg = settings.verify
        verifier = self.r.verifier() if vcfg.enabled else None
        self.counts["photos"] += 1
        t0 = time.perf_counter()
        if box is not None:
            box = clip_box(box, image.size)
            if min(box[2] - box[0], box[3] - box[1]) < max(1, int(settings.object_min_side)):
                self.counts["box_too_small"] += 1  # too small to describe reliably: search the whole photo
                log.warning("query box %s is smaller than object_min_side=%d: searching the whole photo",
                            box, settings.object_min_side)
                box = None
            else:
                from dfcnn.data.select import crop_box

                image = crop_box(image, tuple(box))
                offset = box[:2]
        regions = []
        if settings.multi_object and box is None:
            regions = find_regions(self.r.describer, image, settings.max_objects, settings.object_min_side,
                                   settings.object_proposals, self.counts, settings.object_map_side)
        depth = max(int(top_k), int(vcfg.top_m) if verifier else 0)
        whole = self._global(image, depth)
        region_depth = max(int(top_k), int(settings.object_top_m) if verifier else 0)
        per_region = []
        for b in regions:
            from dfcnn.data.select import crop_box

            per_region.append(self._global(crop_box(image, tuple(b)), region_depth))
        t1 = time.perf_counter()
        merged = merge_max([whole] + per_region) if regions else whole
        cache: dict[int, Verification] = {}
        objects = []
        if verifier is not None:
            qf = verifier.prepare_query(image)
            votes = verifier.word_shortlist(qf)
            shortlist = list(dict.fromkeys([int(i) for i in whole[1][: vcfg.top_m] if i >= 0]
                                           + [int(i) for s, ids in per_region for i in ids[: settings.object_top_m] if i >= 0]
                                           + list(votes)))
            gscore = dict(zip((int(i) for i in merged[1]), merged[0]))
            if len(qf) >= 4:
                for i in shortlist:
                    cache[i] = verifier.verify(qf, i)
            scores = {}
            floor = float(np.min(merged[0])) if len(merged[0]) else 0.0
            for i in shortlist:
                n = cache[i].inliers if i in cache else 0
                voted = voted_score(votes.get(i, 0), int(vcfg.words_min_votes)) if n < vcfg.min_inliers else None
                if voted is not None:
                    scores[i] = voted
                elif i in gscore or n >= vcfg.min_inliers:
                    # a word candidate outside every global list gets the lowest listed global score,
                    # an upper bound of its own in the whole photo's ranking
                    scores[i] = verified_score(n, gscore.get(i, floor), vcfg.min_inliers, vcfg.inlier_scale,
                                               vcfg.global_weight)
            head = sorted(scores.items(), key=lambda t: -t[1])  # stable: ties keep the shortlist's order
            rest = [(int(i), s) for s, i in zip(*merged) if int(i) not in scores]
            merged = (np.array([s for _, s in head + rest], np.float64), np.array([i for i, _ in head + rest], np.int64))
            regions = regions + self._verified_objects(regions, cache, vcfg.min_inliers)
            for b, ranking in zip(regions, per_region + [None] * (len(regions) - len(per_region))):
                objects.append({"box": b, "results": self._region_ranking(b, ranking, merged, cache, qf.xy, top_k)})
        else:
            objects = [{"box": b, "results": self.r.hits(s[:top_k], i[:top_k])} for b, (s, i) in zip(regions, per_region)]
        t2 = time.perf_counter()
        results = self.r.hits(merged[0][:top_k], merged[1][:top_k], cache)
        if box is not None:  # report boxes in the uncropped photo's pixels
            for o in objects:
                o["box"] = [o["box"][0] + offset[0], o["box"][1] + offset[1], o["box"][2] + offset[0], o["box"][3] + offset[1]]
        return {"results": results, "objects": objects, "describe_ms": 1000 * (t1 - t0), "search_ms": 1000 * (t2 - t1),
                "verifications": cache}

    def _verified_objects(self, regions: list, cache: dict[int, Verification], min_inliers: int) -> list:
        """Outlines of verified candidates that overlap no region: products the proposals missed."""
        found = []
        for i, v in sorted(cache.items(), key=lambda t: -t[1].inliers):
            b = v.box()
            if v.inliers < min_inliers or b is None:
                continue
            if all(iou(b, o) < NMS_IOU for o in regions + found):
                found.append([round(x, 1) for x in b])
        self.counts["verified_objects"] += len(found)
        return found

    def _region_ranking(self, box, ranking, merged, cache, xy, top_k) -> list[dict]:
        """A region's own ranking: verified by its inliers inside the box, then its global order."""
        vcfg = self.r.engine.settings.verify
        base = ranking if ranking is not None else merged
        gscore = dict(zip((int(i) for i in base[1]), base[0]))
        fallback = dict(zip((int(i) for i in merged[1]), merged[0]))
        items = []
        for i in dict.fromkeys([int(i) for i in base[1]] + list(cache)):
            n = inliers_inside(cache[i], xy, box) if i in cache else 0
            g = gscore.get(i, fallback.get(i, 0.0))
            if i not in gscore and n < vcfg.min_inliers:
                continue
            items.append((verified_score(n, g, vcfg.min_inliers, vcfg.inlier_scale, vcfg.global_weight), i, n))
        items.sort(key=lambda t: -t[0])
        items = items[:top_k]
        return self.r.hits(np.array([s for s, _, _ in items]), np.array([i for _, i, _ in items]),
                           {i: Verification(n, "") for _, i, n in items if i in cache})
