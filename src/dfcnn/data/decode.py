"""Safe image decoding: the one module every data path uses to open an image.

Any problem with a file becomes an ``ImageDecodeError`` carrying a short reason (``empty_file``,
``not_an_image``, ``truncated``, ``corrupt``, ``too_many_pixels``, ``unreadable``,
``symlink_loop``), so a run over a folder can skip the file, log it in ``skipped.jsonl`` and
carry on. Every Pillow mode comes back as RGB with the EXIF orientation applied.

Speed: when the caller only needs a bounded size (``max_side``), JPEGs are decoded at a reduced
DCT scale with ``Image.draft`` before the final resize -- the fastest path measured by
``experiments/benchmarks/decoding.py`` (faster than a full decode, on par with or ahead of
OpenCV's reduced decode, and it keeps Pillow's EXIF and mode handling).
"""

from __future__ import annotations

import errno
import logging
import math
import os
import struct
import warnings

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

logger = logging.getLogger(__name__)

ImageFile.LOAD_TRUNCATED_IMAGES = False
DEFAULT_MAX_PIXELS = 89_478_485  # Pillow's own default bomb limit
REASONS = (
    "empty_file",
    "not_an_image",
    "truncated",
    "corrupt",
    "too_many_pixels",
    "unreadable",
    "symlink_loop",
)


class ImageDecodeError(Exception):
    """A file that cannot be used as an image; ``reason`` is a short machine-friendly tag."""

    def __init__(self, path, reason: str, detail: str = ""):
        self.path = os.fsdecode(path) if isinstance(path, bytes) else str(path)
        self.reason = reason
        self.detail = detail
        super().__init__(f"{self.path!r}: {reason}" + (f" ({detail})" if detail else ""))


def _allow_pillow_limit(max_pixels: int) -> None:
    """Pillow refuses images above 2x its global limit before we can look; we do our own check,
    so lift Pillow's limit only when the configured one is higher."""
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and max_pixels > limit:
        logger.info("raising Pillow's MAX_IMAGE_PIXELS from %s to %s (own check applies)", limit, max_pixels)
        Image.MAX_IMAGE_PIXELS = int(max_pixels)


def _os_reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symlink_loop"
    if isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)):
        return "unreadable"
    if exc.errno in (errno.ENOENT, errno.EACCES, errno.EPERM, errno.EISDIR, errno.ENAMETOOLONG, errno.EIO):
        return "unreadable"
    return ""


def _data_reason(message: str) -> str:
    """Pillow reports a file cut short as "...truncated..." / "Truncated File Read"."""
    return "truncated" if "truncat" in message.lower() else "corrupt"


