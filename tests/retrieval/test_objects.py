"""Multi-object queries: region proposals, merging, and the Retriever / dfcnn-search end to end
with geometric verification on an index whose local features round-trip through the index dir."""

import json
import os

import numpy as np
import pytest
from photo_helpers import photo, product
from retrieval_helpers import small_cnn

from dfcnn.config.retrieval import RetrievalConfig, VerifyConfig
from dfcnn.data.records import ImageRecord
from dfcnn.retrieval.objects import component_boxes, find_regions, iou, merge_max, nms


def test_iou_and_nms_by_hand():
    assert iou([0, 0, 10, 10], [5, 0, 15, 10]) == pytest.approx(50 / 150)
    assert iou([0, 0, 1, 1], [2, 2, 3, 3]) == 0
    boxes = [[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30]]
    assert nms(boxes, [0.5, 0.9, 0.1]) == [1, 2]  # box 0 overlaps the better box 1 (IoU 0.82)


def test_merge_keeps_each_items_best_score():
    s, i = merge_max([(np.array([0.9, 0.5]), np.array([3, 1])), (np.array([0.95, 0.4, 0.2]), np.array([1, 3, -1]))])
    assert list(i) == [1, 3] and list(s) == [0.95, 0.9]


def test_components_of_a_two_blob_map():
    smap = np.zeros((12, 16), np.float32)
    smap[2:5, 1:4] = 5.0
    smap[7:11, 10:15] = 3.0
    boxes, _scores = component_boxes(smap, (160, 120))  # 10 image pixels per cell
    assert len(boxes) == 2
    by_x = sorted(boxes)
    assert iou(by_x[0], [10, 20, 40, 50]) > 0.6 and iou(by_x[1], [100, 70, 150, 110]) > 0.6
    assert component_boxes(np.zeros((4, 4), np.float32), (40, 40)) == ([], [])


def test_region_finding_drops_small_regions_and_counts(tmp_path):
    from collections import Counter

    im, _ = photo([product(1)], [(200, 150)], size=(640, 480))
    counts = Counter()
    regions = find_regions(None, im, max_objects=3, min_side=600, proposals="both", counts=counts)
    assert regions == [] and counts["no_regions"] == 1 and counts["region_too_small"] > 0
    regions = find_regions(None, im, max_objects=3, min_side=40, proposals="grid", counts=counts)  # no CNN: gradients
    assert 1 <= len(regions) <= 3 and all(b[2] - b[0] >= 40 for b in regions)
    with pytest.raises(ValueError, match="object_proposals"):
        find_regions(None, im, 3, 40, proposals="magic")


# ----------------------------------------------------------------------------- end to end
N_PRODUCTS = 6


@pytest.fixture(scope="module")
def photo_index(tmp_path_factory):
    from dfcnn.retrieval.retriever import Retriever

    root = tmp_path_factory.mktemp("products")
    records = []
    for k in range(N_PRODUCTS):
        path = root / f"p{k}.png"
        product(10 + k).save(path)
        records.append(ImageRecord(path=str(path), label=f"p{k}", labels=(f"p{k}",), instance_id=f"p{k}",
                                   instance_ids=(f"p{k}",)))
    settings = RetrievalConfig(fuzzy=False, query_expansion=False, dba=False, fuzzy_k=2, object_map_side=256,
                               object_top_m=N_PRODUCTS,
                               verify=VerifyConfig(local_features=True, max_keypoints=400, max_side=512, top_m=N_PRODUCTS))
    retriever = Retriever.build(small_cnn(), records, records, settings, "cnn")
    index_dir = root / "index"
    retriever.save(index_dir)
    shot, boxes = photo([product(12), product(13), product(15)], [(20, 140), (250, 60), (470, 250)],
                        size=(720, 480), angle=12, scale=1.0, seed=3)
    shot_path = root / "shot.jpg"
    shot.save(shot_path, quality=90)
    return retriever, index_dir, records, str(shot_path), boxes


