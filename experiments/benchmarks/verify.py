"""Cost of geometric verification (issue 9), against a plain OpenCV loop measured in the same run.

1. Per candidate at ~1,000 key-points a side: dfcnn's ``Verifier.verify`` (memory-mapped uint8
   descriptors, RootSIFT, one BLAS product for mutual NN + ratio, USAC-MAGSAC homography, plausibility
   checks) vs a plain ``cv2.BFMatcher.knnMatch`` + ratio test + ``cv2.findHomography(RANSAC)`` loop
   over the same candidates (target: ratio ≤ 1). Medians of interleaved repeats.
1b. The word shortlist: the query's key-points voting over the visual-word inverted file, also on
    larger indexes tiled from the same posters (``--scale-tiles``).
2. A whole query with M = 50: decode → CNN descriptor → global search → query key-points → word
   votes → verification of the shortlist, on ``--threads`` cores (target: < 1.5 s on 2 cores).
3. Bytes per indexed image of the stored local features, per detector (SIFT also with its words).

    .venv/bin/python experiments/benchmarks/verify.py              # ~2 min
    .venv/bin/python experiments/benchmarks/verify.py --threads 1 --no-mlflow
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def textured(seed: int, size=(800, 600)) -> Image.Image:
    """A busy flat product (poster-like): enough texture for ~1,000 SIFT key-points."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (size[1] // 8, size[0] // 8, 3)).astype(np.uint8)
    im = Image.fromarray(base, "RGB").resize(size, Image.Resampling.BICUBIC)
    d = ImageDraw.Draw(im)
    for _ in range(250):
        x, y = int(rng.integers(0, size[0])), int(rng.integers(0, size[1]))
        r = int(rng.integers(4, 30))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            d.rectangle([x, y, x + r, y + int(r * rng.uniform(0.3, 2))], fill=colour, outline=(0, 0, 0))
        else:
            d.ellipse([x, y, x + r, y + r], fill=colour)
    return im.filter(ImageFilter.GaussianBlur(0.6))


def warped(im: Image.Image, seed: int) -> Image.Image:
    """The product photographed: rotated, scaled, perspective, on a grey background."""
    import cv2

    rng = np.random.default_rng(seed)
    w, h = im.size
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = src * 0.8 + np.float32([100, 80]) + rng.uniform(-40, 40, (4, 2)).astype(np.float32)
    H = cv2.getPerspectiveTransform(src, dst)
    out = cv2.warpPerspective(np.asarray(im), H, (1024, 768), borderValue=(110, 110, 110))
    return Image.fromarray(out)


def plain_loop(q_kp, q_desc, candidates, ratio: float = 0.8) -> list[int]:
    """The reference: BFMatcher k=2 + Lowe's ratio + findHomography(RANSAC) per candidate."""
    import cv2

    bf = cv2.BFMatcher(cv2.NORM_L2)
    out = []
    for kp, desc in candidates:
        knn = bf.knnMatch(q_desc, desc, k=2)
        good = [m for m, n in (p for p in knn if len(p) == 2) if m.distance < ratio * n.distance]
        if len(good) < 4:
            out.append(0)
            continue
        src = np.float32([q_kp[m.queryIdx] for m in good])
        dst = np.float32([kp[m.trainIdx] for m in good])
        _, mask = cv2.findHomography(src, dst, cv2.RANSAC, 6.0)
        out.append(int(mask.sum()) if mask is not None else 0)
    return out


