"""Fig. 11: content matching degree CMD(L) at several result-list lengths, searches per field."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from dfcnn.experiments.artefacts import MissingData
from dfcnn.experiments.retrieval_eval import MethodResult
from dfcnn.metrics.ranking import content_matching_degree


def cmd_table(result: MethodResult, lengths: list[int], searches_per_field: int) -> dict[int, np.ndarray]:
    """For each L: CMD(L) in % of ``searches_per_field`` queries from every field."""
    by_field = defaultdict(list)
    for i, q in enumerate(result.queries):
        by_field[q.label].append(i)
    short = {f: len(rows) for f, rows in by_field.items() if len(rows) < searches_per_field}
    if short:
        raise MissingData(f"Fig. 11 needs {searches_per_field} searches per field; fields short of that: {short}")
    if max(lengths) > len(result.database):
        raise MissingData(f"Fig. 11 needs at least {max(lengths)} database images, the data has {len(result.database)}")
    rows = [i for f in sorted(by_field) for i in by_field[f][:searches_per_field]]
    db_labels = [d.label_set() for d in result.database]
    table = {}
    for length in lengths:
        values = []
        for i in rows:
            ranked = [db_labels[j] for j in result.ranked_ids[i][:length]]
            values.append(100.0 * content_matching_degree(result.queries[i].label_set(), ranked, length))
        table[length] = np.array(values)
    return table


def plot(tables: dict[str, dict[int, np.ndarray]], path) -> None:
    import matplotlib.pyplot as plt

    methods = list(tables)
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.8 / max(len(methods), 1)
    for m, method in enumerate(methods):
        lengths = sorted(tables[method])
        positions = [k + m * width for k in range(len(lengths))]
        box = ax.boxplot([tables[method][length] for length in lengths], positions=positions,
                         widths=width * 0.9, patch_artist=True, manage_ticks=False)
        for patch in box["boxes"]:
            patch.set_facecolor(f"C{m}")
        ax.plot([], [], color=f"C{m}", label=method, linewidth=6)
    if methods:
        lengths = sorted(tables[methods[0]])
        ax.set_xticks([k + 0.4 - width / 2 for k in range(len(lengths))], [f"L={length}" for length in lengths])
    ax.set(ylabel="content matching degree (%)", title="Content matching degree by result-list length")
    ax.legend()
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
