"""Search speed of the exact backend against ``faiss.IndexFlatIP`` in the same run (issue 5).

For each database size N (d = 512, unit vectors): ms/query for single queries (one search call
per query) and for a batch (all queries in one call), exact/FAISS ratios (targets: ≤ 1.5 single,
≤ 1.2 batched), the Eq. 14 re-ranking cost per query at K = 10, M = 100, and bytes per indexed
image. Both backends get the same thread count; timings are medians of interleaved repeats so
other jobs on the machine hit both alike.

    .venv/bin/python experiments/benchmarks/search.py                    # N = 10k, 100k: ~2 min
    .venv/bin/python experiments/benchmarks/search.py --sizes 1000000 --dtype float16 --no-mlflow
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from dfcnn.retrieval.exact import ExactIndex, resolve_threads
from dfcnn.retrieval.fuzzy import fuzzy_rerank, neighbour_graph
from dfcnn.tracking.benchmarks import benchmark_run


def unit_vectors(n: int, d: int, seed: int, chunk: int = 100_000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((n, d), np.float32)
    for s in range(0, n, chunk):
        x = rng.standard_normal((min(chunk, n - s), d), dtype=np.float32)
        out[s:s + len(x)] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times))


def bench_size(n: int, d: int, k: int, n_single: int, n_batch: int, dtype: str, threads: int, repeats: int) -> dict:
    import faiss

    db = unit_vectors(n, d, seed=n)
    queries = unit_vectors(max(n_single, n_batch), d, seed=1)
    exact = ExactIndex(d, dtype=dtype, threads=threads)
    exact.add(db)
    flat = faiss.IndexFlatIP(d)
    flat.add(db)
    faiss.omp_set_num_threads(threads)
    single_q = queries[:n_single]
    batch_q = queries[:n_batch]

    def exact_single():
        for q in single_q:
            exact.search(q[None, :], k)

    def faiss_single():
        for q in single_q:
            flat.search(q[None, :], k)

    out = {}
    for name, fn, nq in (("exact_single", exact_single, n_single), ("faiss_single", faiss_single, n_single),
                         ("exact_batch", lambda: exact.search(batch_q, k), n_batch),
                         ("faiss_batch", lambda: flat.search(batch_q, k), n_batch)):
        out[f"{name}_ms_per_query"] = median_ms(fn, repeats) / nq
    # same answers (float32): the benchmark compares equal work
    if dtype == "float32":
        _, i1 = exact.search(batch_q[:20], k)
        _, i2 = flat.search(batch_q[:20], k)
        out["agreement_top_k"] = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(i1, i2)]))
    out["single_ratio"] = out["exact_single_ms_per_query"] / out["faiss_single_ms_per_query"]
    out["batch_ratio"] = out["exact_batch_ms_per_query"] / out["faiss_batch_ms_per_query"]
    return out


def bench_rerank(n: int, d: int, K: int, M: int, n_queries: int, repeats: int) -> dict:
    """Eq. 14 re-ranking of the top-M per query (graph built once at index time, not timed here)."""
    db = unit_vectors(n, d, seed=7)
    index = ExactIndex(d)
    index.add(db)
    t = time.perf_counter()
    graph_ids, graph_sims = neighbour_graph(index, db, K)
    graph_s = time.perf_counter() - t
    scores, ids = index.search(unit_vectors(n_queries, d, seed=8), M)
    graph_ids = graph_ids.astype(np.int32)
    one = median_ms(lambda: [fuzzy_rerank(scores[i:i + 1], ids[i:i + 1], graph_ids, graph_sims, 0.5)
                             for i in range(n_queries)], repeats) / n_queries
    batch = median_ms(lambda: fuzzy_rerank(scores, ids, graph_ids, graph_sims, 0.5), repeats) / n_queries
    return {"rerank_single_ms_per_query": one, "rerank_batch_ms_per_query": batch,
            f"graph_build_s_at_{n}": graph_s}


def bytes_per_image(d: int, dtype: str, K: int, path_chars: int = 80) -> dict:
    """What one image costs in an index dir: descriptor + Eq. 14 graph + its records.json entry."""
    desc = d * 4  # descriptors.npy is always float32 (the dtype choice applies to the in-memory index)
    graph = K * (4 + 4)  # int32 ids + float32 cosines
    record = path_chars + 70  # {"path": ..., "label": ..., "labels": [...], ...}
    memory = d * np.dtype(dtype).itemsize + graph
    return {"bytes_per_image_disk": float(desc + graph + record), "bytes_per_image_memory": float(memory)}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--single", type=int, default=50, help="single queries timed one call each")
    p.add_argument("--batch", type=int, default=1000, help="queries in the batched call")
    p.add_argument("--dtype", default="float32", choices=["float32", "float16"])
    p.add_argument("--threads", type=int, default=0, help="0 = all cores")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--rerank-n", type=int, default=10_000)
    p.add_argument("--no-mlflow", action="store_true")
    args = p.parse_args(argv)
    threads = resolve_threads(args.threads)
    results: dict[str, float] = {}
    for n in args.sizes:
        r = bench_size(n, args.dim, args.k, args.single, args.batch, args.dtype, threads, args.repeats)
        results.update({f"N{n}.{k}": v for k, v in r.items()})
        print(f"N={n:>8} d={args.dim} {args.dtype} threads={threads}: "
              f"single exact {r['exact_single_ms_per_query']:.3f} ms vs faiss {r['faiss_single_ms_per_query']:.3f} ms "
              f"(ratio {r['single_ratio']:.2f}); batch exact {r['exact_batch_ms_per_query']:.3f} ms vs faiss "
              f"{r['faiss_batch_ms_per_query']:.3f} ms (ratio {r['batch_ratio']:.2f})", flush=True)
    rr = bench_rerank(args.rerank_n, args.dim, 10, 100, 200, args.repeats)
    results.update(rr)
    print(f"Eq. 14 re-ranking, K=10, M=100: {rr['rerank_single_ms_per_query']:.3f} ms/query single, "
          f"{rr['rerank_batch_ms_per_query']:.3f} ms/query batched (graph of {args.rerank_n} built in "
          f"{rr[f'graph_build_s_at_{args.rerank_n}']:.1f} s)")
    b = bytes_per_image(args.dim, args.dtype, 10)
    results.update(b)
    print(f"bytes per indexed image (d={args.dim}, K=10): {b['bytes_per_image_disk']:.0f} on disk, "
          f"{b['bytes_per_image_memory']:.0f} in memory ({args.dtype})")
    if not args.no_mlflow:
        import mlflow

        with benchmark_run("search"):
            mlflow.log_params({"dim": args.dim, "k": args.k, "dtype": args.dtype, "threads": threads,
                               "single": args.single, "batch": args.batch, "cpu": platform.processor() or platform.machine()})
            mlflow.log_metrics(results)
    return results


if __name__ == "__main__":
    main()
