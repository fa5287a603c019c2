"""dfcnn-serve's config: schema-checked, loopback by default, a key required before listening elsewhere."""

from __future__ import annotations

import pytest


def compose_serve(*overrides):
    from hydra import compose, initialize_config_dir

    from dfcnn.cli.app import conf_dir
    from dfcnn.config import register_configs

    register_configs()
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        return compose(config_name="serve", overrides=list(overrides))


def test_defaults_and_settings(tmp_path, monkeypatch):
    from dfcnn.cli.serve import serve_settings

    monkeypatch.delenv("DFCNN_SERVE_API_KEY", raising=False)
    cfg = compose_serve("index_dir=/x", f"paths.outputs={tmp_path}", "max_upload_mb=1.5", "retrieval.fuzzy=false")
    assert cfg.host == "127.0.0.1" and cfg.port == 8000 and cfg.api_key is None and cfg.retrieval.fuzzy is False
    settings = serve_settings(cfg)
    assert settings.max_upload_bytes == 1_572_864 and settings.api_key is None
    assert settings.thumbs_dir == str(tmp_path.resolve() / "serve" / "thumbs")


def test_api_key_from_environment(monkeypatch):
    from dfcnn.cli.serve import serve_settings

    monkeypatch.setenv("DFCNN_SERVE_API_KEY", "from-env")
    cfg = compose_serve("index_dir=/x", "host=0.0.0.0")
    assert serve_settings(cfg).api_key == "from-env"


def test_refuses_unsafe_or_meaningless_settings(monkeypatch):
    from dfcnn.cli.app import ConfigError, validate
    from dfcnn.cli.serve import serve_settings

    monkeypatch.delenv("DFCNN_SERVE_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="reachable from other machines: set an API key"):
        serve_settings(compose_serve("index_dir=/x", "host=0.0.0.0"))
    assert serve_settings(compose_serve("index_dir=/x", "host=0.0.0.0", "allow_public=true")).api_key is None
    assert serve_settings(compose_serve("index_dir=/x", "host=::1")) is not None
    with pytest.raises(ConfigError, match="default_top_k <= max_top_k"):
        serve_settings(compose_serve("index_dir=/x", "default_top_k=50", "max_top_k=20"))
    with pytest.raises(ConfigError, match="must be positive"):
        serve_settings(compose_serve("index_dir=/x", "max_upload_mb=0"))
    with pytest.raises(ConfigError, match="does not fit its schema"):
        validate(compose_serve("index_dir=/x", "+colour=red"), "serve")
