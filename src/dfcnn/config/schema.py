"""Top-level configs of each entry point, registered in Hydra's ConfigStore.

Every YAML under ``conf/`` is merged onto these dataclasses, so an unknown key or a value of
the wrong type stops the run with a message naming it, before any work starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from dfcnn.config.baselines import SurfConfig
from dfcnn.config.data import DataConfig
from dfcnn.config.features import AggregatorConfig, BackboneConfig
from dfcnn.config.forest import ForestConfig
from dfcnn.config.method import MethodConfig
from dfcnn.config.retrieval import RetrievalConfig, SearchRetrievalConfig


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
    surf: SurfConfig = field(default_factory=SurfConfig)


@dataclass
class TrainConfig(PipelineConfig):
    pass


@dataclass
class IndexConfig(PipelineConfig):
    index_dir: str = MISSING
    add: bool = False  # add the images not yet indexed to an existing index (its fitted describer is reused)
    overwrite: bool = False  # rebuild an existing index from scratch


@dataclass
class SearchConfig(BaseRunConfig):
    index_dir: str = MISSING
    query: str = MISSING  # an image, a folder, or a text file listing image paths
    top_k: int = 10
    output: str = "results.jsonl"
    box: Optional[list[float]] = None  # optional query crop [x0, y0, x1, y1]
    # search-time retrieval settings to change, e.g. retrieval.fuzzy=false (default: those stored
    # with the index); index-time ones (attribute_weight, dba, fuzzy_k, backend ...) must match the index
    retrieval: SearchRetrievalConfig = field(default_factory=SearchRetrievalConfig)


@dataclass
class FiguresConfig:
    """How much data each paper artefact uses (SPEC §5)."""

    frp_top_l: int = 10  # Fig. 10: L of FRP(L)
    fig10_searches: int = 100  # Fig. 10: searches per scene type
    fig11_lengths: list[int] = field(default_factory=lambda: [20, 40, 60, 80, 100])
    fig11_searches_per_field: int = 20
    fig8_megapixels: list[float] = field(default_factory=lambda: [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    fig8_scenes: int = 2  # scenes per scene type and pixel count
    fig9_images_per_field: int = 3
    fig9_repeats: int = 10


@dataclass
class ReproduceConfig(PipelineConfig):
    methods: list[str] = field(default_factory=lambda: ["dfcnn", "cnn", "inception", "surf"])
    artefacts: list[str] = field(default_factory=lambda: ["fig7", "fig8", "fig9", "fig10", "fig11", "table1"])
    figures: FiguresConfig = field(default_factory=FiguresConfig)
    top_k: int = 10
    report_dir: Optional[str] = None  # default: <paths.outputs>/paper


@dataclass
class ServeConfig(BaseRunConfig):
    """dfcnn-serve: one index behind an HTTP API and a search page."""

    index_dir: str = MISSING
    host: str = "127.0.0.1"  # loopback by default; another host needs api_key or allow_public=true
    port: int = 8000
    api_key: Optional[str] = None  # required in the X-API-Key header when set (serve.yaml reads $DFCNN_SERVE_API_KEY)
    allow_public: bool = False  # bind a non-loopback host without an api_key
    max_upload_mb: float = 20.0
    max_pixels: int = 40_000_000  # decompression-bomb guard for uploads and thumbnails
    default_top_k: int = 10
    max_top_k: int = 100
    thumb_size: int = 256
    thumbs_dir: Optional[str] = None  # default: <paths.outputs>/serve/thumbs
    max_pending: int = 16  # searches queued at once before 503
    log_level: str = "info"
    access_log: bool = True
    retrieval: SearchRetrievalConfig = field(default_factory=SearchRetrievalConfig)


SCHEMAS = {
    "train_schema": TrainConfig,
    "index_schema": IndexConfig,
    "search_schema": SearchConfig,
    "reproduce_schema": ReproduceConfig,
    "serve_schema": ServeConfig,
}


def register_configs() -> None:
    cs = ConfigStore.instance()
    for name, node in SCHEMAS.items():
        cs.store(name=name, node=node)
