"""Index directory + Python API: round trip, add, settings checks, and clear errors on bad input."""

import json
import logging
import os
import shutil

import numpy as np
import pytest
from PIL import Image
from retrieval_helpers import folder_records, make_image_folder

from dfcnn.data.decode import ImageDecodeError
from dfcnn.retrieval.engine import SettingsMismatchError
from dfcnn.retrieval.retriever import Retriever
from dfcnn.retrieval.store import IndexDirError, read_manifest


def test_bad_images_skipped_once_each(built, image_folder):
    retriever, _, skip_log = built
    assert retriever.ntotal == len(image_folder[1])
    assert skip_log.count == 2 and set(skip_log.reasons()) == {"empty_file", "truncated"}


def test_round_trip_gives_the_same_rankings(built, image_folder):
    retriever, index_dir, _ = built
    _, paths = image_folder
    loaded = Retriever.from_index(index_dir)
    assert loaded.ntotal == retriever.ntotal and loaded.method == "dfcnn"
    for path in paths[:: len(paths) // 3]:
        hits = loaded.search(path, top_k=5)
        assert hits[0]["path"] == path and hits[0]["rank"] == 1
        assert [h["rank"] for h in hits] == [1, 2, 3, 4, 5]
        assert [h["path"] for h in hits] == [h["path"] for h in retriever.search(path, top_k=5)]
    pil = Image.open(paths[0]).convert("RGB")  # a PIL image works as well as a path
    assert loaded.search(pil, top_k=1)[0]["path"] == paths[0]


def test_manifest_and_layout(built):
    _, index_dir, _ = built
    manifest = read_manifest(index_dir)
    assert manifest["describer_kind"] == "fused" and manifest["n_items"] == 18
    assert {"descriptors.npy", "graph_ids.npy", "records.json", "config.yaml", "describer/fused.json"} <= set(manifest["files"])
    assert manifest["versions"]["numpy"] == np.__version__
    records = json.loads((index_dir / "records.json").read_text())
    assert all(os.path.isabs(r["path"]) for r in records) and records[0]["label"] == "circles"
    assert not [p for p in os.listdir(index_dir.parent) if p.endswith(".tmp")], "temp dirs left behind"
    for path in index_dir.rglob("*.npy"):  # plain arrays: readable without pickle
        np.load(path, allow_pickle=False)


def test_crop_box_and_top_k_rules(built, image_folder, caplog):
    retriever, _, _ = built
    path = image_folder[1][0]
    full = retriever.search(path, top_k=3)
    crop = retriever.search(path, top_k=3, box=[10, 10, 60, 60])
    assert len(crop) == 3 and crop[0]["score"] != full[0]["score"]
    with pytest.raises(ValueError, match="box"):
        retriever.search(path, top_k=3, box=[1, 2, 3])
    with pytest.raises(ValueError, match="top_k must be a positive"):
        retriever.search(path, top_k=0)
    with caplog.at_level(logging.WARNING):
        hits = retriever.search(path, top_k=1000)
    assert len(hits) == retriever.ntotal and "larger than the index" in caplog.text


def test_query_that_is_not_an_image(built, tmp_path):
    retriever, _, _ = built
    bogus = tmp_path / "q.jpg"
    bogus.write_text("hello")
    with pytest.raises(ImageDecodeError, match="not_an_image"):
        retriever.search(str(bogus), top_k=3)


def test_dimension_mismatch_is_refused(built):
    retriever, _, _ = built
    with pytest.raises(ValueError, match="dimension"):
        retriever.search_vectors(np.ones((1, retriever.engine.dim + 1), np.float32), 3)


def test_settings_override_and_mismatch(built, image_folder):
    _, index_dir, _ = built
    plain = Retriever.from_index(index_dir, overrides={"fuzzy": False, "query_expansion": True})
    assert plain.engine.settings.fuzzy is False and plain.engine.settings.query_expansion is True
    assert plain.search(image_folder[1][3], 2)[0]["path"] == image_folder[1][3]
    with pytest.raises(SettingsMismatchError, match="attribute_weight"):
        Retriever.from_index(index_dir, overrides={"attribute_weight": 0.9})


@pytest.mark.parametrize("damage", ["missing", "corrupt", "empty", "absent", "not_index", "bad_manifest"])
def test_damaged_index_dirs_fail_clearly(built, tmp_path, damage):
    _, index_dir, _ = built
    target = tmp_path / "idx"
    shutil.copytree(index_dir, target)
    expected = {"missing": "graph_sims.npy is missing", "corrupt": "checksum of descriptors.npy",
                "empty": "is empty", "absent": "does not exist", "not_index": "not a dfcnn index",
                "bad_manifest": "corrupt manifest"}[damage]
    if damage == "missing":
        (target / "graph_sims.npy").unlink()
    elif damage == "corrupt":
        data = bytearray((target / "descriptors.npy").read_bytes())
        data[-3] ^= 0xFF
        (target / "descriptors.npy").write_bytes(bytes(data))
    elif damage == "empty":
        shutil.rmtree(target)
        target.mkdir()
    elif damage == "absent":
        shutil.rmtree(target)
    elif damage == "not_index":
        (target / "manifest.json").unlink()
    elif damage == "bad_manifest":
        (target / "manifest.json").write_text("{ not json")
    with pytest.raises(IndexDirError, match=expected):
        Retriever.from_index(target)


def test_add_images_to_an_existing_index(built, tmp_path):
    _, index_dir, _ = built
    target = tmp_path / "idx"
    shutil.copytree(index_dir, target)
    retriever = Retriever.from_index(target)
    new = make_image_folder(str(tmp_path / "more"), n_per_class=2, seed=7, bad_files=False)
    assert retriever.add(folder_records(new) + retriever.records[:1]) == 6  # the known one is left out
    assert retriever.add(folder_records(new)) == 0  # already indexed
    retriever.save(target)
    again = Retriever.from_index(target)
    assert again.ntotal == 24 and again.manifest["created"] == retriever.manifest["created"]
    assert again.search(new[4], top_k=1)[0]["path"] == new[4]
    assert again.engine.graph_ids.shape[0] == 24