def _check_file(path) -> None:
    """Raise for paths that cannot be opened as a regular, non-empty file."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise ImageDecodeError(path, _os_reason(exc) or "unreadable", exc.strerror or str(exc)) from exc
    if not os.path.isfile(path):
        raise ImageDecodeError(path, "unreadable", "not a regular file")
    if st.st_size == 0:
        raise ImageDecodeError(path, "empty_file")


def _open(path, max_pixels: int) -> Image.Image:
    _check_file(path)
    _allow_pillow_limit(max_pixels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise ImageDecodeError(path, "too_many_pixels", str(exc)) from exc
    except UnidentifiedImageError as exc:
        raise ImageDecodeError(path, "not_an_image", "unknown or unsupported format") from exc
    except OSError as exc:
        raise ImageDecodeError(path, _os_reason(exc) or _data_reason(str(exc)), str(exc)) from exc
    except (ValueError, SyntaxError, EOFError, struct.error) as exc:
        raise ImageDecodeError(path, "corrupt", str(exc)) from exc
    if im.width <= 0 or im.height <= 0:
        im.close()
        raise ImageDecodeError(path, "corrupt", f"size {im.width}x{im.height}")
    if im.width * im.height > max_pixels:
        size = f"{im.width}x{im.height} > {max_pixels}"
        im.close()
        raise ImageDecodeError(path, "too_many_pixels", size)
    return im


def probe_image(path, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """Header-only check: ``(width, height)`` of a readable image, or ImageDecodeError.

    Cheap (no pixel decode), so listing a folder can drop empty, non-image, oversized and
    unreadable files; truncated pixel data only shows at ``load_image`` time.
    """
    im = _open(path, max_pixels)
    try:
        return im.width, im.height
    finally:
        im.close()


def load_image(path, max_pixels: int = DEFAULT_MAX_PIXELS, max_side: int | None = None) -> Image.Image:
    """Open ``path`` as an RGB image with EXIF orientation applied, or raise ImageDecodeError.

    ``max_side``: when set and the image is larger, the result is downscaled so that its longer
    side equals ``max_side`` (JPEGs decode at a reduced DCT scale first, see module docstring).
    """
    im = _open(path, max_pixels)
    try:
        if max_side is not None and max(im.size) > max_side and im.format == "JPEG":
            scale = max_side / max(im.size)
            im.draft(None, (math.ceil(im.width * scale), math.ceil(im.height * scale)))
        try:
            im.load()
        except OSError as exc:
            text = str(exc)
            reason = _os_reason(exc) or _data_reason(text)
            raise ImageDecodeError(path, reason, text) from exc
        except (ValueError, SyntaxError, EOFError, struct.error, MemoryError) as exc:
            raise ImageDecodeError(path, "corrupt", f"{type(exc).__name__}: {exc}") from exc
        try:
            out = ImageOps.exif_transpose(im)
        except Exception as exc:  # malformed EXIF must not cost the image
            logger.debug("%r: EXIF orientation ignored (%s)", path, exc)
            out = im
        out = to_rgb(out)
        if max_side is not None and max(out.size) > max_side:
            out = resize_longer_side(out, max_side)
        return out
    finally:
        im.close()


def resize_longer_side(im: Image.Image, side: int, resample=Image.Resampling.BILINEAR) -> Image.Image:
    """Resize so that the longer side is ``side`` pixels (aspect kept)."""
    w, h = im.size
    scale = side / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if size == im.size:
        return im
    return im.resize(size, resample, reducing_gap=None if scale > 0.5 else 2.0)


def to_rgb(im: Image.Image) -> Image.Image:
    """Convert any Pillow mode to RGB; transparency is composited on white, 16-bit scaled to 8."""
    if im.mode == "RGB":
        return im
    if im.mode == "P":
        im = im.convert("RGBA") if "transparency" in im.info else im.convert("RGB")
        if im.mode == "RGB":
            return im
    if im.mode in ("RGBa", "La"):
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA"):
        im = im.convert("RGBA")
        background = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, im).convert("RGB")
    if im.mode.startswith("I;16") or im.mode in ("I", "F"):
        arr = np.asarray(im)
        if arr.dtype.kind == "f":
            hi = float(np.nanmax(arr)) if arr.size else 1.0
            arr = np.nan_to_num(arr) * (255.0 / (hi if hi > 1.0 else 1.0))
        elif im.mode.startswith("I;16") or (arr.size and arr.max() <= 65535 and arr.max() > 255):
            arr = arr.astype(np.float64) / 257.0
        im = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L")
    return im.convert("RGB")


def iter_images(records, skip_log=None, max_pixels: int = DEFAULT_MAX_PIXELS, max_side: int | None = None):
    """Yield ``(record, RGB image)`` for every decodable record; bad ones go to ``skip_log``.

    The loop every describer runs: one bad file costs one ``skipped.jsonl`` line, not the run.
    """
    for record in records:
        try:
            image = load_image(record.path, max_pixels=max_pixels, max_side=max_side)
        except ImageDecodeError as err:
            if skip_log is not None:
                skip_log.add_error(err)
            else:
                logger.warning("skipped %s", err)
            continue
        yield record, image
