"""Fig. 9: per field, feature extraction ms/image and result generation ms/query."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from dfcnn.data.decode import load_image
from dfcnn.experiments.artefacts import MissingData
from dfcnn.experiments.retrieval_eval import MethodResult
from dfcnn.metrics.timing import time_ms


def runtime_by_field(result: MethodResult, images_per_field: int, repeats: int, top_k: int) -> dict[str, dict]:
    """``field -> {extract_ms, extract_std, search_ms, search_std}`` over that field's queries.

    Extraction times ``describe_image`` on decoded images (decoding excluded, as the paper
    times the feature extractor); result generation times a top-k search of one query vector.
    """
    rows = defaultdict(list)
    for i, q in enumerate(result.queries):
        rows[q.label].append(i)
    if not rows:
        raise MissingData("Fig. 9 needs query images")
    out = {}
    for field in sorted(rows):
        picked = rows[field][:images_per_field]
        images = [load_image(result.queries[i].path) for i in picked]
        vectors = result.query_vectors[picked]
        extract = time_ms(lambda: [result.describer.describe_image(im) for im in images], repeats=repeats)
        search = time_ms(lambda: [result.index.search(v[None, :], top_k) for v in vectors], repeats=repeats)
        n = len(picked)
        out[field] = {"extract_ms": extract[0] / n, "extract_std": extract[1] / n,
                      "search_ms": search[0] / n, "search_std": search[1] / n, "n_images": n}
    return out


def plot(runtimes: dict[str, dict[str, dict]], path) -> None:
    import matplotlib.pyplot as plt

    methods = list(runtimes)
    fields = sorted({f for r in runtimes.values() for f in r})
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.8 / max(len(methods), 1)
    for ax, (key, title) in zip(axes, (("extract", "feature extraction (ms/image)"),
                                       ("search", "result generation (ms/query)"))):
        for m, method in enumerate(methods):
            means = [runtimes[method].get(f, {}).get(f"{key}_ms", np.nan) for f in fields]
            stds = [runtimes[method].get(f, {}).get(f"{key}_std", 0.0) for f in fields]
            ax.bar(np.arange(len(fields)) + m * width, means, width, yerr=stds, label=method, capsize=2)
        ax.set_xticks(np.arange(len(fields)) + 0.4 - width / 2, fields)
        ax.set(title=title, xlabel="field")
        ax.grid(alpha=0.3, axis="y")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
