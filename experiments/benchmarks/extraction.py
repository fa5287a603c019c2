"""Extraction throughput: every aggregator (+ whitening) vs the bare backbone, and streaming memory.

1. Speed. The same pre-decoded batches (image_size 512, CPU, one thread) go through the bare
   backbone forward and through the full extractor (backbone + aggregator + L2 -> PCA-whiten -> L2
   chain) for each aggregator, back to back per batch. Rates are images per CPU second (process
   time), the best of ``--repeats`` rounds. Target (issue 3): full / bare >= 0.9, i.e. aggregation
   plus whitening cost at most 10 %. On a shared machine the end-to-end ratio is noisy (it can
   exceed 1), so the aggregation tail is also timed alone on ready feature maps and
   ``ratio(tail) = backbone / (backbone + tail)`` is printed beside it.
2. Memory. ``CnnDescriber.transform`` streams N and 2N image files from disk; the peak RSS above
   the baseline must not grow with N (only the [n, d] descriptor matrix does).

    .venv/bin/python experiments/benchmarks/extraction.py                 # ~3-4 min on 1 core
    .venv/bin/python experiments/benchmarks/extraction.py --images 8 --repeats 2 --no-mlflow
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import threading
import time

import numpy as np
import psutil
import torch
from PIL import Image

from dfcnn.data.records import ImageRecord
from dfcnn.features import functional as Fn
from dfcnn.features.describer import CnnDescriber
from dfcnn.features.images import preprocess
from dfcnn.features.model import same_size_groups
from dfcnn.features.pooling import AGGREGATORS
from dfcnn.features.whitening import PCAWhitening
from dfcnn.tracking.benchmarks import benchmark_run


def synthetic_photo(seed: int, size: tuple[int, int]) -> Image.Image:
    """A photo-like image (smooth gradients, blobs, texture) of ``size``."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([xx / w, yy / h, 0.5 + 0.5 * np.sin(xx / 17 + yy / 23)], -1) * 200
    for _ in range(12):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(10, h / 3)
        img[(xx - cx) ** 2 + (yy - cy) ** 2 < r * r] = rng.uniform(0, 255, 3)
    img += rng.normal(0, 12, img.shape)
    return Image.fromarray(img.clip(0, 255).astype(np.uint8))


def batches(images: list[torch.Tensor], batch_size: int) -> list[list[torch.Tensor]]:
    return [images[i : i + batch_size] for i in range(0, len(images), batch_size)]


def bare_backbone(describer: CnnDescriber, batch: list[torch.Tensor]) -> None:
    """The reference: the backbone forward on the same same-size groups the extractor forms."""
    with torch.no_grad():
        for group in same_size_groups(batch):
            describer.backbone(torch.stack([batch[i] for i in group]))


def cpu_time(fn) -> float:
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def speed(args) -> dict[str, float]:
    sizes = [(512, 384), (384, 512), (512, 341), (512, 512)]
    images = [preprocess(synthetic_photo(i, sizes[i % len(sizes)]), 512) for i in range(args.images)]
    # Timing needs the real shapes only: a 1280 -> 512 whitening learned on random vectors.
    whitening = PCAWhitening(512).fit(np.random.default_rng(0).random((1024, 1280), dtype=np.float32))
    describers = {}
    for name in AGGREGATORS:
        d = CnnDescriber(aggregator=name, image_size=512, whiten=True)
        d._set_whitening(whitening)
        describers[name] = d
    ref = next(iter(describers.values()))
    groups = [(b, list(same_size_groups(b))) for b in batches(images, args.batch_size)]
    maps = []
    with torch.no_grad():
        for b, gs in groups:
            maps += [ref.backbone(torch.stack([b[i] for i in g])) for g in gs]
    times: dict[str, float] = {k: float("inf") for k in ["backbone", *AGGREGATORS]}
    tails: dict[str, float] = {k: float("inf") for k in AGGREGATORS}
    for _ in range(args.repeats):  # best of interleaved rounds: robust to a busy machine
        round_t = dict.fromkeys(times, 0.0)
        for b, _gs in groups:  # every method on the same batch back to back
            round_t["backbone"] += cpu_time(lambda b=b: bare_backbone(ref, b))
            for name, d in describers.items():
                round_t[name] += cpu_time(lambda b=b, d=d: d.net(b))
        times = {k: min(times[k], round_t[k]) for k in times}
        for name, d in describers.items():  # the aggregation + whitening tail alone
            tails[name] = min(tails[name], sum(cpu_time(lambda m=m, d=d: tail(d, m)) for m in maps))
    results = {"images_per_s/backbone": args.images / times["backbone"]}
    for name in AGGREGATORS:
        results[f"images_per_s/{name}"] = args.images / times[name]
        results[f"ratio/{name}"] = times["backbone"] / times[name]
        results[f"tail_ms_per_image/{name}"] = 1000 * tails[name] / args.images
        results[f"ratio_from_tail/{name}"] = times["backbone"] / (times["backbone"] + tails[name])
        results[f"dim/{name}"] = float(describers[name].dim)
    return results


