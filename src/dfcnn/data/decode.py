"""Safe image decoding: the one function every data path uses to open an image.

Any problem with a file becomes an ``ImageDecodeError`` carrying a short reason, so a run over a
folder can skip the file, report it and carry on.
"""

from __future__ import annotations

import os
import warnings

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

ImageFile.LOAD_TRUNCATED_IMAGES = False


class ImageDecodeError(Exception):
    """A file that cannot be used as an image; ``reason`` is a short machine-friendly tag."""

    def __init__(self, path: str, reason: str, detail: str = ""):
        self.path = str(path)
        self.reason = reason
        self.detail = detail
        super().__init__(f"{path}: {reason}" + (f" ({detail})" if detail else ""))


def load_image(path: str | os.PathLike, max_pixels: int = 89_478_485) -> Image.Image:
    """Open ``path`` as an RGB image with EXIF orientation applied, or raise ImageDecodeError."""
    path = os.fspath(path)
    try:
        if os.path.getsize(path) == 0:
            raise ImageDecodeError(path, "empty_file")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if im.width * im.height > max_pixels:
                    raise ImageDecodeError(path, "too_many_pixels", f"{im.width}x{im.height} > {max_pixels}")
                im.load()
                im = ImageOps.exif_transpose(im)
                return to_rgb(im)
    except ImageDecodeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageDecodeError(path, "too_many_pixels", str(exc)) from exc
    except UnidentifiedImageError as exc:
        raise ImageDecodeError(path, "not_an_image", str(exc)) from exc
    except (FileNotFoundError, IsADirectoryError, PermissionError, OSError) as exc:
        reason = "unreadable" if isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError)) else "corrupt"
        raise ImageDecodeError(path, reason, str(exc)) from exc
    except (ValueError, SyntaxError) as exc:
        raise ImageDecodeError(path, "corrupt", str(exc)) from exc


def to_rgb(im: Image.Image) -> Image.Image:
    """Convert any Pillow mode to RGB; transparency is composited on white."""
    if im.mode == "RGB":
        return im
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA"):
        im = im.convert("RGBA")
        background = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, im).convert("RGB")
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        import numpy as np

        arr = np.asarray(im, dtype=np.float64)
        hi = arr.max() or 1.0
        im = Image.fromarray((arr * (255.0 / hi)).clip(0, 255).astype("uint8"), "L")
    return im.convert("RGB")
