import mlflow
import pytest
from mlflow.tracking import MlflowClient
from omegaconf import OmegaConf

from dfcnn.config.schema import TrainConfig
from dfcnn.tracking.environment import capture_environment
from dfcnn.tracking.runs import flatten, tracked_run, tracking_uri


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    conf = OmegaConf.structured(TrainConfig)
    conf.paths.outputs = str(tmp_path / "out")
    conf.mlflow.experiment = "unit"
    return conf


def _runs(cfg):
    mlflow.set_tracking_uri(tracking_uri(cfg))
    client = MlflowClient()
    exp = client.get_experiment_by_name("unit")
    return client, client.search_runs([exp.experiment_id])


def test_run_records_config_environment_and_finishes(cfg, tmp_path):
    with tracked_run(cfg, "train", run_name="ok"):
        mlflow.log_metric("mAP", 0.5)
    client, runs = _runs(cfg)
    (run,) = runs
    assert run.info.status == "FINISHED"
    assert run.data.params["forest.xgb.reg_lambda"] == "1.0"
    assert run.data.params["data.name"] == "catalogue"
    assert run.data.metrics["mAP"] == 0.5
    assert run.data.tags["entry"] == "train"
    assert run.data.tags["env.cpu_cores_logical"].isdigit()
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "environment.json"} <= artifacts
    # embedded default: SQLite file and artifacts under the outputs folder
    assert (tmp_path / "out" / "mlflow.db").exists()
    assert (tmp_path / "out" / "mlartifacts").is_dir()


def test_failing_run_is_marked_failed_and_interrupt_killed(cfg):
    with pytest.raises(RuntimeError):
        with tracked_run(cfg, "train", run_name="boom"):
            raise RuntimeError("boom")
    with pytest.raises(KeyboardInterrupt):
        with tracked_run(cfg, "train", run_name="ctrl-c"):
            raise KeyboardInterrupt
    _, runs = _runs(cfg)
    status = {r.info.run_name: r.info.status for r in runs}
    assert status == {"boom": "FAILED", "ctrl-c": "KILLED"}
    assert mlflow.active_run() is None


def test_nested_child_runs_point_at_parent(cfg):
    with tracked_run(cfg, "reproduce", run_name="parent") as parent:
        with tracked_run(cfg, "reproduce", run_name="child", nested=True):
            pass
    _, runs = _runs(cfg)
    child = next(r for r in runs if r.info.run_name == "child")
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id


def test_flatten_and_environment():
    assert flatten({"a": {"b": 1, "c": [1, 2]}, "d": None}) == {"a.b": "1", "a.c": "[1, 2]", "d": "None"}
    env = capture_environment()
    assert {"cpu", "ram_gb", "os", "python", "gpu"} <= set(env)
    assert float(env["ram_gb"]) > 0


def test_benchmark_run_lands_in_the_benchmarks_experiment(tmp_path, monkeypatch):
    from dfcnn.tracking.benchmarks import benchmark_run

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'bench.db'}")
    with benchmark_run("unit-bench"):
        mlflow.log_metric("ratio", 0.95)
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'bench.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("benchmarks").experiment_id])
    assert run.info.run_name == "unit-bench" and run.data.metrics["ratio"] == 0.95
    assert run.data.tags["entry"] == "benchmark" and "env.cpu" in run.data.tags
