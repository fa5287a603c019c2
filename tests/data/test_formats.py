"""The real-format loaders on tiny files written in the real layouts (and on dev data when present)."""

import csv
import json
import os

import numpy as np
import pytest
from PIL import Image

from dfcnn.data import load_records, load_splits
from dfcnn.data.decode import load_image
from dfcnn.data.select import crop_box, scene_kind
from dfcnn.data.skipped import SkipLog

COCO256 = "/work/shared/data/coco256"


def _img(path, size=(100, 80), seed=0):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    arr = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)


# ---------------------------------------------------------------- selection rules (SPEC §4)
def test_scene_kinds():
    assert scene_kind(["a"]) == "single"
    assert scene_kind(["a", "b"]) == "other"
    assert scene_kind(["a", "a", "b"]) == "other"  # three boxes but only two classes
    assert scene_kind(["a", "b", "c"]) == "multi"
    assert scene_kind(["a", "b", "c", "c"]) == "multi"


def test_crop_box():
    im = Image.fromarray(np.arange(100 * 80 * 3, dtype=np.uint32).reshape(80, 100, 3).astype(np.uint8))
    c = crop_box(im, (10, 20, 40, 60))
    assert c.size == (30, 40) and c.getpixel((0, 0)) == im.getpixel((10, 20))
    assert crop_box(im, (-5, -5, 500, 500)).size == (100, 80)
    assert crop_box(im, (10, 10, 30, 30), margin=0.5).size == (40, 40)


# ---------------------------------------------------------------- COCO
def _coco(root):
    cats = [{"id": 1, "name": "cup", "supercategory": ""}, {"id": 2, "name": "vase", "supercategory": ""}, {"id": 5, "name": "book", "supercategory": ""}]
    images, anns = [], []
    layout = {  # image -> category ids of its boxes
        "one_cup.jpg": [1],
        "one_vase.jpg": [2],
        "cup_vase.jpg": [1, 2],
        "three.jpg": [1, 2, 5],
        "three_same.jpg": [1, 1, 1],
        "none.jpg": [],
    }
    for i, (name, cids) in enumerate(layout.items(), start=1):
        _img(os.path.join(root, "images", name), seed=i)
        images.append({"id": i, "file_name": name, "width": 100, "height": 80})
        for k, cid in enumerate(cids):
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": cid, "bbox": [5 + 20 * k, 10, 15, 30], "area": 450.0, "iscrowd": 0})
    with open(os.path.join(root, "annotations.json"), "w") as fh:
        json.dump({"images": images, "annotations": anns, "categories": cats}, fh)


def test_coco_selection(tmp_path, data_cfg):
    _coco(tmp_path)
    recs = {os.path.basename(r.path): r for r in load_records(data_cfg(name="coco", root=str(tmp_path)))}
    assert set(recs) == {"one_cup.jpg", "one_vase.jpg", "cup_vase.jpg", "three.jpg", "three_same.jpg"}
    assert recs["three.jpg"].boxes[0] == (5.0, 10.0, 20.0, 40.0)  # [x, y, w, h] -> (x0, y0, x1, y1)
    assert recs["three.jpg"].labels == ("book", "cup", "vase")
    single = load_records(data_cfg(name="coco", root=str(tmp_path), scene="single"))
    assert sorted(os.path.basename(r.path) for r in single) == ["one_cup.jpg", "one_vase.jpg"]
    multi = load_records(data_cfg(name="coco", root=str(tmp_path), scene="multi"))
    assert [os.path.basename(r.path) for r in multi] == ["three.jpg"]
    # class subset: boxes of other classes are dropped before single/multi is decided
    cups = load_records(data_cfg(name="coco", root=str(tmp_path), classes=["cup"], scene="single"))
    assert sorted(os.path.basename(r.path) for r in cups) == ["cup_vase.jpg", "one_cup.jpg", "three.jpg"]
    assert all(r.box_labels == ("cup",) for r in cups)
    by_id = load_records(data_cfg(name="coco", root=str(tmp_path), classes=["2"]))
    assert {r.label for r in by_id} == {"vase"}
    with pytest.raises(ValueError, match="data.classes"):
        load_records(data_cfg(name="coco", root=str(tmp_path), classes=["giraffe"]))
    crops = load_records(data_cfg(name="coco", root=str(tmp_path), scene="multi", crop_objects=True))
    assert len(crops) == 3 and {r.label for r in crops} == {"cup", "vase", "book"}
    im = crop_box(load_image(crops[0].path), crops[0].extra["box"])
    assert im.size == (15, 30)


