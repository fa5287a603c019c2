"""The short retrieval report: one table of every method's metrics, as Markdown."""

from __future__ import annotations

from pathlib import Path

COLUMNS = ("mAP", "P@1", "P@10", "R@10", "top1", "extract_ms_per_image", "search_ms_per_query")


def write_summary_report(path: Path, dataset: str, results: dict[str, dict], failures: dict[str, str],
                         rerun: str) -> Path:
    """``results``: method -> metrics; ``failures``: method -> why it did not run."""
    lines = [f"# dfcnn retrieval summary on `{dataset}`", "",
             "| method | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for method, metrics in results.items():
        cells = [f"{metrics[c]:.3f}" if c in metrics else "—" for c in COLUMNS]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    for method, why in failures.items():
        lines.append(f"| {method} | did not run: {why.splitlines()[0][:200]} |" + " |" * (len(COLUMNS) - 1))
    lines += ["", "Relevance: same product instance where the dataset has instance ids, else the same label.",
              f"Rerun: `{rerun}`", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines), encoding="utf-8")
    tmp.replace(path)
    return path
