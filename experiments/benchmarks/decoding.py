"""Decode + resize throughput (images/s) for 1 MP and 7 MP JPEGs: Pillow (full decode, and with
``Image.draft`` reduced-DCT decoding) vs OpenCV (full, and ``IMREAD_REDUCED_COLOR_*``), all to a
longer side of 512 px as the pipeline needs (SPEC §2.1). Rates are per CPU second (process time, one
thread each), so other jobs on the machine do not distort them. Ratios are against Pillow's full
decode measured in the same run. The loaders use ``dfcnn.data.decode.load_image(max_side=...)``,
i.e. the Pillow draft path, which keeps EXIF orientation and every Pillow mode.

    .venv/bin/python experiments/benchmarks/decoding.py              # ~1 min on 1 core
    .venv/bin/python experiments/benchmarks/decoding.py --repeats 5 --no-mlflow
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

import cv2
import numpy as np
from PIL import Image

from dfcnn.data.catalogue.scenes import canvas_size, single_view
from dfcnn.data.catalogue.styles import field_styles
from dfcnn.data.decode import load_image, resize_longer_side
from dfcnn.tracking.benchmarks import benchmark_run


def make_jpeg(megapixels: float, directory: str) -> str:
    """A realistic photo-like JPEG: a catalogue scene (textures, edges, noise) at ``megapixels``."""
    style = field_styles(0, "A", 1)[0]
    im, _ = single_view(style, np.random.SeedSequence([0, int(megapixels * 10)]), megapixels, studio=False)
    path = os.path.join(directory, f"scene_{megapixels:g}mp.jpg")
    im.save(path, "JPEG", quality=90)
    return path


def pil_full(path, side):
    with Image.open(path) as im:
        im = im.convert("RGB")
    return resize_longer_side(im, side)


def pil_draft(path, side):
    return load_image(path, max_side=side)


def cv2_full(path, side):
    arr = cv2.imread(path, cv2.IMREAD_COLOR)
    h, w = arr.shape[:2]
    s = side / max(h, w)
    return cv2.cvtColor(cv2.resize(arr, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)


def cv2_reduced(path, side):
    h, w = cv2_size(path)
    factor = max(h, w) / side
    flag = cv2.IMREAD_COLOR
    for f, fl in ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4), (2, cv2.IMREAD_REDUCED_COLOR_2)):
        if factor >= f:
            flag = fl
            break
    arr = cv2.imread(path, flag)
    h, w = arr.shape[:2]
    s = side / max(h, w)
    return cv2.cvtColor(cv2.resize(arr, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)


_SIZES: dict[str, tuple[int, int]] = {}


def cv2_size(path):
    if path not in _SIZES:  # header read via Pillow (OpenCV has none); cached as a loader would
        with Image.open(path) as im:
            _SIZES[path] = (im.height, im.width)
    return _SIZES[path]


METHODS = {"pillow_full": pil_full, "pillow_draft": pil_draft, "opencv_full": cv2_full, "opencv_reduced": cv2_reduced}


def throughput(fn, path, side, repeats) -> float:
    fn(path, side)  # warm-up (file cache, codec init)
    t0 = time.process_time()  # CPU time: robust to other jobs sharing the cores
    for _ in range(repeats):
        fn(path, side)
    return repeats / (time.process_time() - t0)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--megapixels", type=float, nargs="+", default=[1.0, 7.0])
    p.add_argument("--side", type=int, default=512)
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--no-mlflow", action="store_true")
    args = p.parse_args(argv)
    cv2.setNumThreads(1)  # one core, as Pillow's decoder
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mp in args.megapixels:
            path = make_jpeg(mp, tmp)
            w, h = canvas_size(mp)
            reps = max(3, int(args.repeats / max(1.0, mp / 2)))
            ref = None
            for name, fn in METHODS.items():
                ips = throughput(fn, path, args.side, reps)
                ref = ref or ips
                results[f"{mp:g}mp/{name}/images_per_s"] = ips
                results[f"{mp:g}mp/{name}/ratio_vs_pillow_full"] = ips / ref
                print(f"{mp:>4g} MP ({w}x{h})  {name:<15} {ips:8.1f} images/s   x{ips / ref:5.2f} vs pillow_full")
    if not args.no_mlflow:
        import mlflow

        with benchmark_run("decoding"):
            mlflow.log_params({"side": args.side, "repeats": args.repeats, "cpu": platform.processor() or platform.machine(), "opencv": cv2.__version__, "pillow": Image.__version__})
            mlflow.log_metrics({k.replace("/", "."): v for k, v in results.items()})
    return results


if __name__ == "__main__":
    main()