def tiled(store, tiles: int):
    """A store of ``tiles`` copies of ``store``'s items, descriptors jittered by ±1 so that copies differ
    (timing only: the copies' votes split between them)."""
    from dfcnn.retrieval.local_store import LocalFeatureStore

    rng = np.random.default_rng(0)
    desc = np.concatenate([np.clip(np.asarray(store.descriptors, np.int16)
                                   + rng.integers(-1, 2, store.descriptors.shape), 0, 255).astype(np.uint8)
                           for _ in range(tiles)])
    n = len(store.keypoints)
    offsets = np.concatenate([store.offsets[:-1] + k * n for k in range(tiles)] + [[tiles * n]]).astype(np.int64)
    return LocalFeatureStore(store.meta, offsets, np.tile(np.asarray(store.keypoints), (tiles, 1)), desc,
                             np.tile(np.asarray(store.sizes), (tiles, 1)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=50)
    ap.add_argument("--keypoints", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--scale-tiles", type=int, nargs="*", default=[4, 16],
                    help="word-vote time on indexes of 50 x TILES images (tiled, jittered key-points)")
    ap.add_argument("--no-mlflow", action="store_true")
    args = ap.parse_args()
    import cv2
    import torch

    cv2.setNumThreads(args.threads)
    torch.set_num_threads(args.threads)
    from dfcnn.config.retrieval import RetrievalConfig, VerifyConfig
    from dfcnn.data.records import ImageRecord
    from dfcnn.features.describer import CnnDescriber
    from dfcnn.retrieval.local_store import LocalFeatureStore
    from dfcnn.retrieval.retriever import Retriever
    from dfcnn.retrieval.verify import LocalFeatureExtractor, Verifier

    m = args.candidates
    images = [textured(s) for s in range(m)]
    query = warped(images[7], seed=1)
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        # 1. per-candidate cost, same key-points for both
        ex = LocalFeatureExtractor("sift", args.keypoints, 1024)
        store = LocalFeatureStore.extract(images, ex)
        store.save(os.path.join(tmp, "local"))
        store = LocalFeatureStore.load(os.path.join(tmp, "local"))
        cfg = VerifyConfig(local_features=True, enabled=True, query_max_keypoints=args.keypoints, top_m=m)
        verifier = Verifier(cfg, store)
        q = verifier.prepare_query(query)
        qfeat = verifier.query_extractor.extract(query)
        q_kp, q_desc = qfeat.original_xy(), qfeat.descriptors.astype(np.float32)
        figures["keypoints_query"] = float(len(q))
        figures["keypoints_per_image"] = float(np.diff(store.offsets).mean())

        def ours():
            return [verifier.verify(q, i).inliers for i in range(m)]

        def reference():
            cands = [(store.get(i).xy, store.get(i).descriptors.astype(np.float32)) for i in range(m)]
            return plain_loop(q_kp, q_desc, cands)

        ours(), reference()  # warm-up
        t_ours, t_ref = [], []
        for _ in range(args.repeats):
            t = time.perf_counter(); n_ours = ours(); t_ours.append(time.perf_counter() - t)
            t = time.perf_counter(); n_ref = reference(); t_ref.append(time.perf_counter() - t)
        figures["ms_per_candidate"] = 1000 * float(np.median(t_ours)) / m
        figures["ms_per_candidate_plain_opencv"] = 1000 * float(np.median(t_ref)) / m
        figures["ratio_vs_plain_opencv"] = figures["ms_per_candidate"] / figures["ms_per_candidate_plain_opencv"]
        figures["inliers_true_match"] = float(n_ours[7])
        figures["inliers_true_match_plain_opencv"] = float(n_ref[7])
        figures["max_inliers_wrong"] = float(max(n for i, n in enumerate(n_ours) if i != 7))
        figures["max_inliers_wrong_plain_opencv"] = float(max(n for i, n in enumerate(n_ref) if i != 7))

        # 1b. the word shortlist: the query's key-points voting over the inverted file of the 50 images
        worded = store.with_words(cfg.visual_words)
        t_words = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            votes = worded.word_votes(q.vectors, cfg.words_probes, cfg.ratio)
            t_words.append(time.perf_counter() - t)
        figures["ms_word_votes_per_query"] = 1000 * float(np.median(t_words))
        figures["word_votes_true_match"] = float(votes[7])
        figures["word_votes_best_wrong"] = float(np.delete(votes, 7).max())
        for tiles in args.scale_tiles:  # larger indexes: the 50 posters' key-points tiled, jittered by ±1
            big = tiled(store, tiles)
            t = time.perf_counter()
            big = big.with_words(cfg.visual_words)
            figures[f"s_words_build_{len(big)}_images"] = time.perf_counter() - t
            t_big = []
            for _ in range(args.repeats):
                t = time.perf_counter()
                big.word_votes(q.vectors, cfg.words_probes, cfg.ratio)
                t_big.append(time.perf_counter() - t)
            figures[f"ms_word_votes_{len(big)}_images"] = 1000 * float(np.median(t_big))

        # 2. the whole query, M = 50, through the Retriever
        paths = []
        for i, im in enumerate(images):
            paths.append(os.path.join(tmp, f"p{i:03d}.jpg"))
            im.save(paths[-1], quality=92)
        records = [ImageRecord(path=p, label=str(i % 5), labels=(str(i % 5),)) for i, p in enumerate(paths)]
        settings = RetrievalConfig(verify=VerifyConfig(local_features=True, enabled=True, top_m=m))
        describer = CnnDescriber(image_size=512, aggregator="gap", whiten=False, batch_size=8)
        retriever = Retriever.build(describer, records, records, settings, "cnn")
        qpath = os.path.join(tmp, "query.jpg")
        query.save(qpath, quality=90)
        retriever.search(qpath, 10)  # warm-up
        walls = []
        for _ in range(args.repeats):
            retriever._last = None  # no cached answer
            t = time.perf_counter()
            hits = retriever.search(qpath, 10)
            walls.append(time.perf_counter() - t)
        figures["query_s_M50"] = float(np.median(walls))
        figures["query_top1_correct"] = float(hits[0]["path"] == paths[7])

        # 3. bytes per indexed image
        for det in ("sift", "orb", "akaze"):
            s = LocalFeatureStore.extract(images[:10], LocalFeatureExtractor(det, args.keypoints, 1024))
            figures[f"bytes_per_image_{det}"] = s.bytes_per_item()
        figures["bytes_per_image_sift_with_words"] = worded.bytes_per_item()
    print(f"threads={args.threads}, candidates={m}, key-points/query={figures['keypoints_query']:.0f}, "
          f"key-points/image={figures['keypoints_per_image']:.0f}")
    for k, v in figures.items():
        print(f"  {k:36s} {v:12.3f}")
    print(f"verification per candidate: {figures['ms_per_candidate']:.2f} ms vs plain OpenCV "
          f"{figures['ms_per_candidate_plain_opencv']:.2f} ms (ratio {figures['ratio_vs_plain_opencv']:.2f}, target <= 1); "
          f"whole query M={m}: {figures['query_s_M50']:.2f} s (target < 1.5 s on 2 cores)")
    if not args.no_mlflow:
        import mlflow

        from dfcnn.tracking.benchmarks import benchmark_run

        with benchmark_run("verify"):
            mlflow.log_params({"threads": args.threads, "candidates": m, "keypoints": args.keypoints})
            mlflow.log_metrics(figures)


if __name__ == "__main__":
    main()
