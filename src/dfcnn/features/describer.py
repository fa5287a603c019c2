"""``CnnDescriber``: the CNN method of the describer protocol (backbone + aggregator + whitening).

``fit`` learns the PCA-whitening on training images only (region vectors for ``rmac``/``dfcnn``,
global vectors otherwise); ``transform`` streams records through a DataLoader, skipping and
logging undecodable files; ``save``/``load`` keep the settings and the whitening as JSON +
``.npy`` (the backbone weights are referenced by path and SHA-256, not copied).
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import asdict, dataclass, fields
from typing import Optional, Sequence

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from dfcnn.data.records import ImageRecord
from dfcnn.features.backbones import SPECS, build_backbone, file_sha256
from dfcnn.features.images import preprocess
from dfcnn.features.lightning import RecordDataModule, extract_to_shards, read_shards
from dfcnn.features.model import MULTISCALE, RetrievalNet
from dfcnn.features.pooling import build_aggregator
from dfcnn.features.whitening import PCAWhitening
from dfcnn.persist import atomic_save_npy, atomic_write_json, load_format_json

logger = logging.getLogger(__name__)

FORMAT = "dfcnn.cnn_describer/1"
WHITEN_CHUNK_ROWS = 20_000  # region vectors buffered before each whitening update


@dataclass
class DescriberParams:
    """Everything that decides the descriptors; persisted as JSON with the describer."""

    backbone: str = "efficientnet_lite0"
    pretrained: bool = True
    weights_path: Optional[str] = None
    image_size: int = 512
    multiscale: bool = False
    aggregator: str = "dfcnn"
    levels: int = 3
    alpha: float = 0.5
    gem_p: float = 3.0
    whiten: bool = True
    whiten_dim: Optional[int] = None
    whiten_shrinkage: float = 0.0
    whiten_eps: float = 1e-6
    batch_size: int = 8
    num_workers: int = 0
    accelerator: str = "cpu"
    devices: int = 1
    max_pixels: int = 89_478_485
    seed: int = 0


class CnnDescriber:
    """Images -> L2-normalised CNN descriptors ``[n, d]`` (SPEC §2.1-2.3)."""

    def __init__(self, params: DescriberParams | None = None, **overrides):
        params = params or DescriberParams()
        self.params = DescriberParams(**{**asdict(params), **overrides})
        p = self.params
        if p.backbone not in SPECS:
            raise ValueError(f"unknown backbone {p.backbone!r}; choose one of {', '.join(SPECS)}")
        self.backbone = build_backbone(p.backbone, p.pretrained, p.weights_path, seed=p.seed)
        aggregator = build_aggregator(p.aggregator, p.levels, p.alpha, p.gem_p)
        self.net = RetrievalNet(self.backbone, aggregator, MULTISCALE if p.multiscale else (1.0,)).eval()
        self.whitening: Optional[PCAWhitening] = None
        self._weights_sha256: Optional[str] = None

    # -- construction ----------------------------------------------------------------------------

    @classmethod
    def from_config(cls, cfg) -> "CnnDescriber":
        """Build from the whole run config (its ``backbone``, ``aggregator`` and ``data`` sections)."""
        b, a = cfg.backbone, cfg.aggregator
        data = cfg.get("data") if hasattr(cfg, "get") else None
        kwargs = dict(
            backbone=b.name,
            pretrained=bool(b.pretrained),
            weights_path=b.get("weights_path"),
            image_size=int(b.image_size),
            multiscale=bool(b.get("multiscale", False)),
            batch_size=int(b.get("batch_size", 8)),
            num_workers=int(b.get("num_workers", 0)),
            accelerator=str(b.get("accelerator", "cpu")),
            devices=int(b.get("devices", 1)),
            aggregator=a.name,
            levels=int(a.get("levels", 3)),
            alpha=float(a.get("alpha", 0.5)),
            gem_p=float(a.get("gem_p", 3.0)),
            whiten=bool(a.get("whiten", True)),
            whiten_dim=a.get("whiten_dim"),
            whiten_shrinkage=float(a.get("whiten_shrinkage", 0.0)),
            whiten_eps=float(a.get("whiten_eps", 1e-6)),
            seed=int(cfg.get("seed", 0)) if hasattr(cfg, "get") else 0,
        )
        if data is not None and data.get("max_pixels") is not None:
            kwargs["max_pixels"] = int(data.max_pixels)
        return cls(**kwargs)

    # -- describer protocol ----------------------------------------------------------------------

    @property
    def info(self) -> dict:
        p = self.params
        return {
            "implementation": f"{__name__}.CnnDescriber",
            "backbone": p.backbone,
            "aggregator": p.aggregator,
            "pretrained": self.backbone.pretrained,
            "weights": self.backbone.weights,
            "image_size": p.image_size,
            "fixed_input_size": self.backbone.spec.fixed_size,
            "multiscale": p.multiscale,
            "whiten": p.whiten,
            "channels": self.backbone.channels,
            "dim": self.dim,
        }

    @property
    def dim(self) -> int:
        return self.net.dim

    def channel_sensitivity(self) -> Optional[np.ndarray]:
        """Eq. 9's N_l averaged over every map described so far (``dfcnn`` aggregator only)."""
        mean = getattr(self.net.aggregator, "mean_channel_sensitivity", lambda: None)()
        return None if mean is None else mean.numpy().astype(np.float32)

    def metrics(self) -> dict[str, float]:
        """Summary numbers for MLflow (mean / min / max channel sensitivity where there is one)."""
        n = self.channel_sensitivity()
        if n is None:
            return {}
        return {"channel_sensitivity/mean": float(n.mean()), "channel_sensitivity/min": float(n.min()),
                "channel_sensitivity/max": float(n.max())}

    @property
    def is_fitted(self) -> bool:
        return not self.params.whiten or self.whitening is not None

    def fit(self, records: Sequence[ImageRecord], skip_log=None) -> "CnnDescriber":
        """Learn the PCA-whitening on these (training) images; a no-op when whitening is off."""
        if not self.params.whiten:
            return self
        self.net.set_whitening(None, None)
        whitening = PCAWhitening(self.params.whiten_dim, self.params.whiten_shrinkage, self.params.whiten_eps)
        buffer: list[np.ndarray] = []
        buffered = 0
        fitted = False
        for batch in self._batches(records, skip_log, "whitening"):
            rows = self.net.whitening_inputs(batch["images"]).cpu().numpy()
            buffer.append(rows)
            buffered += len(rows)
            if buffered >= WHITEN_CHUNK_ROWS:
                whitening.partial_fit(np.concatenate(buffer))
                buffer, buffered, fitted = [], 0, True
        if buffer:
            whitening.partial_fit(np.concatenate(buffer))
            fitted = True
        if not fitted:
            raise ValueError("no decodable training image to learn the whitening on")
        self._set_whitening(whitening)
        logger.info(
            "whitening learned on %d vectors of %d images: %d -> %d dims",
            whitening.n_samples_seen_, len(records), whitening.n_features_in_, whitening.n_components_,
        )
        return self

    def transform(self, records: Sequence[ImageRecord], skip_log=None) -> tuple[np.ndarray, list[ImageRecord]]:
        """Descriptors ``float32 [n_kept, d]`` of the decodable records, and those records in order.

        On one CPU device the images stream through an in-process loop; with ``devices > 1`` or
        another accelerator, through Lightning prediction (``ddp_spawn``) and descriptor shards.
        """
        self._check_fitted()
        if self.params.devices > 1 or self.params.accelerator != "cpu":
            return self._transform_lightning(records, skip_log)
        chunks: list[np.ndarray] = []
        kept: list[ImageRecord] = []
        for batch in self._batches(records, skip_log, "describe"):
            chunks.append(self.net(batch["images"]).cpu().numpy().astype(np.float32))
            kept.extend(records[i] for i in batch["index"])
        X = np.concatenate(chunks) if chunks else np.zeros((0, self.dim), np.float32)
        return X, kept

    def datamodule(self, records: Sequence[ImageRecord]) -> RecordDataModule:
        """The Lightning data module that streams ``records`` as this describer expects them."""
        p = self.params
        return RecordDataModule(records, p.image_size, self.backbone.spec.fixed_size, p.max_pixels, p.batch_size, p.num_workers)

    def extract(self, records: Sequence[ImageRecord], output_dir: str, **trainer_kwargs) -> None:
        """Write descriptor shards of ``records`` to ``output_dir`` with a Lightning Trainer
        (``accelerator``, ``devices``, ``strategy`` e.g. ``"ddp"``, ``num_nodes``); merge them with
        :func:`dfcnn.features.lightning.read_shards`."""
        self._check_fitted()
        extract_to_shards(self.net, self.datamodule(records), output_dir, **trainer_kwargs)

    def _transform_lightning(self, records, skip_log):
        p = self.params
        strategy = "ddp_spawn" if p.devices > 1 else "auto"
        with tempfile.TemporaryDirectory(prefix="dfcnn-shards-") as tmp:
            self.extract(records, tmp, accelerator=p.accelerator, devices=p.devices, strategy=strategy)
            X, order, _paths, errors = read_shards(tmp)
        for e in errors:
            if skip_log is not None:
                skip_log.add(e["path"], e["reason"], e["detail"])
            else:
                logger.warning("skipped %s: %s (%s)", e["path"], e["reason"], e["detail"])
        return X, [records[i] for i in order]

    def describe_image(self, image: Image.Image) -> np.ndarray:
        """One query image (or crop) -> descriptor ``[d]``."""
        self._check_fitted()
        tensor = preprocess(image, self.params.image_size, self.backbone.spec.fixed_size)
        return self.net([tensor])[0].cpu().numpy().astype(np.float32)

    # -- persistence -----------------------------------------------------------------------------

    def save(self, directory: str) -> None:
        """``describer.json`` (+ ``whitening/``); the backbone weights file is referenced, not copied."""
        os.makedirs(directory, exist_ok=True)
        if self.whitening is not None:
            self.whitening.save(os.path.join(directory, "whitening"))
        sensitivity = self.channel_sensitivity()
        if sensitivity is not None:  # Eq. 9, for inspection
            atomic_save_npy(os.path.join(directory, "channel_sensitivity.npy"), sensitivity)
        meta = {
            "format": FORMAT,
            "params": asdict(self.params),
            "info": self.info,
            "weights_sha256": self._weights_digest(),
        }
        atomic_write_json(os.path.join(directory, "describer.json"), meta)

    @classmethod
    def load(cls, directory: str) -> "CnnDescriber":
        meta = load_format_json(os.path.join(directory, "describer.json"), FORMAT, "CnnDescriber")
        known = {f.name for f in fields(DescriberParams)}
        obj = cls(**{k: v for k, v in meta["params"].items() if k in known})
        expected = meta.get("weights_sha256")
        if expected and obj._weights_digest() != expected:
            raise ValueError(
                f"{directory}: backbone weights {obj.backbone.weights} differ from those the descriptors were "
                "made with (SHA-256 mismatch); rebuild the index or point backbone.weights_path at the original file"
            )
        wdir = os.path.join(directory, "whitening")
        if os.path.isdir(wdir):
            obj._set_whitening(PCAWhitening.load(wdir))
        return obj

    # -- helpers ---------------------------------------------------------------------------------

    def _set_whitening(self, whitening: PCAWhitening) -> None:
        self.whitening = whitening
        self.net.set_whitening(whitening.mean_, whitening.projection_)

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise RuntimeError("CnnDescriber with whitening must be fitted on training images before transform")

    def _weights_digest(self) -> Optional[str]:
        if self._weights_sha256 is None and self.backbone.pretrained:
            self._weights_sha256 = file_sha256(self.backbone.weights)
        return self._weights_sha256

    def _batches(self, records, skip_log, desc: str):
        """Decoded, pre-processed batches; undecodable files go to ``skip_log`` (or the log)."""
        p = self.params
        loader = self.datamodule(records).predict_dataloader()
        for batch in tqdm(loader, desc=f"{desc} ({p.backbone}/{p.aggregator})", unit="batch", leave=False):
            for _index, path, reason, detail in batch["errors"]:
                if skip_log is not None:
                    skip_log.add(path, reason, detail)
                else:
                    logger.warning("skipped %s: %s (%s)", path, reason, detail)
            if batch["images"]:
                yield batch
