"""Benchmark of the SURF baseline (SPEC §3, issue 6): ms/image of SURF extraction and VLAD
encoding at 512 and 1024 px against OpenCV SIFT on the same images in the same run, plus the
discrimination check of SPEC §3 (ratio test 0.75 + RANSAC inliers) for both, and - where the
features package provides them - ms/image of efficientnet_lite0 and inception describers.

Single-threaded throughout (cv2.setNumThreads(1), torch.set_num_threads(1)) so the figures
compare algorithms, not thread counts. Images: real photos bundled with scikit-image, resized so
the longer side is the benchmark size (the smaller ones are enlarged for 1024 px).

    .venv/bin/python experiments/benchmarks/baselines.py                 # ~1-2 minutes here
    .venv/bin/python experiments/benchmarks/baselines.py --sizes 512 --repeats 3 --no-mlflow
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import cv2
import numpy as np
from PIL import Image

from dfcnn.baselines.matching import match_inliers
from dfcnn.baselines.surf_features import SurfExtractor, to_gray
from dfcnn.baselines.vlad import VladEncoder
from dfcnn.tracking.benchmarks import benchmark_run

PHOTOS = ("astronaut", "camera", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field", "retina")


def load_photos(names) -> list[Image.Image]:
    import skimage.data as skdata

    out = []
    for name in names:
        try:
            arr = getattr(skdata, name)()
        except Exception as exc:  # a data file that needs a download is simply left out
            print(f"  (photo {name} unavailable: {type(exc).__name__})")
            continue
        out.append(Image.fromarray(arr).convert("RGB"))
    return out


def resize_longer(image: Image.Image, side: int) -> Image.Image:
    f = side / max(image.size)
    return image.resize((max(1, round(image.width * f)), max(1, round(image.height * f))), Image.LANCZOS)


def time_per_item(fn, items, repeats: int) -> tuple[float, list]:
    """Mean ms per item over ``repeats`` passes after one warm-up call; returns (ms, last results)."""
    fn(items[0])
    results = []
    start = time.perf_counter()
    for _ in range(repeats):
        results = [fn(x) for x in items]
    return 1000 * (time.perf_counter() - start) / (repeats * len(items)), results


def bench_local_features(grays, size, args) -> dict[str, float]:
    surf = SurfExtractor(args.implementation, args.hessian_threshold, args.max_keypoints, max_side=size)
    sift = cv2.SIFT_create(nfeatures=args.max_keypoints)
    surf_ms, surf_kps = time_per_item(surf.extract, grays, args.repeats)
    sift_ms, sift_out = time_per_item(lambda g: sift.detectAndCompute(g, None), grays, args.repeats)
    vlad = VladEncoder(n_clusters=args.k, random_state=0).fit([k.descriptors for k in surf_kps])
    vlad_ms, _ = time_per_item(vlad.encode, [k.descriptors for k in surf_kps], args.repeats)
    return {
        f"surf_ms_{size}": surf_ms,
        f"vlad_encode_ms_{size}": vlad_ms,
        f"surf_vlad_ms_{size}": surf_ms + vlad_ms,
        f"sift_ms_{size}": sift_ms,
        f"surf_over_sift_{size}": surf_ms / sift_ms,
        f"surf_vlad_over_sift_{size}": (surf_ms + vlad_ms) / sift_ms,
        f"surf_keypoints_{size}": float(np.mean([len(k) for k in surf_kps])),
        f"sift_keypoints_{size}": float(np.mean([len(kp) for kp, _ in sift_out])),
    }


def _sift_points(gray, sift):
    kps, desc = sift.detectAndCompute(gray, None)
    xy = np.float32([k.pt for k in kps]).reshape(-1, 2)
    return xy, (desc if desc is not None else np.zeros((0, 128), np.float32))


def discrimination(photos, args, size=512) -> dict[str, float]:
    """SPEC §3 check on the first photo: inliers with its 90°-rotated and half-scale copies vs
    the largest count over unrelated photos, for SURF (as run) and OpenCV SIFT."""
    grays = [to_gray(resize_longer(p, size)) for p in photos[:4]]
    base, others = grays[0], grays[1:]
    h, w = base.shape
    variants = {
        "rotated": np.ascontiguousarray(np.rot90(base)),
        "half": cv2.resize(base, (w // 2, h // 2), interpolation=cv2.INTER_AREA),
    }
    surf = SurfExtractor(args.implementation, args.hessian_threshold, args.max_keypoints, max_side=0)
    sift = cv2.SIFT_create(nfeatures=args.max_keypoints)
    describe = {
        "surf": lambda g: (lambda k: (k.xy, k.descriptors))(surf.extract(g)),
        "sift": lambda g: _sift_points(g, sift),
    }
    out = {}
    for name, fn in describe.items():
        xy, desc = fn(base)
        for label, img in variants.items():
            out[f"{name}_inliers_{label}"] = float(match_inliers(xy, desc, *fn(img)).inliers)
        out[f"{name}_inliers_unrelated_max"] = float(max(match_inliers(xy, desc, *fn(o)).inliers for o in others))
    return out


def bench_cnn(photos, size, args) -> dict[str, float]:
    """ms/image of the features package's describers (efficientnet_lite0 `cnn`, `inception`)."""
    try:
        from dfcnn.features.describer import CnnDescriber  # noqa: F401
    except ImportError as exc:
        print(f"  CNN describers not available yet ({exc}); skipped")
        return {}
    import torch
    from hydra import compose, initialize_config_dir

    from dfcnn.config import register_configs
    from dfcnn.methods import build_describer

    torch.set_num_threads(1)
    register_configs()
    conf_dir = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "conf"))
    images = [resize_longer(p, size) for p in photos]
    out = {}
    for method in ("cnn", "inception"):
        try:
            with initialize_config_dir(config_dir=conf_dir, version_base=None):
                cfg = compose("index", overrides=["index_dir=/tmp/unused", f"method={method}",
                                                   f"backbone.image_size={size}"])
            describer = build_describer(cfg)
            ms, _ = time_per_item(describer.describe_image, images, args.repeats)
            out[f"{method}_ms_{size}"] = ms
            print(f"  {method} ({cfg.backbone.name}): {ms:.1f} ms/image at {size} px")
        except Exception as exc:  # missing weights, unfitted whitening: say so and carry on
            print(f"  {method}: not measured - {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    return out


def log_mlflow(metrics: dict, params: dict) -> None:
    import mlflow

    with benchmark_run("baselines"):
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    ap.add_argument("--n-images", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--max-keypoints", type=int, default=1000)
    ap.add_argument("--hessian-threshold", type=float, default=400.0)
    ap.add_argument("--implementation", default="auto")
    ap.add_argument("--k", type=int, default=64)
    ap.add_argument("--cnn", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--mlflow", action=argparse.BooleanOptionalAction, default=True)
    args = ap.parse_args(argv)

    cv2.setNumThreads(1)
    photos = load_photos(PHOTOS[: args.n_images])
    impl = SurfExtractor(args.implementation).implementation
    print(f"SURF implementation: {impl}; OpenCV {cv2.__version__}; {len(photos)} photos; "
          f"1 thread; {platform.processor() or platform.machine()}")
    metrics: dict[str, float] = {}
    for size in args.sizes:
        grays = [to_gray(resize_longer(p, size)) for p in photos]
        m = bench_local_features(grays, size, args)
        metrics.update(m)
        print(f"{size} px: SURF {m[f'surf_ms_{size}']:.1f} ms/image ({m[f'surf_keypoints_{size}']:.0f} kp), "
              f"VLAD encode {m[f'vlad_encode_ms_{size}']:.2f} ms, SIFT {m[f'sift_ms_{size}']:.1f} ms/image "
              f"({m[f'sift_keypoints_{size}']:.0f} kp) -> SURF+VLAD / SIFT = {m[f'surf_vlad_over_sift_{size}']:.2f}x")
        if args.cnn:
            metrics.update(bench_cnn(photos, size, args))
    q = discrimination(photos, args)
    metrics.update(q)
    for name in ("surf", "sift"):
        print(f"{name} inliers (512 px, ratio 0.75 + RANSAC): rotated {q[f'{name}_inliers_rotated']:.0f}, "
              f"half-scale {q[f'{name}_inliers_half']:.0f}, unrelated max {q[f'{name}_inliers_unrelated_max']:.0f}")
    if args.mlflow:
        log_mlflow(metrics, {"surf_implementation": impl, "n_images": len(photos), "threads": 1,
                             "max_keypoints": args.max_keypoints, "vlad_k": args.k, "repeats": args.repeats})
    return metrics


if __name__ == "__main__":
    main()