def tail(d: CnnDescriber, fmap: torch.Tensor) -> None:
    """Aggregator + L2 -> whiten -> L2 -> weighted sum -> L2 on a ready feature map."""
    with torch.no_grad():
        v, w = d.net.aggregator(fmap)
        Fn.whiten_sum_pool(v, w, d.net.whiten_mean, d.net.whiten_projection)


class PeakRss:
    """Samples the process RSS every few ms in a thread; ``peak`` in MiB."""

    def __init__(self):
        self.proc = psutil.Process()
        self.peak = 0.0
        self._stop = threading.Event()

    def __enter__(self):
        self.peak = self.proc.memory_info().rss / 2**20
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss / 2**20)
            time.sleep(0.005)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def memory(args) -> dict[str, float]:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        n_max = 2 * args.memory_images
        records = []
        for i in range(n_max):
            path = os.path.join(tmp, f"im{i:04d}.jpg")
            synthetic_photo(i, (1024, 768) if i % 2 else (768, 1024)).save(path, quality=90)
            records.append(ImageRecord(path=path, label="x"))
        d = CnnDescriber(aggregator="dfcnn", image_size=512, batch_size=args.batch_size, whiten=False)
        d.transform(records[: args.batch_size])  # warm-up: allocator pools, lazy imports
        base = psutil.Process().memory_info().rss / 2**20
        for n in (args.memory_images, n_max):
            with PeakRss() as peak:
                X, _ = d.transform(records[:n])
            out[f"peak_rss_above_base_mib/n{n}"] = peak.peak - base
            out[f"descriptor_mib/n{n}"] = X.nbytes / 2**20
    a, b = args.memory_images, 2 * args.memory_images
    out["peak_rss_growth_ratio"] = (out[f"peak_rss_above_base_mib/n{b}"] + 1.0) / (out[f"peak_rss_above_base_mib/n{a}"] + 1.0)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=16)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--memory-images", type=int, default=24)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-mlflow", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    results = speed(args)
    print(f"images/s per CPU second, {args.threads} thread, image_size 512, {args.images} images, best of {args.repeats}")
    print(f"{'method':<10} {'images/s':>9} {'ratio':>6} {'tail ms':>8} {'ratio(tail)':>11} {'dim':>5}")
    print(f"{'backbone':<10} {results['images_per_s/backbone']:9.2f} {1.0:6.3f} {'':>8} {'':>11} {1280:5d}")
    for name in AGGREGATORS:
        r = results[f"ratio/{name}"]
        flag = "" if min(r, results[f"ratio_from_tail/{name}"]) >= 0.9 else "  < 0.9 target"
        print(
            f"{name:<10} {results[f'images_per_s/{name}']:9.2f} {r:6.3f} {results[f'tail_ms_per_image/{name}']:8.2f} "
            f"{results[f'ratio_from_tail/{name}']:11.3f} {int(results[f'dim/{name}']):5d}{flag}"
        )
    mem = memory(args)
    results.update(mem)
    a, b = args.memory_images, 2 * args.memory_images
    print(
        f"peak RSS above baseline: {mem[f'peak_rss_above_base_mib/n{a}']:.1f} MiB for {a} images, "
        f"{mem[f'peak_rss_above_base_mib/n{b}']:.1f} MiB for {b} (growth ratio {mem['peak_rss_growth_ratio']:.2f}; "
        f"descriptors {mem[f'descriptor_mib/n{b}']:.2f} MiB)"
    )
    if not args.no_mlflow:
        import mlflow

        with benchmark_run("extraction"):
            mlflow.log_params({**vars(args), "cpu": platform.processor() or platform.machine(), "torch": torch.__version__})
            mlflow.log_metrics({k.replace("/", "."): float(v) for k, v in results.items()})


if __name__ == "__main__":
    main()
