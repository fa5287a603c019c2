import pytest
from hydra import compose, initialize_config_dir

from dfcnn.config import register_configs
from dfcnn.config.data import DataConfig
from pathlib import Path

CONF = str(Path(__file__).resolve().parents[2] / "conf")


@pytest.mark.parametrize("name", ["catalogue", "folder", "coco", "imagenet", "openimages"])
def test_data_group_composes(name):
    register_configs()
    with initialize_config_dir(config_dir=CONF, version_base=None):
        cfg = compose("index", overrides=[f"data={name}", "index_dir=/tmp/unused"])
    assert cfg.data.name == name
    assert set(cfg.data.keys()) == set(DataConfig.__dataclass_fields__)