def test_coco_missing_image_is_logged(tmp_path, data_cfg):
    _coco(tmp_path)
    os.remove(tmp_path / "images" / "one_cup.jpg")
    log = SkipLog(tmp_path / "skipped.jsonl")
    recs = load_records(data_cfg(name="coco", root=str(tmp_path)), log)
    assert len(recs) == 4 and log.reasons() == {"unreadable": 1}


@pytest.mark.skipif(not os.path.isdir(COCO256), reason="coco256 dev data not present")
def test_coco256(tmp_path, data_cfg):
    all_ = load_records(data_cfg(name="coco", root=COCO256))
    single = load_records(data_cfg(name="coco", root=COCO256, scene="single"))
    multi = load_records(data_cfg(name="coco", root=COCO256, scene="multi"))
    assert 200 < len(all_) <= 256 and len(single) > 10 and len(multi) > 50
    assert all(len(r.boxes) == 1 for r in single)
    assert all(len(set(r.box_labels)) >= 3 for r in multi)
    r = multi[0]
    with Image.open(r.path) as im:
        w, h = im.size
    assert all(0 <= b[0] < b[2] <= w + 1 and 0 <= b[1] < b[3] <= h + 1 for b in r.boxes)
    s = load_splits(data_cfg(name="coco", root=COCO256, classes=["person", "car", "chair", "dining table", "cup"], max_per_class=20), str(tmp_path))
    assert s.query and not {q.path for q in s.query} & {d.path for d in s.database}
    assert {r.label for r in s.database} <= {"person", "car", "chair", "dining table", "cup"}


