import os

import numpy as np
import pytest
from PIL import Image

from dfcnn.data import load_splits
from dfcnn.data.skipped import SkipLog

CALTECH = "/work/shared/data/caltech101-mini"


def _write(path, seed, size=(40, 30)):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    arr = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)


def test_class_folders_split_per_class(tmp_path, data_cfg):
    for c in ("cat", "dog"):
        for i in range(10):
            _write(str(tmp_path / "imgs" / c / f"{i}.jpg"), hash((c, i)) % 1000)
    (tmp_path / "imgs" / "cat" / "notes.txt").write_text("not an image, not an image extension")
    cfg = data_cfg(name="folder", root=str(tmp_path / "imgs"), query_fraction=0.2, train_fraction=0.5, val_fraction=0.2)
    log = SkipLog(tmp_path / "run" / "skipped.jsonl")
    s = load_splits(cfg, str(tmp_path / "out"), skip_log=log)
    assert s.sizes() == {"train": 8, "val": 4, "database": 16, "query": 4}
    assert {r.label for r in s.query} == {"cat", "dog"}
    assert log.count == 0 and not os.path.exists(log.path)
    again = load_splits(cfg, str(tmp_path / "out"))
    assert [r.path for r in again.query] == [r.path for r in s.query]
    other = load_splits(data_cfg(name="folder", root=str(tmp_path / "imgs"), seed=5), str(tmp_path / "out"))
    assert [r.path for r in other.query] != [r.path for r in s.query]


def test_flat_folder_class_subset_and_cap(tmp_path, data_cfg):
    for i in range(6):
        _write(str(tmp_path / "flat" / f"{i}.png"), i)
    s = load_splits(data_cfg(name="folder", root=str(tmp_path / "flat"), query_fraction=0.0), str(tmp_path))
    assert len(s.database) == 6 and s.query == [] and {r.label for r in s.database} == {"flat"}
    for c in ("a", "b", "c"):
        for i in range(5):
            _write(str(tmp_path / "cls" / c / f"{i}.png"), i)
    s = load_splits(data_cfg(name="folder", root=str(tmp_path / "cls"), classes=["a", "c"], max_per_class=3), str(tmp_path))
    assert {r.label for r in s.database + s.query} == {"a", "c"}
    assert len(s.database + s.query) == 6


def test_missing_root_is_a_clear_error(tmp_path, data_cfg):
    with pytest.raises(FileNotFoundError, match="data.root"):
        load_splits(data_cfg(name="folder", root=str(tmp_path / "nope")), str(tmp_path))
    with pytest.raises(ValueError, match="data.root"):
        load_splits(data_cfg(name="folder"), str(tmp_path))


@pytest.mark.skipif(not os.path.isdir(CALTECH), reason="caltech101-mini dev data not present")
def test_caltech_mini(tmp_path, data_cfg):
    s = load_splits(data_cfg(name="folder", root=CALTECH, max_per_class=10), str(tmp_path))
    assert len(s.classes()) == 20
    assert len(s.database) + len(s.query) == 200
    assert len(s.query) == 40
