"""A tiny real index (generated images, method=cnn at 128 px) and apps over it, shared by the serve tests."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

CLASSES = ("discs", "bars", "tiles")
COLOURS = ((215, 45, 40), (40, 70, 215), (40, 180, 60))
INDEX_OVERRIDES = ["method=cnn", "backbone.image_size=128", "retrieval.fuzzy_k=3", "retrieval.fuzzy_m=10"]


def draw(class_index: int, rng, size=(120, 96)) -> Image.Image:
    """A small photo whose class shows in shape and colour, varied by ``rng``."""
    im = Image.new("RGB", size, tuple(int(v) for v in rng.integers(200, 250, 3)))
    pen = ImageDraw.Draw(im)
    colour = COLOURS[class_index]
    for _ in range(5):
        x, y, r = int(rng.integers(10, size[0] - 10)), int(rng.integers(10, size[1] - 10)), int(rng.integers(8, 20))
        if class_index == 0:
            pen.ellipse([x - r, y - r, x + r, y + r], fill=colour)
        elif class_index == 1:
            pen.rectangle([x - 45, y - 4, x + 45, y + 4], fill=colour)
        else:
            pen.rectangle([x - r, y - r, x + r, y + r], fill=colour, outline=(20, 20, 20), width=2)
    return im


def make_catalogue(root: Path, per_class: int = 4, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    paths = []
    for c, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            path = root / name / f"{name}_{i}.jpg"
            draw(c, rng).save(path, quality=92)
            paths.append(str(path))
    return paths


def build_index(images: Path, index_dir: Path, outputs: Path) -> None:
    """``dfcnn-index data=folder data.root=images index_dir=... method=cnn backbone.image_size=128``, in process."""
    from hydra import compose, initialize_config_dir

    from dfcnn.cli.app import conf_dir
    from dfcnn.cli.index import run_index
    from dfcnn.config import register_configs
    from dfcnn.data.skipped import SkipLog

    register_configs()
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        cfg = compose(config_name="index", overrides=["data=folder", f"data.root={images}", f"index_dir={index_dir}",
                                                      f"paths.outputs={outputs}", *INDEX_OVERRIDES])
    run_index(cfg, SkipLog(None))


@pytest.fixture(scope="session")
def tiny_index(tmp_path_factory):
    """(index_dir, database paths in class order) of a 12-image index built once per session."""
    import torch

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("serve_index")
    paths = make_catalogue(root / "images")
    build_index(root / "images", root / "index", root / "outputs")
    return root / "index", paths


@pytest.fixture(scope="session")
def retriever(tiny_index):
    from dfcnn.retrieval.retriever import Retriever

    return Retriever.from_index(tiny_index[0])


@pytest.fixture
def make_app(retriever, tmp_path):
    """``make_app(**settings)`` -> a FastAPI app over the shared retriever, thumbnails under tmp_path."""
    from dfcnn.serve.app import create_app
    from dfcnn.serve.service import ServeSettings

    def make(object_search=None, **overrides):
        settings = ServeSettings(**{"thumbs_dir": str(tmp_path / "thumbs"), **overrides})
        return create_app(retriever, settings, object_search=object_search)

    return make


@pytest.fixture
def client(make_app):
    from fastapi.testclient import TestClient

    with TestClient(make_app(max_upload_bytes=2 * 2**20)) as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """uvicorn serving an app in a background thread on a free loopback port."""

    def __init__(self, app):
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)


def jpeg_bytes(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


os.environ.setdefault("OMP_NUM_THREADS", "1")
