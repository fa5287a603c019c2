"""Top-level configs of each entry point, registered in Hydra's ConfigStore.

Every YAML under ``conf/`` is merged onto these dataclasses, so an unknown key or a value of
the wrong type stops the run with a message naming it, before any work starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from dfcnn.config.data import DataConfig
from dfcnn.config.features import AggregatorConfig, BackboneConfig
from dfcnn.config.forest import ForestConfig
from dfcnn.config.method import MethodConfig
from dfcnn.config.retrieval import RetrievalConfig


@dataclass
class PathsConfig:
    outputs: str = "outputs"  # MLflow store, caches, figures, reports


@dataclass
class MlflowConfig:
    tracking_uri: Optional[str] = None  # None: $MLFLOW_TRACKING_URI, else sqlite under outputs
    experiment: str = "dfcnn"
    run_name: Optional[str] = None
    enabled: bool = True


@dataclass
class BaseRunConfig:
    paths: PathsConfig = field(default_factory=PathsConfig)
    mlflow: MlflowConfig = field(default_factory=MlflowConfig)
    seed: int = 0


@dataclass
class PipelineConfig(BaseRunConfig):
    """Everything needed to turn a dataset into descriptors and rankings."""

    data: DataConfig = field(default_factory=DataConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    aggregator: AggregatorConfig = field(default_factory=AggregatorConfig)
    forest: ForestConfig = field(default_factory=ForestConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)


@dataclass
class TrainConfig(PipelineConfig):
    pass


@dataclass
class IndexConfig(PipelineConfig):
    index_dir: str = MISSING


@dataclass
class SearchConfig(BaseRunConfig):
    index_dir: str = MISSING
    query: str = MISSING  # an image, a folder, or a text file listing image paths
    top_k: int = 10
    output: str = "results.jsonl"
    box: Optional[list[float]] = None  # optional query crop [x0, y0, x1, y1]
    retrieval: Optional[RetrievalConfig] = None  # None: the settings stored with the index


@dataclass
class ReproduceConfig(PipelineConfig):
    methods: list[str] = field(default_factory=lambda: ["dfcnn", "cnn", "inception", "surf"])
    top_k: int = 10
    report_dir: Optional[str] = None  # default: <paths.outputs>/paper


SCHEMAS = {
    "train_schema": TrainConfig,
    "index_schema": IndexConfig,
    "search_schema": SearchConfig,
    "reproduce_schema": ReproduceConfig,
}


def register_configs() -> None:
    cs = ConfigStore.instance()
    for name, node in SCHEMAS.items():
        cs.store(name=name, node=node)
