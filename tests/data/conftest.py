import pytest
from omegaconf import OmegaConf

from dfcnn.config.data import DataConfig


@pytest.fixture
def data_cfg():
    """A structured DataConfig (typos fail as in real runs); override with keyword arguments."""

    def make(**overrides):
        cfg = OmegaConf.structured(DataConfig())
        for key, value in overrides.items():
            OmegaConf.update(cfg, key, value, merge=False)
        return cfg

    return make


@pytest.fixture
def tiny_catalogue(data_cfg):
    return lambda **kw: data_cfg(
        **{"n_fields": 3, "instances_per_field": 2, "views_per_instance": 3, "multi_scenes_per_field": 1, "megapixels": 0.03, **kw}
    )