# ---------------------------------------------------------------- ImageNet
def _imagenet(root):
    synsets = {"n01440764": "tench, Tinca tinca", "n02102040": "English springer, English springer spaniel", "n03000684": "chain saw, chainsaw"}
    with open(os.path.join(root, "LOC_synset_mapping.txt"), "w") as fh:
        for wnid, names in synsets.items():
            fh.write(f"{wnid} {names}\n")
    for j, wnid in enumerate(synsets):
        for i in range(4):
            _img(os.path.join(root, "train", wnid, f"{wnid}_{i}.JPEG"), seed=10 * j + i)
    rows = [
        ("ILSVRC2012_val_00000001", "n01440764 10 10 50 60 "),
        ("ILSVRC2012_val_00000002", "n02102040 0 0 40 40 n02102040 50 20 90 70 n01440764 5 5 20 20 "),
        ("ILSVRC2012_val_00000003", "n03000684 1 2 30 40 n02102040 50 20 90 70 n01440764 5 5 20 20 "),
    ]
    with open(os.path.join(root, "LOC_val_solution.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["ImageId", "PredictionString"])
        w.writerows(rows)
    for k, (image_id, _) in enumerate(rows):
        _img(os.path.join(root, "val", image_id + ".JPEG"), seed=100 + k)


def test_imagenet(tmp_path, data_cfg):
    _imagenet(tmp_path)
    train = load_records(data_cfg(name="imagenet", root=str(tmp_path)))
    assert len(train) == 12 and {r.label for r in train} == {"n01440764", "n02102040", "n03000684"}
    assert train[0].extra["name"] in {"tench", "English springer", "chain saw"}
    sub = load_records(data_cfg(name="imagenet", root=str(tmp_path), classes=["tench", "n03000684"], max_per_class=2))
    assert len(sub) == 4 and {r.label for r in sub} == {"n01440764", "n03000684"}
    val = load_records(data_cfg(name="imagenet", root=str(tmp_path), source_split="val"))
    by_id = {os.path.basename(r.path)[:-5]: r for r in val}
    assert by_id["ILSVRC2012_val_00000001"].label == "n01440764"
    assert by_id["ILSVRC2012_val_00000001"].boxes == ((10.0, 10.0, 50.0, 60.0),)
    assert by_id["ILSVRC2012_val_00000002"].label == "n02102040"  # the largest box
    multi = load_records(data_cfg(name="imagenet", root=str(tmp_path), source_split="val", scene="multi"))
    assert [os.path.basename(r.path) for r in multi] == ["ILSVRC2012_val_00000003.JPEG"]
    both = load_records(data_cfg(name="imagenet", root=str(tmp_path), source_split="all"))
    assert len(both) == 15
    s = load_splits(data_cfg(name="imagenet", root=str(tmp_path), query_fraction=0.25), str(tmp_path))
    assert len(s.query) == 3 and len(s.database) == 9


# ---------------------------------------------------------------- Open Images
OI_COLUMNS = ["ImageID", "Source", "LabelName", "Confidence", "XMin", "XMax", "YMin", "YMax", "IsOccluded", "IsTruncated", "IsGroupOf", "IsDepiction", "IsInside"]


def _openimages(root):
    with open(os.path.join(root, "class-descriptions-boxable.csv"), "w", newline="") as fh:
        csv.writer(fh).writerows([["/m/04dr76w", "Bottle"], ["/m/02jvh9", "Mug"], ["/m/0fm3zh", "Flowerpot"], ["/m/01g317", "Person"]])
    boxes = {
        "000a1249af2bc5f0": [("/m/04dr76w", 0.1, 0.5, 0.2, 0.9)],
        "000b2c3d4e5f6a7b": [("/m/04dr76w", 0.0, 0.3, 0.0, 0.5), ("/m/02jvh9", 0.4, 0.6, 0.1, 0.4), ("/m/0fm3zh", 0.7, 1.0, 0.5, 1.0)],
        "00112233aabbccdd": [("/m/01g317", 0.2, 0.8, 0.1, 0.9)],
        "0099887766554433": [("/m/02jvh9", 0.25, 0.75, 0.25, 0.75)],
    }
    with open(os.path.join(root, "validation-annotations-bbox.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(OI_COLUMNS)
        for image_id, bs in boxes.items():
            for mid, x0, x1, y0, y1 in bs:
                w.writerow([image_id, "xclick", mid, 1, x0, x1, y0, y1, 0, 0, 0, 0, 0])
    for k, image_id in enumerate(boxes):
        _img(os.path.join(root, "validation", image_id + ".jpg"), size=(200, 100), seed=k)


def test_openimages(tmp_path, data_cfg):
    _openimages(tmp_path)
    recs = {os.path.basename(r.path)[:-4]: r for r in load_records(data_cfg(name="openimages", root=str(tmp_path)))}
    assert len(recs) == 4
    assert recs["000a1249af2bc5f0"].label == "Bottle"
    assert recs["000a1249af2bc5f0"].boxes == ((20.0, 20.0, 100.0, 90.0),)  # normalised -> pixels
    assert recs["000b2c3d4e5f6a7b"].labels == ("Bottle", "Flowerpot", "Mug")
    multi = load_records(data_cfg(name="openimages", root=str(tmp_path), scene="multi"))
    assert [r.extra["image_id"] for r in multi] == ["000b2c3d4e5f6a7b"]
    mugs = load_records(data_cfg(name="openimages", root=str(tmp_path), classes=["Mug"], scene="single"))
    assert sorted(r.extra["image_id"] for r in mugs) == ["000b2c3d4e5f6a7b", "0099887766554433"]
    by_mid = load_records(data_cfg(name="openimages", root=str(tmp_path), classes=["/m/01g317"]))
    assert [r.label for r in by_mid] == ["Person"]
    capped = load_records(data_cfg(name="openimages", root=str(tmp_path), max_per_class=1))
    assert len(capped) == 3  # Bottle (2 images) capped to 1, Mug, Person
    (tmp_path / "validation" / "0099887766554433.jpg").write_bytes(b"")
    log = SkipLog(None)
    assert len(load_records(data_cfg(name="openimages", root=str(tmp_path)), log)) == 3
    assert log.reasons() == {"empty_file": 1}
