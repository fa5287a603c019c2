"""dfcnn-serve: an index built by dfcnn-index behind an HTTP API and a search page (SPEC §7).

    dfcnn-serve index_dir=OUT [host=127.0.0.1] [port=8000]
    DFCNN_SERVE_API_KEY=secret dfcnn-serve index_dir=OUT host=0.0.0.0      # a key is needed off loopback

Loads the index once, then serves POST /search, GET /images/{id}, GET /thumbs/{id}, /health,
/stats, /openapi.json and the search page at /.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from dfcnn.cli.app import ConfigError, hydra_entry

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_settings(cfg: DictConfig):
    """``ServeSettings`` from the ``serve`` config, refusing unsafe or meaningless values."""
    from dfcnn.serve.service import ServeSettings

    if not is_loopback(str(cfg.host)) and not cfg.api_key and not cfg.allow_public:
        raise ConfigError(f"host={cfg.host} is reachable from other machines: set an API key "
                          "(DFCNN_SERVE_API_KEY=... or api_key=...) or pass allow_public=true")
    if not 0 <= int(cfg.port) <= 65535:
        raise ConfigError(f"port must be 0..65535, got {cfg.port}")
    if cfg.max_upload_mb <= 0 or cfg.max_pixels <= 0 or cfg.max_pending <= 0:
        raise ConfigError("max_upload_mb, max_pixels and max_pending must be positive")
    if not 1 <= int(cfg.default_top_k) <= int(cfg.max_top_k):
        raise ConfigError(f"need 1 <= default_top_k <= max_top_k, got {cfg.default_top_k} and {cfg.max_top_k}")
    thumbs_dir = cfg.thumbs_dir or os.path.join(str(cfg.paths.outputs), "serve", "thumbs")
    return ServeSettings(api_key=cfg.api_key or None, max_upload_bytes=int(cfg.max_upload_mb * 2**20),
                         max_pixels=int(cfg.max_pixels), default_top_k=int(cfg.default_top_k),
                         max_top_k=int(cfg.max_top_k), thumb_size=int(cfg.thumb_size),
                         thumbs_dir=str(Path(thumbs_dir).expanduser().resolve()), max_pending=int(cfg.max_pending))


def build_app(cfg: DictConfig):
    """Load the index once and wrap it in the app (warmed up, so the first request is not the slow one)."""
    from PIL import Image

    from dfcnn.retrieval.retriever import Retriever
    from dfcnn.serve.app import create_app

    settings = serve_settings(cfg)
    overrides = {k: v for k, v in (OmegaConf.to_container(cfg.retrieval, resolve=True) or {}).items() if v is not None}
    retriever = Retriever.from_index(cfg.index_dir, overrides=overrides)
    retriever.describer.describe_image(Image.new("RGB", (64, 64), (128, 128, 128)))
    log.info("serving the %s index at %s (%d images)", retriever.method, cfg.index_dir, retriever.ntotal)
    return create_app(retriever, settings)


@hydra_entry("serve")
def main(cfg: DictConfig) -> None:
    import uvicorn

    app = build_app(cfg)
    uvicorn.run(app, host=str(cfg.host), port=int(cfg.port), log_level=str(cfg.log_level),
                access_log=bool(cfg.access_log), server_header=False)


if __name__ == "__main__":
    main()