def test_local_features_round_trip_through_the_index_dir(photo_index):
    from dfcnn.retrieval.retriever import Retriever
    from dfcnn.retrieval.store import read_manifest

    built, index_dir, *_ = photo_index
    manifest = read_manifest(index_dir)
    assert "local/descriptors.npy" in manifest["files"] and manifest["retrieval"]["verify"]["local_features"]
    back = Retriever.from_index(index_dir)
    assert isinstance(back.local.descriptors, np.memmap) and len(back.local) == N_PRODUCTS
    np.testing.assert_array_equal(back.local.get(3).descriptors, built.local.get(3).descriptors)


def test_verification_and_objects_find_all_three_products(photo_index):
    from dfcnn.retrieval.retriever import Retriever

    _, index_dir, _records, shot, boxes = photo_index
    r = Retriever.from_index(index_dir, overrides={"multi_object": True, "verify": {"enabled": True}})
    found = r.search_objects(shot, top_k=4)
    top3 = {os.path.basename(h["path"]) for h in found["results"][:3]}
    assert top3 == {"p2.png", "p3.png", "p5.png"}
    assert all(h["inliers"] >= 15 for h in found["results"][:3])
    # verified hits score above 1.05, above any unverified one (voted-for word candidates: (1, 1.05))
    assert found["results"][2]["score"] > 1.05 >= found["results"][3]["score"]
    truth = dict(zip(["p2.png", "p3.png", "p5.png"], boxes))
    hit = set()
    for obj in found["objects"]:
        assert len(obj["box"]) == 4 and obj["results"]
        top = os.path.basename(obj["results"][0]["path"])
        if top in truth and iou(obj["box"], truth[top]) > 0.3 and obj["results"][0].get("inliers", 0) >= 15:
            hit.add(top)
    assert hit == set(truth)  # each product is some object's verified first result, at its place
    # search() returns the merged ranking; timed_search + object_search share one computation
    assert r.search(shot, top_k=4) == found["results"]
    counts = r.counts
    assert counts["verify/queries"] == 1 and counts["objects/photos"] == 1


def test_verification_alone_reranks_the_global_list(photo_index):
    from dfcnn.retrieval.retriever import Retriever

    _, index_dir, _, shot, _ = photo_index
    plain = Retriever.from_index(index_dir)
    assert not plain.photo_mode and all("inliers" not in h for h in plain.search(shot, 3))
    r = Retriever.from_index(index_dir, overrides={"verify": {"enabled": True}})
    hits = r.search(shot, top_k=N_PRODUCTS)
    assert {os.path.basename(h["path"]) for h in hits[:3]} == {"p2.png", "p3.png", "p5.png"}
    assert r.search_objects(shot, 3)["results"] == hits[:3]


def test_word_shortlist_recovers_products_the_global_shortlist_misses(photo_index):
    from dfcnn.retrieval.retriever import Retriever

    _, index_dir, _, shot, _ = photo_index
    products = {"p2.png", "p3.png", "p5.png"}
    narrow = Retriever.from_index(index_dir, overrides={"verify": {"enabled": True, "top_m": 1, "words_top_m": 0}})
    hits = narrow.search(shot, top_k=N_PRODUCTS)
    assert sum(h.get("inliers", 0) >= 15 for h in hits) <= 1  # one global candidate verified at most
    r = Retriever.from_index(index_dir, overrides={"verify": {"enabled": True, "top_m": 1, "words_top_m": 3}})
    hits = r.search(shot, top_k=N_PRODUCTS)
    assert {os.path.basename(h["path"]) for h in hits[:3]} == products
    assert all(h["inliers"] >= 15 for h in hits[:3]) and r.counts["verify/word_candidates"] == 3


