"""Thumbnails of catalogue images, made on first request and cached on disk.

A cache file is named by a hash of the image path, its size and mtime and the thumbnail size,
so a changed catalogue file gets a fresh thumbnail and stale ones are simply never asked for.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from dfcnn.data.decode import DEFAULT_MAX_PIXELS, ImageDecodeError, load_image

log = logging.getLogger(__name__)


class ThumbnailCache:
    """``path(source) -> Path`` of a JPEG thumbnail whose longer side is at most ``size`` pixels."""

    def __init__(self, directory: str | os.PathLike, size: int = 256, max_pixels: int = DEFAULT_MAX_PIXELS,
                 quality: int = 85):
        if size < 16:
            raise ValueError(f"thumbnail size must be at least 16 pixels, got {size}")
        self.directory = Path(directory)
        self.size = int(size)
        self.max_pixels = int(max_pixels)
        self.quality = int(quality)

    def _key(self, source: str) -> str:
        st = os.stat(source)
        text = f"{os.path.abspath(source)}|{st.st_size}|{st.st_mtime_ns}|{self.size}|{self.quality}"
        return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:40]

    def path(self, source: str) -> Path:
        """The cached thumbnail of ``source``, made now if missing; ``ImageDecodeError`` if unreadable."""
        try:
            key = self._key(source)
        except OSError as exc:
            raise ImageDecodeError(source, "unreadable", exc.strerror or str(exc)) from exc
        target = self.directory / key[:2] / f"{key}.jpg"
        if target.is_file():
            return target
        image = load_image(source, max_pixels=self.max_pixels, max_side=self.size)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{id(image)}.tmp")
        try:
            image.save(tmp, format="JPEG", quality=self.quality)
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                tmp.unlink()
        log.debug("thumbnail %s -> %s", source, target)
        return target

    def count(self) -> int:
        return sum(1 for _ in self.directory.glob("*/*.jpg")) if self.directory.is_dir() else 0
