"""The run's record of unusable images, so a bad file costs one line, not the whole run."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import Counter

logger = logging.getLogger(__name__)


class SkipLog:
    """Appends ``{"path", "reason", "detail"}`` lines to ``skipped.jsonl`` (created on first use).

    ``jsonl_path=None`` keeps the entries in memory only (handy for library calls without a run
    directory). Non-UTF-8 file names are written with JSON escapes, so the file stays valid UTF-8.
    """

    def __init__(self, jsonl_path: str | os.PathLike | None):
        self.path = os.fspath(jsonl_path) if jsonl_path is not None else None
        self._counter: Counter = Counter()
        self._entries: list[dict] = []
        self._lock = threading.Lock()

    def add(self, path, reason: str, detail: str = "") -> None:
        entry = {"path": _printable(path), "reason": str(reason), "detail": str(detail)}
        line = json.dumps(entry, ensure_ascii=True)
        with self._lock:
            self._counter[entry["reason"]] += 1
            self._entries.append(entry)
            if self.path is not None:
                parent = os.path.dirname(self.path)
                if parent:
                    os.makedirs(parent, exist_ok=True)
                with open(self.path, "a", encoding="utf-8") as fh:
                    fh.write(line + "\n")
        logger.warning("skipped %s: %s%s", entry["path"], reason, f" ({detail})" if detail else "")

    def add_error(self, error) -> None:
        """Log an ``ImageDecodeError`` (anything with ``path``, ``reason``, ``detail``)."""
        self.add(error.path, error.reason, getattr(error, "detail", ""))

    @property
    def count(self) -> int:
        return sum(self._counter.values())

    def reasons(self) -> Counter:
        return Counter(self._counter)

    @property
    def entries(self) -> list[dict]:
        return list(self._entries)

    def metrics(self, prefix: str = "skipped") -> dict[str, float]:
        """``{"skipped": n, "skipped/<reason>": k, ...}`` for MLflow."""
        out = {prefix: float(self.count)}
        out.update({f"{prefix}/{reason}": float(n) for reason, n in sorted(self._counter.items())})
        return out

    @classmethod
    def read(cls, jsonl_path) -> list[dict]:
        """The entries of an existing ``skipped.jsonl`` (empty when the file does not exist)."""
        if not os.path.exists(jsonl_path):
            return []
        with open(jsonl_path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]


def _printable(path) -> str:
    """A str for any path, bytes or str with surrogate escapes (non-UTF-8 names) included."""
    if isinstance(path, bytes):
        return path.decode("utf-8", errors="backslashreplace")
    path = os.fspath(path)
    if isinstance(path, bytes):
        return path.decode("utf-8", errors="backslashreplace")
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return path.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="backslashreplace")