def test_indexes_from_before_the_word_shortlist_still_load():
    from dataclasses import asdict

    from dfcnn.retrieval.store import stored_settings

    old = asdict(RetrievalConfig(verify=VerifyConfig(local_features=True)))
    for key in ("visual_words", "contrast_threshold", "words_top_m", "words_probes"):
        del old["verify"][key]
    settings = stored_settings({"retrieval": old})
    assert settings.verify.visual_words == 0 and settings.verify.words_top_m == VerifyConfig().words_top_m
    assert settings.verify.contrast_threshold == 0.04  # OpenCV's default, what such indexes were built with


def test_small_box_and_flat_photo_fall_back(photo_index, tmp_path):
    from PIL import Image

    from dfcnn.retrieval.retriever import Retriever

    _, index_dir, _, shot, _ = photo_index
    r = Retriever.from_index(index_dir, overrides={"multi_object": True, "verify": {"enabled": True}})
    whole = r.search(shot, 3)
    assert r.search(shot, 3, box=[10, 10, 20, 20]) == whole  # box under object_min_side: the whole photo
    assert r.counts["objects/box_too_small"] == 1
    flat = tmp_path / "flat.png"
    Image.new("RGB", (300, 200), (90, 120, 150)).save(flat)
    out = r.search_objects(str(flat), 3)
    assert len(out["results"]) == 3 and all("inliers" not in h for h in out["results"])
    assert r.counts["verify/query_no_keypoints"] == 1


def test_verification_needs_local_features(photo_index, tmp_path):
    from dfcnn.retrieval.engine import SettingsMismatchError
    from dfcnn.retrieval.retriever import Retriever

    _, _, records, _, _ = photo_index
    bare = Retriever.build(small_cnn(), records, records, RetrievalConfig(fuzzy=False, query_expansion=False, dba=False,
                                                                          fuzzy_k=2), "cnn")
    bare.save(tmp_path / "bare")
    with pytest.raises(SettingsMismatchError, match="local_features"):
        Retriever.from_index(tmp_path / "bare", overrides={"verify": {"enabled": True}})
    with pytest.raises(SettingsMismatchError, match="verify.detector"):
        Retriever.from_index(photo_index[1], overrides={"verify": {"detector": "orb"}})


def test_add_extends_the_local_features(photo_index, tmp_path):
    from dfcnn.retrieval.retriever import Retriever

    index_dir = photo_index[1]
    r = Retriever.from_index(index_dir)
    extra = tmp_path / "p_new.png"
    product(99).save(extra)
    assert r.add([ImageRecord(path=str(extra), label="new", labels=("new",))]) == 1
    assert len(r.local) == N_PRODUCTS + 1 and len(r.local.get(N_PRODUCTS)) > 50
    assert r.local.words.n_points == len(r.local.keypoints)  # the new key-points are filed under the same words
    r.save(tmp_path / "grown")
    grown = Retriever.from_index(tmp_path / "grown").local
    assert len(grown) == N_PRODUCTS + 1 and grown.words.n_points == len(grown.keypoints)
    own = grown.match_rows(np.arange(grown.offsets[N_PRODUCTS], grown.offsets[N_PRODUCTS + 1]))
    assert int(grown.word_votes(own, 4, 0.8).argmax()) == N_PRODUCTS


def test_dfcnn_search_writes_objects_lines(photo_index, tmp_path):
    from omegaconf import OmegaConf

    from dfcnn.cli.search import run_search
    from dfcnn.config.schema import SearchConfig
    from dfcnn.data.skipped import SkipLog

    _, index_dir, _, shot, _ = photo_index
    cfg = OmegaConf.merge(OmegaConf.structured(SearchConfig), {
        "index_dir": str(index_dir), "query": shot, "top_k": 3, "output": str(tmp_path / "out.jsonl"),
        "retrieval": {"multi_object": True, "verify": {"enabled": True}}})
    metrics = run_search(cfg, SkipLog(tmp_path / "skipped.jsonl"))
    line = json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0])
    assert set(line) == {"query", "results", "objects"} and len(line["results"]) == 3
    assert all(set(o) == {"box", "results"} and len(o["box"]) == 4 for o in line["objects"])
    assert metrics["verify/queries"] == 1.0
