"""End to end: dfcnn-index over a folder with bad files, then dfcnn-search, as real subprocesses (SPEC §7)."""

import json
import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import run_entry

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "retrieval"))
from retrieval_helpers import make_image_folder  # noqa: E402

SMALL = ["backbone.image_size=128", "forest.n_trees=5", "forest.n_folds=2", "forest.max_layers=1", "forest.n_jobs=1",
         "forest.xgb.n_estimators=5", "forest.xgb.max_depth=3", "data.train_fraction=0.8", "retrieval.fuzzy_k=3",
         "retrieval.fuzzy_m=10"]


@pytest.mark.slow
def test_index_then_search(tmp_path, mlflow_client_for):
    images = tmp_path / "images"
    paths = make_image_folder(str(images), n_per_class=6)
    index_dir = tmp_path / "index"

    built = run_entry("index", "data=folder", f"data.root={images}", f"index_dir={index_dir}", *SMALL, cwd=tmp_path)
    assert built.returncode == 0, built.stderr[-3000:]
    manifest = json.loads((index_dir / "manifest.json").read_text())
    assert manifest["method"] == "dfcnn" and manifest["n_items"] == len(paths)
    skipped = [json.loads(line) for f in tmp_path.glob("runs/**/skipped.jsonl") for line in f.read_text().splitlines()]
    assert sorted(Path(s["path"]).name for s in skipped) == ["empty.jpg", "notes.png", "truncated.jpg"]

    queries = tmp_path / "queries"
    queries.mkdir()
    shutil.copy(paths[4], queries / "a_copy.jpg")
    shutil.copy(paths[13], queries / "b_copy.jpg")
    (queries / "c_broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    output = tmp_path / "results.jsonl"
    found = run_entry("search", f"index_dir={index_dir}", f"query={queries}", "top_k=4", f"output={output}",
                      cwd=tmp_path)
    assert found.returncode == 0, found.stderr[-3000:]
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [Path(line["query"]).name for line in lines] == ["a_copy.jpg", "b_copy.jpg"]
    for line, original in zip(lines, (paths[4], paths[13])):
        assert set(line) - {"objects"} == {"query", "results"}  # SPEC §7: "objects" may be added
        assert [r["rank"] for r in line["results"]] == [1, 2, 3, 4]
        # SPEC §7's keys; dfcnn's default geometric verification adds "inliers" to verified hits
        assert all(set(r) - {"inliers"} == {"rank", "path", "score"} and isinstance(r["score"], float)
                   for r in line["results"])
        assert line["results"][0]["path"] == original  # an exact copy comes back first, path as indexed

    client = mlflow_client_for(tmp_path)
    runs = {r.data.tags["entry"]: r for r in client.search_runs([client.get_experiment_by_name("dfcnn").experiment_id])}
    assert runs["index"].data.metrics["skipped_images"] == 3 and runs["index"].data.metrics["n_indexed"] == len(paths)
    assert runs["search"].data.metrics["n_queries"] == 2 and runs["search"].data.metrics["skipped_queries"] == 1
    assert runs["index"].info.status == runs["search"].info.status == "FINISHED"


def _search_cfg(*overrides):
    from hydra import compose, initialize_config_dir

    from dfcnn.cli.app import conf_dir
    from dfcnn.config import register_configs

    register_configs()
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        return compose(config_name="search", overrides=list(overrides))


def test_search_config_and_clear_errors(tmp_path):
    from dfcnn.cli.search import run_search
    from dfcnn.data.skipped import SkipLog
    from dfcnn.retrieval.store import IndexDirError

    cfg = _search_cfg(f"index_dir={tmp_path}", "query=q.jpg", "top_k=5", "retrieval.fuzzy=false", "box=[1,2,30,40]")
    assert cfg.retrieval.fuzzy is False and cfg.retrieval.attribute_weight is None and list(cfg.box) == [1, 2, 30, 40]
    log = SkipLog(None)
    with pytest.raises(ValueError, match="top_k must be a positive"):
        run_search(_search_cfg(f"index_dir={tmp_path}", "query=q.jpg", "top_k=0"), log)
    with pytest.raises(IndexDirError, match="is empty"):
        run_search(_search_cfg(f"index_dir={tmp_path}", "query=q.jpg"), log)
    with pytest.raises(IndexDirError, match="does not exist"):
        run_search(_search_cfg(f"index_dir={tmp_path / 'nope'}", "query=q.jpg"), log)


def test_index_refuses_to_clobber(tmp_path):
    from hydra import compose, initialize_config_dir

    from dfcnn.cli.app import conf_dir
    from dfcnn.cli.index import run_index
    from dfcnn.config import register_configs
    from dfcnn.data.skipped import SkipLog
    from dfcnn.retrieval.store import IndexDirError

    register_configs()
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        base = ["data=folder", f"data.root={tmp_path}", f"paths.outputs={tmp_path}"]
        clobber = compose(config_name="index", overrides=base + [f"index_dir={other}", "overwrite=true"])
        add = compose(config_name="index", overrides=base + [f"index_dir={tmp_path / 'new'}", "add=true"])
    with pytest.raises(IndexDirError, match="is not a dfcnn index"):
        run_index(clobber, SkipLog(None))
    with pytest.raises(IndexDirError, match="add=true needs an existing index"):
        run_index(add, SkipLog(None))
    assert (other / "notes.txt").read_text() == "mine"
