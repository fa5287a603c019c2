"""Small generated images (no dev data needed) and the dev-data locations, skipped when absent."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image

from dfcnn.data.records import ImageRecord

SHARED = os.environ.get("DFCNN_SHARED", "/work/shared")
MOBILENET_WEIGHTS = os.path.join(SHARED, "weights", "mobilenet_v2_imagenet.pth")


@pytest.fixture
def mobilenet_weights() -> str:
    """The dev-only torchvision mobilenet_v2 ImageNet state dict; the test skips without it."""
    if not os.path.isfile(MOBILENET_WEIGHTS):
        pytest.skip(f"dev weights file absent: {MOBILENET_WEIGHTS}")
    return MOBILENET_WEIGHTS


@pytest.fixture(autouse=True)
def _one_thread():
    """Other engineers share the CPUs: keep torch to one thread in these tests."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def draw(seed: int, size=(96, 64)) -> Image.Image:
    """A deterministic picture: coloured rectangles and a disc on a gradient."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 255 / w, yy * 255 / h, np.full((h, w), 40.0)], axis=-1)
    for _ in range(3):
        x0, y0 = rng.integers(0, w // 2), rng.integers(0, h // 2)
        img[y0 : y0 + h // 3, x0 : x0 + w // 3] = rng.integers(0, 255, size=3)
    cx, cy, r = rng.integers(w // 4, 3 * w // 4), rng.integers(h // 4, 3 * h // 4), h // 5
    img[(xx - cx) ** 2 + (yy - cy) ** 2 < r * r] = rng.integers(0, 255, size=3)
    return Image.fromarray(img.clip(0, 255).astype(np.uint8))


@pytest.fixture
def drawn():
    return draw


@pytest.fixture
def image_records(tmp_path) -> list[ImageRecord]:
    """Six generated JPEG/PNG images of mixed sizes, plus a corrupt and an empty file."""
    records = []
    sizes = [(96, 64), (96, 64), (64, 96), (80, 80), (96, 64), (120, 50)]
    for i, size in enumerate(sizes):
        path = tmp_path / f"img{i}.{'png' if i % 2 else 'jpg'}"
        draw(i, size).save(path)
        records.append(ImageRecord(path=str(path), label=f"c{i % 2}"))
    bad = tmp_path / "corrupt.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    records.insert(2, ImageRecord(path=str(bad), label="c0"))
    records.append(ImageRecord(path=str(empty), label="c1"))
    return records
