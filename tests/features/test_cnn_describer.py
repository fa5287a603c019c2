"""CnnDescriber end to end on generated images: skips, whitening, single image, persistence, config."""

from __future__ import annotations

import glob
import json
import os

import numpy as np
import pytest
from omegaconf import OmegaConf

from dfcnn.config.features import AggregatorConfig, BackboneConfig
from dfcnn.data.skipped import SkipLog
from dfcnn.features.describer import CnnDescriber
from dfcnn.features.pooling import AGGREGATORS
from dfcnn.features.whitening import PCAWhitening

CONF = os.path.join(os.path.dirname(__file__), "..", "..", "conf")
SMALL = dict(image_size=64, batch_size=3)


def good(records):
    return [r for r in records if "corrupt" not in r.path and "empty" not in r.path]


def test_transform_skips_undecodable_files_and_keeps_order(image_records, tmp_path):
    d = CnnDescriber(aggregator="gap", whiten=False, **SMALL)
    log = SkipLog(tmp_path / "skipped.jsonl")
    X, kept = d.transform(image_records, skip_log=log)
    assert kept == good(image_records)
    assert X.shape == (6, 1280) and X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-5)
    assert log.count == 2 and "empty_file" in log.reasons()
    logged = SkipLog.read(tmp_path / "skipped.jsonl")
    assert sorted(os.path.basename(e["path"]) for e in logged) == ["corrupt.jpg", "empty.png"]
    X2, kept2 = d.transform(image_records)  # skip_log=None: logged, still skipped
    np.testing.assert_array_equal(X, X2)


@pytest.mark.parametrize("aggregator", ["gap", "crow", "rmac", "dfcnn"])  # all 7 shells: test_functional
def test_fit_whitening_then_describe(aggregator, image_records):
    d = CnnDescriber(aggregator=aggregator, whiten_dim=4, **SMALL)
    with pytest.raises(RuntimeError, match="fitted"):
        d.transform(image_records[:1])
    d.fit(image_records)  # 6 decodable images (2 bad files are skipped)
    assert d.whitening.n_components_ == 4
    X, kept = d.transform(image_records)
    assert X.shape == (6, 4) and len(kept) == 6
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-5)
    assert np.all(np.isfinite(X))
    assert d.info["dim"] == 4 and d.info["aggregator"] == aggregator


def test_regional_whitening_is_learned_on_region_vectors(image_records):
    d = CnnDescriber(aggregator="rmac", whiten_dim=8, **SMALL).fit(good(image_records)[:3])
    # 64-px images give 2x3 / 3x2 maps: more than one region per image
    assert d.whitening.n_samples_seen_ > 3


def test_describe_image_equals_its_transform_row(image_records, drawn):
    d = CnnDescriber(aggregator="dfcnn", whiten_dim=6, **SMALL).fit(good(image_records))
    X, kept = d.transform(image_records)
    from PIL import Image

    for i in (0, 2, 5):
        with Image.open(kept[i].path) as im:
            v = d.describe_image(im.convert("RGB"))
        np.testing.assert_allclose(v, X[i], atol=1e-5)


def test_save_load_round_trip(image_records, tmp_path):
    d = CnnDescriber(aggregator="dfcnn", whiten_dim=5, multiscale=True, **SMALL).fit(good(image_records))
    X, _ = d.transform(image_records)
    d.save(str(tmp_path / "describer"))
    meta = json.loads((tmp_path / "describer" / "describer.json").read_text())
    assert meta["params"]["aggregator"] == "dfcnn" and len(meta["weights_sha256"]) == 64
    for npy in glob.glob(str(tmp_path / "describer" / "**" / "*.npy"), recursive=True):
        np.load(npy, allow_pickle=False)
    n = np.load(tmp_path / "describer" / "channel_sensitivity.npy", allow_pickle=False)  # Eq. 9
    assert n.shape == (1280,) and np.all((n >= 0) & (n <= 1))
    assert set(d.metrics()) == {"channel_sensitivity/mean", "channel_sensitivity/min", "channel_sensitivity/max"}
    loaded = CnnDescriber.load(str(tmp_path / "describer"))
    assert loaded.info == d.info
    X2, _ = loaded.transform(image_records)
    np.testing.assert_array_equal(X, X2)


def test_multiscale_sums_scales_before_the_final_l2(image_records):
    rec = good(image_records)
    single = CnnDescriber(aggregator="gem", whiten=False, **SMALL).transform(rec)[0]
    multi = CnnDescriber(aggregator="gem", whiten=False, multiscale=True, **SMALL).transform(rec)[0]
    assert multi.shape == single.shape
    np.testing.assert_allclose(np.linalg.norm(multi, axis=1), 1.0, rtol=1e-5)
    assert not np.allclose(multi, single, atol=1e-3)


def test_random_init_is_tagged_and_reproducible(image_records):
    a = CnnDescriber(backbone="mobilenet_v2", pretrained=False, aggregator="mac", whiten=False, **SMALL)
    b = CnnDescriber(backbone="mobilenet_v2", pretrained=False, aggregator="mac", whiten=False, **SMALL)
    assert a.info["pretrained"] is False and a.info["weights"] == "random"
    np.testing.assert_array_equal(a.transform(image_records)[0], b.transform(image_records)[0])


@pytest.mark.parametrize("aggregator", AGGREGATORS)
def test_from_config_reads_backbone_and_aggregator_yaml(aggregator):
    cfg = OmegaConf.create(
        {
            "seed": 0,
            "backbone": OmegaConf.merge(
                OmegaConf.structured(BackboneConfig), OmegaConf.load(os.path.join(CONF, "backbone", "efficientnet_lite0.yaml"))
            ),
            "aggregator": OmegaConf.merge(
                OmegaConf.structured(AggregatorConfig), OmegaConf.load(os.path.join(CONF, "aggregator", f"{aggregator}.yaml"))
            ),
            "data": {"max_pixels": 1000},
        }
    )
    cfg.backbone.image_size = 96
    d = CnnDescriber.from_config(cfg)
    assert d.params.aggregator == aggregator and d.params.image_size == 96 and d.params.max_pixels == 1000
    assert d.params.whiten_dim == 512


def test_backbone_yaml_files_match_the_schema():
    names = sorted(os.path.splitext(f)[0] for f in os.listdir(os.path.join(CONF, "backbone")))
    for name in names:
        cfg = OmegaConf.merge(OmegaConf.structured(BackboneConfig), OmegaConf.load(os.path.join(CONF, "backbone", f"{name}.yaml")))
        assert cfg.name == name
    assert OmegaConf.load(os.path.join(CONF, "backbone", "inception_v3.yaml")).image_size == 299


def test_whitening_is_reused_not_refitted_on_transform(image_records):
    d = CnnDescriber(aggregator="gap", whiten_dim=3, **SMALL).fit(good(image_records))
    mean = d.whitening.mean_.copy()
    d.transform(image_records)
    np.testing.assert_array_equal(d.whitening.mean_, mean)
    assert isinstance(d.whitening, PCAWhitening)
