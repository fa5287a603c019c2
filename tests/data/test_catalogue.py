import hashlib
import json
import os

import numpy as np
import pytest
from PIL import Image

from dfcnn.data import load_splits
from dfcnn.data.catalogue.scenes import canvas_size


def _digest(path):
    return hashlib.sha1(open(path, "rb").read()).hexdigest()


def test_catalogue_splits_are_consistent(tmp_path, tiny_catalogue):
    cfg = tiny_catalogue()
    s = load_splits(cfg, str(tmp_path))
    # 3 fields x 2 instances x 3 views + 3 scenes; one view per instance held out (round(3 * 0.2) -> 1)
    assert len(s.database) == 3 * 2 * 2
    assert len(s.query) == 3 * 2 * 1 + 3
    db_paths = {r.path for r in s.database}
    assert not db_paths & {r.path for r in s.query}
    assert {r.path for r in s.train} <= db_paths and {r.path for r in s.val} <= db_paths
    assert not {r.path for r in s.train} & {r.path for r in s.val}
    assert {r.split for r in s.query} == {"query"} and {r.split for r in s.train} == {"train"}
    # every query has a relevant database item (same instance), and studio shots are in the database
    db_instances = {r.instance_id for r in s.database}
    for q in s.query:
        assert q.instance_set() & db_instances
    assert all(not r.extra["studio"] for r in s.query)
    assert {r.label for r in s.database} == {"A", "B", "C"}
    multi = [q for q in s.query if q.extra["scene"] == "multi"]
    assert len(multi) == 3
    w, h = canvas_size(0.03)
    for q in multi:
        assert len(q.boxes) == 3 and len(set(q.box_labels)) == 3 and len(q.instance_ids) == 3
        assert set(q.labels) == set(q.box_labels) and q.label == q.box_labels[0]
    for r in s.database + s.query:
        with Image.open(r.path) as im:
            assert im.size == (w, h)
        for x0, y0, x1, y1 in r.boxes:
            assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
            assert (x1 - x0) * (y1 - y0) > 0.01 * w * h


def test_catalogue_is_deterministic_and_cached(tmp_path, tiny_catalogue):
    cfg = tiny_catalogue()
    a = load_splits(cfg, str(tmp_path / "a"))
    b = load_splits(cfg, str(tmp_path / "b"))
    assert [_digest(r.path) for r in a.database] == [_digest(r.path) for r in b.database]
    assert [r.boxes for r in a.query] == [r.boxes for r in b.query]
    # second call in the same outputs dir reuses the files (no re-render)
    manifest = os.path.join(os.path.dirname(os.path.dirname(a.database[0].path)), "manifest.json")
    assert json.load(open(manifest))["settings"]["megapixels"] == 0.03
    stamps = {r.path: os.stat(r.path).st_mtime_ns for r in a.database}
    again = load_splits(cfg, str(tmp_path / "a"))
    assert {r.path: os.stat(r.path).st_mtime_ns for r in again.database} == stamps
    assert [r.path for r in again.train] == [r.path for r in a.train]
    # another seed gives another catalogue in another cache directory
    c = load_splits(tiny_catalogue(seed=1), str(tmp_path / "a"))
    assert os.path.dirname(c.database[0].path) != os.path.dirname(a.database[0].path)
    assert _digest(c.database[0].path) != _digest(a.database[0].path)


def test_instances_of_a_field_differ_and_views_differ(tmp_path, tiny_catalogue):
    s = load_splits(tiny_catalogue(), str(tmp_path))
    studio = {r.instance_id: r for r in s.database if r.extra["studio"]}
    a0, a1 = studio["A00"], studio["A01"]
    assert a0.extra["styles"][0] != a1.extra["styles"][0]
    crops = []
    for r in (a0, a1):
        with Image.open(r.path) as im:
            crops.append(np.asarray(im.convert("RGB").crop(tuple(int(v) for v in r.boxes[0])).resize((32, 32)), dtype=np.float64))
    assert np.abs(crops[0] - crops[1]).mean() > 10


def test_megapixels_scales_the_scene(tmp_path, tiny_catalogue):
    small = load_splits(tiny_catalogue(megapixels=0.03, n_fields=3, instances_per_field=1, views_per_instance=2, multi_scenes_per_field=1), str(tmp_path))
    big = load_splits(tiny_catalogue(megapixels=0.12, n_fields=3, instances_per_field=1, views_per_instance=2, multi_scenes_per_field=1), str(tmp_path))
    with Image.open(big.database[0].path) as im:
        assert abs(im.width * im.height - 120_000) < 2_000
    # the same scene at 4x the pixels: boxes scale by ~2
    rb, rs = np.array(big.query[-1].boxes), np.array(small.query[-1].boxes)
    assert np.allclose(rb / 2, rs, atol=0.06 * 200)


@pytest.mark.parametrize("bad", [{"n_fields": 8}, {"megapixels": 7.5}, {"megapixels": 0}, {"views_per_instance": 0}])
def test_bad_settings_fail_clearly(tmp_path, tiny_catalogue, bad):
    with pytest.raises(ValueError, match="data\\."):
        load_splits(tiny_catalogue(**bad), str(tmp_path))
