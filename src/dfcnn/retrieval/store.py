"""The self-contained index directory: layout, manifest with versions and checksums, checks on read.

Layout (everything readable without pickle and without this project's code)::

    manifest.json     format, method, describer kind, dim, size, retrieval settings, versions,
                      sha256 + size of every other file
    config.yaml       the resolved config of the dfcnn-index run
    records.json      one entry per indexed image, in id order: absolute path, label(s), instance id(s)
    describer/        the fitted describer (whitening, forest, vocabulary) as JSON / .npy / UBJ
    descriptors.npy   [N, d] float32 describer outputs
    graph_ids.npy, graph_sims.npy   Eq. 14 neighbour lists
    vectors.npy       (DBA only) the augmented database vectors
    index/            (FAISS only) faiss.index + index.json
    local/            (retrieval.verify.local_features only) key-points + descriptors for geometric
                      verification, memory-mapped .npy (see dfcnn.retrieval.local_store)

The whole directory is written beside the target and renamed into place (atomic).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import platform
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Sequence

from dfcnn.config.retrieval import RetrievalConfig
from dfcnn.data.records import ImageRecord
from dfcnn.persist import atomic_directory, atomic_write_text

log = logging.getLogger(__name__)

FORMAT = "dfcnn-index"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
RECORDS = "records.json"
CONFIG = "config.yaml"
DESCRIBER_DIR = "describer"
PACKAGES = ("dfcnn", "numpy", "torch", "torchvision", "scikit-learn", "xgboost", "faiss-cpu", "efficientnet-lite-pytorch")


class IndexDirError(ValueError):
    """The index directory is missing, empty, corrupt, or not a dfcnn index."""


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def record_to_json(r: ImageRecord) -> dict:
    return {"path": os.path.abspath(r.path), "label": r.label, "labels": list(r.labels),
            "instance_id": r.instance_id, "instance_ids": list(r.instance_ids)}


def record_from_json(d: dict) -> ImageRecord:
    return ImageRecord(path=d["path"], label=d.get("label") or "", labels=tuple(d.get("labels") or ()),
                       instance_id=d.get("instance_id"), instance_ids=tuple(d.get("instance_ids") or ()))


def _json_safe(obj):
    return json.loads(json.dumps(obj, default=str))


def write_index_dir(target: str | os.PathLike, *, describer, describer_kind: str, engine, records: Sequence[ImageRecord],
                    method: str, config_yaml: str, created: str | None = None, local_features=None) -> Path:
    """Write a complete index directory atomically; returns its absolute path."""
    if len(records) != engine.ntotal:
        raise ValueError(f"{len(records)} records but {engine.ntotal} indexed vectors")
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    with atomic_directory(target) as tmp:
        describer.save(str(tmp / DESCRIBER_DIR))
        engine.save(str(tmp))
        if local_features is not None:
            from dfcnn.retrieval.local_store import LOCAL_DIR

            local_features.save(str(tmp / LOCAL_DIR))
        atomic_write_text(str(tmp / RECORDS), json.dumps([record_to_json(r) for r in records], ensure_ascii=False))
        atomic_write_text(str(tmp / CONFIG), config_yaml)
        files = {}
        for path in sorted(p for p in tmp.rglob("*") if p.is_file()):
            rel = path.relative_to(tmp).as_posix()
            files[rel] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
        manifest = {
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "created": created or now, "updated": now,
            "method": method, "describer_kind": describer_kind,
            "dim": int(engine.dim), "n_items": int(engine.ntotal),
            "retrieval": asdict(engine.settings),
            "describer_info": _json_safe(getattr(describer, "info", {})),
            "versions": package_versions(),
            "files": files,
        }
        atomic_write_text(str(tmp / MANIFEST), json.dumps(manifest, indent=2, ensure_ascii=False))
    return Path(target).resolve()


def read_manifest(index_dir: str | os.PathLike, verify: bool = True) -> dict:
    """The manifest of a valid index dir, or IndexDirError saying what is wrong with it."""
    d = Path(index_dir).expanduser()
    hint = "build one with: dfcnn-index data=folder data.root=DIR index_dir=OUT"
    if not d.exists():
        raise IndexDirError(f"index_dir {str(d)!r} does not exist; {hint}")
    if not d.is_dir():
        raise IndexDirError(f"index_dir {str(d)!r} is not a directory; {hint}")
    if not any(d.iterdir()):
        raise IndexDirError(f"index_dir {str(d)!r} is empty; {hint}")
    mpath = d / MANIFEST
    if not mpath.is_file():
        raise IndexDirError(f"index_dir {str(d)!r} is not a dfcnn index (no {MANIFEST}); {hint}")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexDirError(f"{mpath}: corrupt manifest ({exc}); rebuild the index") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IndexDirError(f"{mpath}: not a dfcnn index manifest (format {manifest.get('format') if isinstance(manifest, dict) else None!r})")
    if int(manifest.get("format_version", -1)) > FORMAT_VERSION:
        raise IndexDirError(f"{mpath}: index format version {manifest['format_version']} is newer than this "
                            f"dfcnn understands ({FORMAT_VERSION}); upgrade dfcnn")
    for key in ("method", "describer_kind", "dim", "n_items", "retrieval", "files"):
        if key not in manifest:
            raise IndexDirError(f"{mpath}: manifest lacks {key!r}; rebuild the index")
    for rel, meta in manifest["files"].items():
        path = d / rel
        if not path.is_file():
            raise IndexDirError(f"index_dir {str(d)!r} is incomplete: {rel} is missing; rebuild the index")
        if path.stat().st_size != meta["bytes"]:
            raise IndexDirError(f"index_dir {str(d)!r} is corrupt: {rel} has {path.stat().st_size} bytes, "
                                f"the manifest says {meta['bytes']}; rebuild the index")
        if verify and sha256_file(path) != meta["sha256"]:
            raise IndexDirError(f"index_dir {str(d)!r} is corrupt: checksum of {rel} does not match the manifest; "
                                "rebuild the index")
    return manifest


def read_records(index_dir: str | os.PathLike) -> list[ImageRecord]:
    with open(Path(index_dir) / RECORDS, encoding="utf-8") as fh:
        return [record_from_json(d) for d in json.load(fh)]


def stored_settings(manifest: dict) -> RetrievalConfig:
    from dfcnn.retrieval.engine import settings_from
    from dfcnn.retrieval.verify import SIFT_CONTRAST

    stored = dict(manifest["retrieval"])
    if isinstance(stored.get("verify"), dict):  # keys added after the index was built: what it was built with
        stored["verify"] = {"visual_words": 0, "contrast_threshold": SIFT_CONTRAST, **stored["verify"]}
    return settings_from(stored)
