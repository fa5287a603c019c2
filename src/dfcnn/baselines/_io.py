"""Atomic, pickle-free writes for the baselines' persisted files (temp file + os.replace)."""

from __future__ import annotations

import json
import os
import tempfile

import numpy as np


def _atomic_write(path: str, write) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_npy(path: str, array: np.ndarray) -> None:
    _atomic_write(path, lambda fh: np.save(fh, np.ascontiguousarray(array), allow_pickle=False))


def load_npy(path: str) -> np.ndarray:
    return np.load(path, allow_pickle=False)


def save_json(path: str, obj: dict) -> None:
    data = json.dumps(obj, indent=2, sort_keys=True).encode("utf-8")
    _atomic_write(path, lambda fh: fh.write(data))


def load_json(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)
