"""Latency and throughput of ``POST /search`` (dfcnn-serve on loopback) against the same searches in-process.

A tiny generated catalogue is indexed (method=cnn, 128 px) unless ``--index-dir`` names an index;
``dfcnn-serve`` runs as a real process with one torch thread, and this process runs the same
searches in-process with one torch thread too. Reported: p50/p95 latency and requests/s at 1, 4
and 16 concurrent clients (a bounded httpx + asyncio loop), and the service overhead per request:
the median over queries of (HTTP latency − in-process latency) for the same query, the two
interleaved so that other jobs on the machine hit both alike. Target: overhead < 10 ms at p50.

    .venv/bin/python experiments/benchmarks/serve.py                       # ~2 min here
    .venv/bin/python experiments/benchmarks/serve.py --index-dir outputs/index --requests 200 --no-mlflow
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

COLOURS = ((215, 45, 40), (40, 70, 215), (40, 180, 60))


def photo(class_index: int, rng, size=(320, 240)) -> Image.Image:
    im = Image.new("RGB", size, tuple(int(v) for v in rng.integers(190, 250, 3)))
    pen = ImageDraw.Draw(im)
    for _ in range(6):
        x, y, r = int(rng.integers(0, size[0])), int(rng.integers(0, size[1])), int(rng.integers(10, 40))
        if class_index == 0:
            pen.ellipse([x - r, y - r, x + r, y + r], fill=COLOURS[0])
        elif class_index == 1:
            pen.rectangle([x - 90, y - 6, x + 90, y + 6], fill=COLOURS[1])
        else:
            pen.rectangle([x - r, y - r, x + r, y + r], fill=COLOURS[2], outline=(20, 20, 20), width=2)
    return im


def build_catalogue(root: Path, per_class: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for c, name in enumerate(("discs", "bars", "tiles")):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            photo(c, rng).save(root / name / f"{name}_{i:03d}.jpg", quality=90)


def build_index(images: Path, index_dir: Path, outputs: Path) -> None:
    from hydra import compose, initialize_config_dir

    from dfcnn.cli.app import conf_dir
    from dfcnn.cli.index import run_index
    from dfcnn.config import register_configs
    from dfcnn.data.skipped import SkipLog

    register_configs()
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        cfg = compose(config_name="index", overrides=["data=folder", f"data.root={images}", f"index_dir={index_dir}",
                                                      f"paths.outputs={outputs}", "method=cnn", "backbone.image_size=128"])
    run_index(cfg, SkipLog(None))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(index_dir: Path, outputs: Path) -> tuple[subprocess.Popen, str]:
    import httpx

    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env.pop("DFCNN_SERVE_API_KEY", None)
    proc = subprocess.Popen([sys.executable, "-m", "dfcnn.cli.serve", f"index_dir={index_dir}", f"port={port}",
                             f"paths.outputs={outputs}", "access_log=false", "log_level=warning", "max_pending=64"],
                            cwd=outputs, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dfcnn-serve exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("dfcnn-serve did not start")


def percentiles(ms: list[float]) -> tuple[float, float]:
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


async def load(url: str, payloads: list[bytes], clients: int, n_requests: int, top_k: int) -> tuple[list[float], float]:
    """``n_requests`` searches by ``clients`` concurrent workers; (latencies ms, wall s)."""
    import httpx

    latencies: list[float] = []
    queue = list(range(n_requests))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        async def worker():
            while queue:
                i = queue.pop()
                body = payloads[i % len(payloads)]
                t = time.perf_counter()
                r = await client.post("/search", files={"file": ("q.jpg", body, "image/jpeg")}, data={"top_k": str(top_k)})
                latencies.append(1000 * (time.perf_counter() - t))
                if r.status_code != 200:
                    raise RuntimeError(f"HTTP {r.status_code}: {r.text[:300]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return latencies, time.perf_counter() - started


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index-dir", default=None, help="an existing index (default: build a tiny one)")
    p.add_argument("--per-class", type=int, default=20, help="catalogue images per class when building")
    p.add_argument("--queries", type=int, default=12)
    p.add_argument("--requests", type=int, default=48, help="requests per concurrency level")
    p.add_argument("--paired-rounds", type=int, default=3, help="interleaved HTTP/in-process passes over the queries")
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    p.add_argument("--top-k", type=int, default=10)
    p.add_argument("--no-mlflow", action="store_true")
    args = p.parse_args()

    import httpx
    import torch

    torch.set_num_threads(1)
    from dfcnn.retrieval.retriever import Retriever

    work = Path(tempfile.mkdtemp(prefix="dfcnn-serve-bench-"))
    index_dir = Path(args.index_dir) if args.index_dir else work / "index"
    if not args.index_dir:
        build_catalogue(work / "images", args.per_class)
        build_index(work / "images", index_dir, work)
    rng = np.random.default_rng(7)
    query_paths, payloads = [], []
    for i in range(args.queries):
        path = work / f"query_{i}.jpg"
        photo(i % 3, rng).save(path, quality=90)
        query_paths.append(str(path))
        payloads.append(path.read_bytes())

    retriever = Retriever.from_index(index_dir)
    proc, url = start_server(index_dir, work)
    results: dict[str, float] = {}
    try:
        with httpx.Client(base_url=url, timeout=120) as client:
            def http_search(i: int) -> float:
                t = time.perf_counter()
                r = client.post("/search", files={"file": ("q.jpg", payloads[i], "image/jpeg")},
                                data={"top_k": str(args.top_k)})
                ms = 1000 * (time.perf_counter() - t)
                assert r.status_code == 200, r.text
                assert [h["path"] for h in r.json()["results"]] == [h["path"] for h in
                                                                    retriever.search(query_paths[i], args.top_k)]
                return ms

            def local_search(i: int) -> float:
                t = time.perf_counter()
                retriever.search(query_paths[i], args.top_k)
                return 1000 * (time.perf_counter() - t)

            for i in range(min(4, args.queries)):  # warm-up both sides (and check they agree)
                http_search(i), local_search(i)
            local_ms, http_ms, paired = [], [], []
            for _ in range(args.paired_rounds):
                for i in range(args.queries):
                    a, b = http_search(i), local_search(i)
                    http_ms.append(a)
                    local_ms.append(b)
                    paired.append(a - b)
        results["inprocess_p50_ms"], results["inprocess_p95_ms"] = percentiles(local_ms)
        results["inprocess_req_s"] = 1000 / float(np.mean(local_ms))
        results["overhead_p50_ms"] = float(np.median(paired))
        results["overhead_p95_ms"] = float(np.percentile(paired, 95))
        for clients in args.concurrency:
            latencies, wall = asyncio.run(load(url, payloads, clients, args.requests, args.top_k))
            p50, p95 = percentiles(latencies)
            results[f"c{clients}_p50_ms"], results[f"c{clients}_p95_ms"] = p50, p95
            results[f"c{clients}_req_s"] = len(latencies) / wall
            results[f"c{clients}_throughput_ratio"] = results[f"c{clients}_req_s"] / results["inprocess_req_s"]
        results["c1_p50_ratio"] = results["c1_p50_ms"] / results["inprocess_p50_ms"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    print(f"index: {retriever.ntotal} images, method {retriever.method}; {args.queries} query photos 320x240, "
          f"top_k={args.top_k}; torch threads 1 on both sides; {os.cpu_count()} CPUs ({platform.processor() or '?'})")
    print(f"in-process           p50 {results['inprocess_p50_ms']:7.1f} ms  p95 {results['inprocess_p95_ms']:7.1f} ms"
          f"  {results['inprocess_req_s']:6.1f} req/s")
    for clients in args.concurrency:
        print(f"HTTP, {clients:2d} client(s)  p50 {results[f'c{clients}_p50_ms']:7.1f} ms  "
              f"p95 {results[f'c{clients}_p95_ms']:7.1f} ms  {results[f'c{clients}_req_s']:6.1f} req/s  "
              f"({results[f'c{clients}_throughput_ratio']:.2f}x in-process throughput)")
    verdict = "OK" if results["overhead_p50_ms"] < 10 else "OVER TARGET"
    print(f"service overhead per request (paired, same query): p50 {results['overhead_p50_ms']:.2f} ms, "
          f"p95 {results['overhead_p95_ms']:.2f} ms  [target < 10 ms at p50: {verdict}]")

    if not args.no_mlflow:
        import mlflow

        from dfcnn.tracking.benchmarks import benchmark_run

        with benchmark_run("serve"):
            mlflow.log_params({"ntotal": retriever.ntotal, "method": retriever.method, "queries": args.queries,
                               "requests": args.requests, "top_k": args.top_k, "torch_threads": 1,
                               "cpus": os.cpu_count()})
            mlflow.log_metrics(results)


if __name__ == "__main__":
    main()
