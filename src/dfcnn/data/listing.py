"""Walking image folders safely: sorted, loop-free, with bad entries logged instead of raised."""

from __future__ import annotations

import logging
import os
from typing import Iterator

from dfcnn.data.decode import ImageDecodeError, probe_image
from dfcnn.data.skipped import SkipLog

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm", ".pnm"}
)


def is_utf8(name: str) -> bool:
    """False for names that only exist as surrogate-escaped bytes (not valid UTF-8 on disk)."""
    try:
        name.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def walk_images(root: str, skip_log: SkipLog | None = None) -> Iterator[str]:
    """Yield image-extension files under ``root`` in sorted order, following directory symlinks
    but never entering the same real directory twice (symlink loops are logged, not followed)."""
    root = os.path.abspath(os.fspath(root))
    if not os.path.isdir(root):
        raise FileNotFoundError(f"data.root {root!r} is not a directory")
    seen: set[str] = set()

    def _walk(directory: str) -> Iterator[str]:
        real = os.path.realpath(directory)
        if real in seen:
            if skip_log is not None:
                skip_log.add(directory, "symlink_loop", f"directory already visited as {real}")
            return
        seen.add(real)
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            if skip_log is not None:
                skip_log.add(directory, "unreadable", exc.strerror or str(exc))
            return
        subdirs = []
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = False  # a looping or broken link: treated as a file below
            if is_dir:
                subdirs.append(entry.path)
            elif os.path.splitext(entry.name)[1].lower() in IMAGE_EXTENSIONS:
                yield entry.path
        for sub in subdirs:
            yield from _walk(sub)

    yield from _walk(root)


def usable(path: str, max_pixels: int, skip_log: SkipLog | None, *, check: bool, non_utf8: str) -> bool:
    """Header-level screening of one listed file; logs and returns False for a bad one."""
    if non_utf8 == "skip" and not is_utf8(path):
        if skip_log is not None:
            skip_log.add(path, "non_utf8_name", "file name is not valid UTF-8; rename it to index it")
        return False
    if not check:
        return True
    try:
        probe_image(path, max_pixels)
    except ImageDecodeError as err:
        if skip_log is not None:
            skip_log.add_error(err)
        return False
    return True
