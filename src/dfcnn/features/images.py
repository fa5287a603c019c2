"""Image pre-processing (SPEC §2.1) and the dataset that streams records as tensors.

Images are decoded with :func:`dfcnn.data.decode.load_image` (RGB, EXIF applied), their longer
side resized to ``image_size`` (or squashed to ``fixed_size`` × ``fixed_size`` for networks that
need a square input, e.g. Inception-v3 at 299), and returned as float ``[3, H, W]`` in [0, 255];
the backbone applies its own normalisation. A file that cannot be decoded becomes an error
entry of the batch rather than an exception, so one bad image never stops an extraction.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from dfcnn.data.decode import ImageDecodeError, load_image, resize_longer_side
from dfcnn.data.records import ImageRecord

MIN_SIDE = 32  # the shorter side is kept at least this long so every backbone yields a map


def preprocess(image: Image.Image, image_size: int, fixed_size: Optional[int] = None) -> torch.Tensor:
    """PIL image -> float tensor ``[3, H, W]`` in [0, 255], resized as SPEC §2.1 says.

    The resize is :func:`dfcnn.data.decode.resize_longer_side`, the one ``load_image(max_side=)``
    applies, so a query image and the same file streamed from disk give the same tensor.
    """
    if image.mode != "RGB":
        image = image.convert("RGB")
    if fixed_size:
        image = image.resize((fixed_size, fixed_size), Image.BILINEAR) if image.size != (fixed_size,) * 2 else image
    else:
        image = resize_longer_side(image, image_size)
        if min(image.size) < MIN_SIDE:  # extreme aspect ratios: keep a usable feature map
            image = image.resize((max(MIN_SIDE, image.width), max(MIN_SIDE, image.height)), Image.BILINEAR)
    array = np.asarray(image, dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float()


class RecordImageDataset(Dataset):
    """Records -> ``{"index", "path", "image" or None, "error" or None}``, decoding lazily."""

    def __init__(
        self,
        records: Sequence[ImageRecord] | Sequence[str],
        image_size: int,
        fixed_size: Optional[int] = None,
        max_pixels: int = 89_478_485,
    ):
        self.paths = [r if isinstance(r, str) else r.path for r in records]
        self.image_size = image_size
        self.fixed_size = fixed_size
        self.max_pixels = max_pixels

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict:
        path = self.paths[index]
        try:
            # JPEGs larger than needed decode at a reduced DCT scale (much faster, same size out)
            max_side = None if self.fixed_size else self.image_size
            image = preprocess(load_image(path, self.max_pixels, max_side=max_side), self.image_size, self.fixed_size)
            return {"index": index, "path": path, "image": image, "error": None}
        except ImageDecodeError as exc:
            return {"index": index, "path": path, "image": None, "error": (exc.reason, exc.detail)}


def collate_images(items: list[dict]) -> dict:
    """Keep images as a list (sizes differ); separate the decode errors from the good images."""
    good = [it for it in items if it["image"] is not None]
    return {
        "index": [it["index"] for it in good],
        "path": [it["path"] for it in good],
        "images": [it["image"] for it in good],
        "errors": [(it["index"], it["path"], *it["error"]) for it in items if it["image"] is None],
    }
