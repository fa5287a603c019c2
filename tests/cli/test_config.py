import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException

from dfcnn.cli.app import conf_dir
from dfcnn.config import register_configs

ENTRY_POINTS = {"train": [], "index": ["index_dir=x"], "search": ["index_dir=x", "query=y"], "reproduce": []}


@pytest.fixture(autouse=True)
def hydra_conf():
    register_configs()
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        yield


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_every_entry_point_composes(entry):
    cfg = compose(config_name=entry, overrides=ENTRY_POINTS[entry], return_hydra_config=True)
    assert cfg.paths.outputs == "outputs"
    assert "runs" in cfg.hydra.run.dir and "multiruns" in cfg.hydra.sweep.dir


def test_method_switches_its_groups_and_user_overrides_win():
    cfg = compose(config_name="reproduce", overrides=["method=cnn"])
    assert (cfg.method.name, cfg.aggregator.name, cfg.forest.enabled) == ("cnn", "gap", False)
    cfg = compose(config_name="reproduce", overrides=["method=cnn", "aggregator=rmac"])
    assert cfg.aggregator.name == "rmac"


@pytest.mark.parametrize("override, named", [
    ("data.bogus=1", "data.bogus"),
    ("forest.n_trees=many", "forest.n_trees"),
    ("aggregator=nope", "aggregator"),
])
def test_bad_keys_fail_naming_them(override, named):
    with pytest.raises(ConfigCompositionException) as err:
        compose(config_name="train", overrides=[override])
    text = str(err.value) + str(err.value.__cause__ or "")
    assert named in text


def test_keys_forced_in_with_plus_are_caught_by_validation():
    from dfcnn.cli.app import ConfigError, validate

    cfg = compose(config_name="train", overrides=["+forest.n_treez=3"])
    with pytest.raises(ConfigError, match="n_treez"):
        validate(cfg, "train")
    validate(compose(config_name="train"), "train")  # the shipped config fits
