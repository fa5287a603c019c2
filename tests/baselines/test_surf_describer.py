"""SurfVladDescriber end to end on real photos written to disk: fit, transform, search, persist."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from omegaconf import OmegaConf
from PIL import Image

from dfcnn.baselines.surf import SurfVladDescriber
from dfcnn.baselines.surf_features import available_implementations
from dfcnn.config.baselines import SurfConfig
from dfcnn.data.records import ImageRecord
from dfcnn.data.skipped import SkipLog

skdata = pytest.importorskip("skimage.data")

PHOTOS = ("astronaut", "camera", "coffee", "chelsea", "rocket")


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("surf_images")
    for name in PHOTOS:
        Image.fromarray(getattr(skdata, name)()).save(root / f"{name}.png")
    # the same photo rotated by 90 degrees and shrunk: a query that should find its original
    Image.fromarray(skdata.astronaut()).rotate(90, expand=True).resize((384, 384)).save(root / "query.jpg")
    Image.new("RGB", (320, 240), (200, 40, 90)).save(root / "flat.png")
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG")
    return root


def _records(root, names):
    return [ImageRecord(path=str(root / n), label=os.path.splitext(n)[0]) for n in names]


@pytest.fixture(scope="module")
def fitted(image_dir):
    describer = SurfVladDescriber(n_clusters=16, seed=0)
    describer.fit(_records(image_dir, [f"{n}.png" for n in PHOTOS]))
    return describer


def test_transform_skips_bad_files_and_keeps_order(image_dir, fitted, tmp_path):
    skip_log = SkipLog(tmp_path / "skipped.jsonl")
    names = ["camera.png", "broken.jpg", "flat.png", "astronaut.png", "missing.png"]
    vectors, kept = fitted.transform(_records(image_dir, names), skip_log=skip_log)
    assert [r.label for r in kept] == ["camera", "flat", "astronaut"]
    assert vectors.shape == (3, 16 * 64) and vectors.dtype == np.float32
    assert skip_log.count == 2
    logged = SkipLog.read(tmp_path / "skipped.jsonl")
    assert {os.path.basename(e["path"]) for e in logged} == {"broken.jpg", "missing.png"}
    norms = np.linalg.norm(vectors, axis=1)
    np.testing.assert_allclose(norms[[0, 2]], 1.0, atol=1e-5)
    assert norms[1] == 0.0, "an image without key-points gets the all-zero vector"
    assert fitted.info["surf_images_without_keypoints"] >= 1


def test_rotated_shrunk_query_finds_its_original(image_dir, fitted):
    database, kept = fitted.transform(_records(image_dir, [f"{n}.png" for n in PHOTOS]))
    query = fitted.describe_image(Image.open(image_dir / "query.jpg").convert("RGB"))
    scores = database @ query
    assert kept[int(np.argmax(scores))].label == "astronaut", dict(zip(PHOTOS, scores.round(3)))


def test_describe_image_equals_transform_row(image_dir, fitted):
    vectors, _ = fitted.transform(_records(image_dir, ["coffee.png"]))
    single = fitted.describe_image(Image.open(image_dir / "coffee.png").convert("RGB"))
    np.testing.assert_allclose(single, vectors[0], atol=1e-6)


def test_save_load_round_trip(image_dir, fitted, tmp_path):
    fitted.save(str(tmp_path / "model"))
    meta = json.loads((tmp_path / "model" / "surf_describer.json").read_text())
    assert meta["params"]["implementation"] == fitted.info["surf_implementation"]
    loaded = SurfVladDescriber.load(str(tmp_path / "model"))
    records = _records(image_dir, ["chelsea.png", "rocket.png"])
    np.testing.assert_array_equal(loaded.transform(records)[0], fitted.transform(records)[0])
    assert loaded.info["dim"] == 16 * 64


def test_from_config_reads_surf_section_and_seed(image_dir):
    cfg = OmegaConf.create({
        "seed": 3,
        "data": {"max_pixels": 10_000_000},
        "method": {"name": "surf"},
        "surf": {**SurfConfig().__dict__, "n_clusters": 8, "max_keypoints": 200, "max_side": 256},
    })
    describer = SurfVladDescriber.from_config(cfg)
    assert describer.get_params()["seed"] == 3 and describer.max_pixels == 10_000_000
    assert describer.info["surf_implementation"] == available_implementations()[0]
    describer.fit(_records(image_dir, ["astronaut.png", "camera.png"]))
    vectors, kept = describer.transform(_records(image_dir, ["astronaut.png"]))
    assert vectors.shape == (1, 8 * 64)
    assert describer.info["surf_mean_keypoints"] <= 200


def test_unfitted_and_unreadable_training_set_are_clear_errors(image_dir):
    describer = SurfVladDescriber(n_clusters=4)
    with pytest.raises(RuntimeError, match="not fitted"):
        describer.transform(_records(image_dir, ["camera.png"]))
    with pytest.raises(ValueError, match="none of the training images"):
        describer.fit(_records(image_dir, ["broken.jpg"]), skip_log=SkipLog(None))
