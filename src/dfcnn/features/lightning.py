"""Extraction as Lightning prediction, so it scales to many images, devices and nodes (DDP).

- :class:`RecordDataModule` streams records as decoded tensors (bad files travel as errors).
- :class:`FeatureExtractor` wraps the descriptor network; ``predict_step`` yields descriptors.
- :class:`DescriptorShardWriter` writes one shard per batch and rank: ``<stem>.npy`` (float32
  descriptors) + ``<stem>.json`` (dataset indices, paths, skipped files), each written atomically.
- :func:`read_shards` merges the shards of all ranks back into dataset order.

Nothing is kept in memory across batches, so peak memory does not grow with the image count.
"""

from __future__ import annotations

import glob
import json
import os
from typing import Any, Optional, Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import BasePredictionWriter
from torch.utils.data import DataLoader

from dfcnn.data.records import ImageRecord
from dfcnn.features.images import RecordImageDataset, collate_images
from dfcnn.features.model import RetrievalNet


class RecordDataModule(pl.LightningDataModule):
    """Records (of any dataset) -> batches ``{"index", "path", "images", "errors"}``."""

    def __init__(
        self,
        records: Sequence[ImageRecord] | Sequence[str],
        image_size: int = 512,
        fixed_size: Optional[int] = None,
        max_pixels: int = 89_478_485,
        batch_size: int = 8,
        num_workers: int = 0,
    ):
        super().__init__()
        self.dataset = RecordImageDataset(records, image_size, fixed_size, max_pixels)
        self.batch_size = batch_size
        self.num_workers = num_workers

    def predict_dataloader(self) -> DataLoader:
        return DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            shuffle=False,
            num_workers=self.num_workers,
            collate_fn=collate_images,
            persistent_workers=self.num_workers > 0,
        )


class FeatureExtractor(pl.LightningModule):
    """The descriptor network as a LightningModule; inference only (no training step)."""

    def __init__(self, net: RetrievalNet):
        super().__init__()
        self.net = net

    def forward(self, images: list[torch.Tensor]) -> torch.Tensor:
        return self.net([im.to(self.device) for im in images])

    def predict_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> dict:
        descriptors = self(batch["images"]) if batch["images"] else torch.zeros((0, self.net.dim))
        return {
            "index": list(batch["index"]),
            "path": list(batch["path"]),
            "descriptors": descriptors.float().cpu(),
            "errors": list(batch["errors"]),
        }


class DescriptorShardWriter(BasePredictionWriter):
    """Writes each predicted batch to ``shard-r<rank>-b<batch>.{npy,json}`` under ``output_dir``."""

    def __init__(self, output_dir: str):
        super().__init__(write_interval="batch")
        self.output_dir = output_dir

    def setup(self, trainer, pl_module, stage=None) -> None:
        os.makedirs(self.output_dir, exist_ok=True)

    def write_on_batch_end(self, trainer, pl_module, prediction: Any, batch_indices, batch, batch_idx, dataloader_idx):
        stem = os.path.join(self.output_dir, f"shard-r{trainer.global_rank:04d}-d{dataloader_idx}-b{batch_idx:07d}")
        _atomic_npy(stem + ".npy", prediction["descriptors"].numpy().astype(np.float32))
        meta = {
            "index": [int(i) for i in prediction["index"]],
            "path": [str(p) for p in prediction["path"]],
            "errors": [{"index": int(i), "path": str(p), "reason": r, "detail": d} for i, p, r, d in prediction["errors"]],
        }
        _atomic_json(stem + ".json", meta)


def read_shards(directory: str) -> tuple[np.ndarray, list[int], list[str], list[dict]]:
    """Merge all shards: ``(descriptors [n, d] in dataset order, indices, paths, skipped)``.

    An index written twice (a distributed sampler may repeat samples to even out ranks) is
    kept once.
    """
    rows: dict[int, np.ndarray] = {}
    paths: dict[int, str] = {}
    errors: dict[int, dict] = {}
    dim = None
    for meta_path in sorted(glob.glob(os.path.join(directory, "shard-*.json"))):
        with open(meta_path, encoding="utf-8") as fh:
            meta = json.load(fh)
        X = np.load(meta_path[: -len(".json")] + ".npy", allow_pickle=False)
        dim = X.shape[1] if X.ndim == 2 else dim
        for row, (i, p) in enumerate(zip(meta["index"], meta["path"])):
            rows.setdefault(i, X[row])
            paths.setdefault(i, p)
        for e in meta["errors"]:
            errors.setdefault(e["index"], e)
    order = sorted(rows)
    X = np.stack([rows[i] for i in order]).astype(np.float32) if order else np.zeros((0, dim or 0), np.float32)
    return X, order, [paths[i] for i in order], [errors[i] for i in sorted(errors)]


def extract_to_shards(
    net: RetrievalNet,
    datamodule: RecordDataModule,
    output_dir: str,
    accelerator: str = "cpu",
    devices: int | str = 1,
    strategy: str = "auto",
    num_nodes: int = 1,
) -> None:
    """Run prediction over ``datamodule`` and leave the descriptor shards in ``output_dir``."""
    trainer = pl.Trainer(
        accelerator=accelerator,
        devices=devices,
        strategy=strategy,
        num_nodes=num_nodes,
        callbacks=[DescriptorShardWriter(output_dir)],
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=True,
        inference_mode=True,
    )
    trainer.predict(FeatureExtractor(net), datamodule=datamodule, return_predictions=False)


def _atomic_npy(path: str, array: np.ndarray) -> None:
    tmp = path + ".tmp"
    with open(tmp, "wb") as fh:
        np.save(fh, array, allow_pickle=False)
    os.replace(tmp, path)


def _atomic_json(path: str, obj) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(obj, fh)
    os.replace(tmp, path)
