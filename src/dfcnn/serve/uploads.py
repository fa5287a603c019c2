"""Turning an untrusted upload into an RGB image, or a 4xx with a clear message.

The format is sniffed from the first bytes (never from the file name or the client's content
type) and only plain raster formats are let through to Pillow: formats whose Pillow plugins
shell out or parse scripts (EPS, PDF, ...) never reach a decoder. Decoding itself is
``dfcnn.data.decode.load_image``, so the decompression-bomb guard and every error reason are
the ones the rest of the project uses.
"""

from __future__ import annotations

import math
import os
import re
import tempfile

from PIL import Image

from dfcnn.data.decode import ImageDecodeError, load_image

#: magic bytes -> (format name, media type). Checked in order on the first 16 bytes.
_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "PNG", "image/png"),
    (b"GIF87a", "GIF", "image/gif"),
    (b"GIF89a", "GIF", "image/gif"),
    (b"BM", "BMP", "image/bmp"),
    (b"II*\x00", "TIFF", "image/tiff"),
    (b"MM\x00*", "TIFF", "image/tiff"),
)
ALLOWED = ("JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP")


class ServeError(Exception):
    """A request the service refuses (bad upload, bad id, no key, busy): HTTP ``status``, a short ``reason``,
    a message for people."""

    def __init__(self, status: int, reason: str, message: str):
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


def sniff(head: bytes) -> tuple[str, str] | None:
    """``(format, media type)`` of an allowed raster image from its first bytes, else None."""
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP", "image/webp"
    for magic, fmt, media in _SIGNATURES:
        if head.startswith(magic):
            return fmt, media
    return None


_DECODE_STATUS = {
    "empty_file": (400, "the upload is empty"),
    "truncated": (422, "the image data is truncated (the file was cut short)"),
    "corrupt": (422, "the image data is corrupt"),
    "too_many_pixels": (413, "the image has too many pixels (decompression-bomb guard)"),
}


def decode_upload(data: bytes, max_pixels: int, scratch_dir: str | None = None) -> Image.Image:
    """RGB image (EXIF orientation applied) from uploaded bytes, or ``ServeError``."""
    if not data:
        raise ServeError(400, "empty_file", "the upload is empty: send an image file in the 'file' field")
    kind = sniff(data[:16])
    if kind is None:
        raise ServeError(415, "not_an_image", "the upload is not a JPEG, PNG, WebP, GIF, BMP or TIFF image "
                          "(its content was checked; file name and content type are ignored)")
    # load_image reads a path (its checks stat the file); a private temp file keeps that one code path.
    fd, path = tempfile.mkstemp(prefix="dfcnn-upload-", dir=scratch_dir)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return load_image(path, max_pixels=max_pixels)
    except ImageDecodeError as err:
        if err.reason == "not_an_image":  # the magic bytes matched but no decoder accepts the rest
            raise ServeError(422, "corrupt", f"the data starts like a {kind[0]} image but cannot be decoded "
                              "(corrupt)") from None
        status, text = _DECODE_STATUS.get(err.reason, (422, "the image cannot be decoded"))
        detail = f" ({err.detail})" if err.detail and err.reason == "too_many_pixels" else ""
        raise ServeError(status, err.reason, f"{text}{detail}; sniffed format {kind[0]}") from None
    finally:
        os.unlink(path)


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
#: the crop box as sent in the form: four numbers, commas or spaces between, brackets optional; blank = none
BOX_PATTERN = rf"^\s*(?:\[?\s*{_NUMBER}(?:\s*[,\s]\s*{_NUMBER}){{3}}\s*\]?)?\s*$"
_BOX_RE = re.compile(BOX_PATTERN)


def parse_box(text: str | None, size: tuple[int, int]) -> list[float] | None:
    """``[x0, y0, x1, y1]`` in pixels of the (EXIF-rotated) upload, clipped to it; None when absent."""
    if text is None or not text.strip():
        return None
    if not _BOX_RE.match(text):
        raise ServeError(422, "bad_box", f"box must be four numbers x0,y0,x1,y1 in image pixels, got {text[:80]!r}")
    values = [float(v) for v in re.findall(_NUMBER, text)]
    if not all(math.isfinite(v) for v in values):
        raise ServeError(422, "bad_box", "box coordinates must be finite numbers")
    x0, y0, x1, y1 = values
    w, h = size
    cx0, cy0, cx1, cy1 = max(0.0, x0), max(0.0, y0), min(float(w), x1), min(float(h), y1)
    if cx1 - cx0 < 1 or cy1 - cy0 < 1:
        raise ServeError(422, "bad_box", f"box {values} holds no pixels of the {w}x{h} image "
                          "(need x0 < x1 and y0 < y1, inside the image)")
    return [cx0, cy0, cx1, cy1]


def display_name(filename: str | None) -> str:
    """The client's file name for the ``query`` field: informational only, never used as a path."""
    name = os.path.basename((filename or "").replace("\\", "/")).strip()
    name = "".join(ch for ch in name if ch.isprintable())[:200]
    return name or "upload"
