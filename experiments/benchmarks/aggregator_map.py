"""Class-level mAP of every aggregator on caltech101-mini, whitening learned on coco256 (issue 3).

Each caltech image queries the other 799 (leave-one-out), relevant = same class. The whitening
(output dim min(512, n-1)) is learned on coco256 images only, never on the caltech queries; the
un-whitened variant (L2 only) is reported beside it. The backbone runs once per image and size and
every aggregator reads the same feature map, with exactly the modules ``CnnDescriber`` uses
(``RetrievalNet.aggregate_images`` and ``functional.whiten_sum_pool``).

    .venv/bin/python experiments/benchmarks/aggregator_map.py            # ~10 min on 1 core
    .venv/bin/python experiments/benchmarks/aggregator_map.py --sizes 384 --per-class 10 --no-mlflow
"""

from __future__ import annotations

import argparse
import glob
import os

import numpy as np
import torch
from tqdm.auto import tqdm

from dfcnn.data.decode import ImageDecodeError
from dfcnn.features import functional as Fn
from dfcnn.features.backbones import build_backbone
from dfcnn.features.images import RecordImageDataset
from dfcnn.features.model import RetrievalNet
from dfcnn.features.pooling import build_aggregator
from dfcnn.features.whitening import PCAWhitening
from dfcnn.metrics.ranking import average_precision
from dfcnn.tracking.benchmarks import benchmark_run

AGGS = ("gap", "mac", "gem", "rmac", "crow", "dfcnn")


def region_vectors(paths: list[str], size: int, backbone, desc: str) -> dict[str, list[tuple[torch.Tensor, torch.Tensor]]]:
    """Per aggregator and image: (region vectors [R, L], weights [R]) from one backbone pass."""
    nets = {a: RetrievalNet(backbone, build_aggregator(a)) for a in AGGS}
    out: dict[str, list] = {a: [] for a in AGGS}
    dataset = RecordImageDataset(paths, size)
    for i in tqdm(range(len(dataset)), desc=desc):
        item = dataset[i]
        if item["image"] is None:
            raise ImageDecodeError(item["path"], *item["error"])
        with torch.no_grad():
            fmap = backbone(item["image"][None])
            for a, net in nets.items():
                v, w = net.aggregator(fmap)
                out[a].append((v[0], w[0]))
    return out


def mean_ap(X: np.ndarray, labels: np.ndarray) -> float:
    sims = X @ X.T
    aps = []
    for q in range(len(X)):
        order = np.argsort(-sims[q], kind="stable")
        order = order[order != q]
        aps.append(average_precision(labels[order] == labels[q]))
    return float(np.mean(aps))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shared", default="/work/shared/data")
    p.add_argument("--sizes", type=int, nargs="+", default=[384, 512])
    p.add_argument("--per-class", type=int, default=None, help="cap of caltech images per class")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-mlflow", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    coco = sorted(glob.glob(os.path.join(args.shared, "coco256", "images", "**", "*.jpg"), recursive=True))
    caltech, labels = [], []
    for cls in sorted(os.listdir(os.path.join(args.shared, "caltech101-mini"))):
        files = sorted(glob.glob(os.path.join(args.shared, "caltech101-mini", cls, "*.jpg")))[: args.per_class]
        caltech += files
        labels += [cls] * len(files)
    labels = np.array(labels)
    print(f"whitening on {len(coco)} coco256 images; {len(caltech)} caltech101-mini queries, {len(set(labels))} classes")

    backbone = build_backbone("efficientnet_lite0")
    results = {}
    for size in args.sizes:
        train = region_vectors(coco, size, backbone, f"coco256@{size}")
        test = region_vectors(caltech, size, backbone, f"caltech@{size}")
        for a in AGGS:
            rows = torch.cat([Fn.l2n(v) for v, _ in train[a]]).numpy()
            w = PCAWhitening(min(512, len(rows) - 1)).fit(rows)
            mean, proj = torch.from_numpy(w.mean_), torch.from_numpy(w.projection_)
            plain = torch.cat([Fn.whiten_sum_pool(v[None], wt[None]) for v, wt in test[a]]).numpy()
            white = torch.cat([Fn.whiten_sum_pool(v[None], wt[None], mean, proj) for v, wt in test[a]]).numpy()
            results[(size, a)] = (mean_ap(plain, labels), mean_ap(white, labels), w.n_components_)

    print(f"\n{'aggregator':<10} " + " ".join(f"{f'{s} L2':>8} {f'{s} +PCAw':>9} {'dim':>4}" for s in args.sizes))
    for a in AGGS:
        cells = " ".join(f"{100 * results[(s, a)][0]:8.2f} {100 * results[(s, a)][1]:9.2f} {results[(s, a)][2]:4d}" for s in args.sizes)
        print(f"{a:<10} {cells}")
    if not args.no_mlflow:
        import mlflow

        with benchmark_run("aggregator_map"):
            mlflow.log_params({"backbone": "efficientnet_lite0", "whitening_data": "coco256", "queries": len(caltech)})
            for (s, a), (m_plain, m_white, dim) in results.items():
                mlflow.log_metrics({f"map.{a}.{s}.l2": m_plain, f"map.{a}.{s}.pcaw": m_white, f"dim.{a}.{s}": dim})


if __name__ == "__main__":
    main()
