"""``data=folder``: any folder of images; the first sub-folder level is the label when present."""

from __future__ import annotations

import logging
import os

from dfcnn.data.listing import usable, walk_images
from dfcnn.data.records import ImageRecord
from dfcnn.data.select import cap_per_class
from dfcnn.data.skipped import SkipLog

logger = logging.getLogger(__name__)


def load_folder(cfg, skip_log: SkipLog | None = None) -> list[ImageRecord]:
    """Records for every usable image under ``cfg.root``; label = top sub-folder name, or the
    root folder's own name for images lying directly in it."""
    if not cfg.root:
        raise ValueError("data=folder needs data.root=<folder of images>")
    root = os.path.abspath(os.path.expanduser(cfg.root))
    own_label = os.path.basename(root.rstrip(os.sep)) or "images"
    wanted = set(cfg.classes) if cfg.classes else None
    records = []
    for path in walk_images(root, skip_log):
        rel = os.path.relpath(path, root)
        parts = rel.split(os.sep)
        label = parts[0] if len(parts) > 1 else own_label
        if wanted is not None and label not in wanted:
            continue
        if not usable(path, cfg.max_pixels, skip_log, check=cfg.check_images, non_utf8=cfg.non_utf8_names):
            continue
        records.append(ImageRecord(path=path, label=label, labels=(label,)))
    records = cap_per_class(records, cfg.max_per_class, cfg.seed)
    logger.info("folder %s: %d images in %d classes", root, len(records), len({r.label for r in records}))
    return records
