"""Atomic, pickle-free persistence: a failed write leaves the old file or directory intact."""

import numpy as np
import pytest

from dfcnn.persist import (
    atomic_directory, atomic_save_npy, atomic_write, atomic_write_json, load_format_json, load_json, load_npy,
)


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "meta.json"
    atomic_write_json(path, {"format": "x/1", "n": 1})

    def crash(tmp):
        open(tmp, "w").write("{half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write(path, crash)
    assert load_json(path) == {"format": "x/1", "n": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["meta.json"]


def test_npy_round_trip_refuses_pickled_arrays(tmp_path):
    atomic_save_npy(tmp_path / "a.npy", np.arange(6, dtype=np.float32).reshape(2, 3))
    np.testing.assert_array_equal(load_npy(tmp_path / "a.npy"), [[0, 1, 2], [3, 4, 5]])
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="pickle"):
        load_npy(tmp_path / "obj.npy")


def test_format_json_names_what_it_found(tmp_path):
    atomic_write_json(tmp_path / "m.json", {"format": "other/1"})
    with pytest.raises(ValueError, match="not a forest directory .*'other/1'"):
        load_format_json(tmp_path / "m.json", "forest/1", "forest")
    assert load_format_json(tmp_path / "m.json", "other/1", "x")["format"] == "other/1"


def test_atomic_directory_replaces_whole_or_not_at_all(tmp_path):
    target = tmp_path / "index"
    with atomic_directory(target) as tmp:
        (tmp / "a.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_directory(target) as tmp:
            (tmp / "a.txt").write_text("new")
            raise RuntimeError("crash mid-build")
    assert (target / "a.txt").read_text() == "old"
    with atomic_directory(target) as tmp:
        (tmp / "b.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index"]
