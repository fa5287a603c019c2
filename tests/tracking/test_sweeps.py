"""Sweep presets, launcher configs, a real joblib multirun and the sweep table built from it.

A multirun gives one MLflow parent run and one child run per job, tagged with the sweep id and
the job's overrides (SPEC §1.2). The basic launcher runs against a live ``mlflow server`` in
``test_mlflow_server.py``.
"""

from __future__ import annotations

import csv
import itertools
import os
import subprocess
import sys

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import OmegaConf

from dfcnn.cli.app import conf_dir, validate
from dfcnn.config import register_configs
from dfcnn.tracking.runs import PARENT_ID_FILE
from tests.conftest import run_entry

GRID_PRESETS = {
    "trees": {"forest.n_trees": "25,50,100,200"},
    "layers": {"forest.max_layers": "1,2,3,4,6"},
    "lambda_gamma": {"forest.xgb.reg_lambda": "0.01,0.1,1,10", "forest.xgb.gamma": "0,0.1,1"},
    "trees_lambda": {"forest.n_trees": "25,50,100,200", "forest.xgb.reg_lambda": "0.1,1,10"},
}
JOBS = {"trees": 4, "layers": 5, "lambda_gamma": 12, "trees_lambda": 12}
RAY_NOT_INSTALLED = ("hydra-ray-launcher is not installed: it requires cloudpickle<3 and would downgrade the "
                     "cloudpickle 3.x of the pinned stack (see conf/hydra/launcher/ray_cluster.yaml)")


@pytest.fixture
def hydra_conf():
    register_configs()
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        yield


def expand(params: dict[str, str]) -> list[list[str]]:
    """The jobs a basic-sweeper grid expands to (the cartesian product of the values)."""
    overrides = OverridesParser.create().parse_overrides([f"{k}={v}" for k, v in params.items()])
    axes = [[f"{o.get_key_element()}={v}" for v in o.sweep_string_iterator()] for o in overrides]
    return [list(job) for job in itertools.product(*axes)]


# ---------------------------------------------------------------- presets and launcher configs


@pytest.mark.parametrize("preset", sorted(GRID_PRESETS))
def test_grid_presets_compose_to_multiruns_whose_jobs_fit_the_schema(hydra_conf, preset):
    cfg = compose("train", overrides=[f"+sweep={preset}", "experiment=train_quick"], return_hydra_config=True)
    assert cfg.hydra.mode == RunMode.MULTIRUN  # -m is optional
    assert cfg.hydra.sweeper._target_.endswith("BasicSweeper")
    assert dict(cfg.hydra.sweeper.params) == GRID_PRESETS[preset]
    jobs = expand(dict(cfg.hydra.sweeper.params))
    assert len(jobs) == JOBS[preset]
    # every value each job sets is legal for dfcnn-train, and lands where the preset says
    for job in (jobs[0], jobs[-1]):
        job_cfg = compose("train", overrides=[f"+sweep={preset}", "experiment=train_quick", *job])
        validate(job_cfg, "train")
        for override in job:
            key, value = override.split("=")
            assert float(OmegaConf.select(job_cfg, key)) == float(value)
    if preset == "layers":  # depth limit, not early stopping, ends growth
        assert cfg.forest.patience >= 6


def test_preset_names_child_runs_by_their_own_sweep_values(hydra_conf):
    cfg = compose("train", overrides=["+sweep=trees_lambda", "experiment=train_quick", "paths.outputs=/x",
                                      "forest.n_trees=50", "forest.xgb.reg_lambda=0.1"], return_hydra_config=True)
    assert cfg.hydra.job.override_dirname == "forest.n_trees=50,forest.xgb.reg_lambda=0.1"
    from hydra.core.hydra_config import HydraConfig

    HydraConfig.instance().set_config(cfg)  # what Hydra does inside each job
    try:
        assert cfg.mlflow.run_name == "forest.n_trees=50,forest.xgb.reg_lambda=0.1"
    finally:
        HydraConfig.instance().cfg = None


def test_optuna_preset_builds_its_search_space(hydra_conf):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason="hydra-optuna-sweeper is not installed")
    from hydra_plugins.hydra_optuna_sweeper._impl import create_optuna_distribution_from_override
    from optuna.distributions import CategoricalDistribution, LogUniformDistribution, UniformDistribution

    cfg = compose("train", overrides=["+sweep=optuna"], return_hydra_config=True)
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_ == "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper"
    assert (sweeper.direction, sweeper.storage, sweeper.n_trials) == ("maximize", None, 20)
    assert sweeper.sampler._target_ == "optuna.samplers.TPESampler" and sweeper.sampler.seed == 0
    assert cfg.hydra.mode == RunMode.MULTIRUN
    overrides = OverridesParser.create().parse_overrides([f"{k}={v}" for k, v in sweeper.params.items()])
    space = {o.get_key_element(): create_optuna_distribution_from_override(o) for o in overrides}
    assert space["forest.n_trees"] == CategoricalDistribution((25, 50, 100, 200))
    assert space["forest.max_layers"] == CategoricalDistribution((1, 2, 3, 4))
    assert space["forest.xgb.reg_lambda"] == LogUniformDistribution(0.01, 100.0)
    assert space["forest.xgb.gamma"] == UniformDistribution(0.0, 2.0)  # floats, not integers
    sampler = instantiate(sweeper.sampler)  # the real optuna sampler
    assert type(sampler).__name__ == "TPESampler"


def test_slurm_launcher_config_composes_into_a_valid_sbatch_script(hydra_conf, tmp_path, monkeypatch):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="hydra-submitit-launcher is not installed")
    import submitit
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
    from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher

    cfg = compose("train", overrides=["+sweep=trees", "hydra/launcher=slurm", "hydra.launcher.partition=cpu",
                                      f"hydra.sweep.dir={tmp_path / 'sweep'}"], return_hydra_config=True)
    launcher = instantiate(cfg.hydra.launcher)
    assert isinstance(launcher, SlurmLauncher)
    params = launcher.params
    assert params["setup"] == ["export OMP_NUM_THREADS=4"]  # interpolation resolved
    assert params["submitit_folder"] == f"{tmp_path / 'sweep'}/.submitit/%j"

    # Feed the parameters to submitit the way SlurmLauncher.launch does: unknown or misspelt
    # sbatch options raise here. submitit only checks that an `srun` exists, so give it one.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 1\n")
    (bin_dir / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    executor = submitit.AutoExecutor(folder=params["submitit_folder"], cluster="slurm",
                                     slurm_max_num_timeout=params["max_num_timeout"])
    base = set(OmegaConf.structured(BaseQueueConf).keys())
    executor.update_parameters(**{k if k in base else f"slurm_{k}": v for k, v in params.items()
                                  if k not in ("submitit_folder", "max_num_timeout")})
    script = executor._executor._make_submission_file_text("python -m dfcnn.cli.train", "0")
    for line in ("#SBATCH --partition=cpu", "#SBATCH --cpus-per-task=4", "#SBATCH --mem=8GB",
                 "#SBATCH --time=120", "#SBATCH --gpus-per-node=0", "export OMP_NUM_THREADS=4"):
        assert line in script.splitlines(), line


def test_ray_launcher_config_composes(hydra_conf):
    pytest.importorskip("hydra_plugins.hydra_ray_launcher", reason=RAY_NOT_INSTALLED)
    cfg = compose("train", overrides=["+sweep=trees", "hydra/launcher=ray_cluster"], return_hydra_config=True)
    assert cfg.hydra.launcher._target_ == "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher"
    assert cfg.hydra.launcher.ray.remote.num_cpus == 4 and cfg.hydra.launcher.ray.init.address is None
    launcher = instantiate(cfg.hydra.launcher)  # builds the launcher; Ray starts only at launch
    assert type(launcher).__name__ == "RayLauncher"


# ---------------------------------------------------------------- a real joblib multirun


@pytest.fixture(scope="module")
def joblib_sweep(tmp_path_factory):
    """2 jobs (forest.n_trees = 2, 4) of dfcnn-train on the tiny preset, 2 at a time with joblib."""
    out = tmp_path_factory.mktemp("joblib_sweep")
    proc = run_entry("train", "experiment=train_quick", "+sweep=trees", "forest.n_trees=2,4",
                     "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", cwd=out)
    assert proc.returncode == 0, proc.stderr[-4000:]
    (sweep_dir,) = (out / "multiruns" / "train").iterdir()
    return out, sweep_dir


@pytest.mark.slow
def test_joblib_sweep_makes_one_parent_and_a_finished_child_per_job(joblib_sweep, mlflow_client_for):
    out, sweep_dir = joblib_sweep
    client = mlflow_client_for(out)
    exp = client.get_experiment_by_name("dfcnn")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if r.data.tags.get("entry") == "train-sweep"]
    assert len(parents) == 1
    parent = parents[0]
    parent_id = parent.info.run_id
    assert (sweep_dir / PARENT_ID_FILE).read_text().strip() == parent_id
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["sweep_launcher"] == "JoblibLauncher"
    assert parent.data.tags["sweep_id"] == parent_id
    assert parent.data.params["sweep.forest.n_trees"] == "25,50,100,200"  # the preset's grid, logged
    assert parent.data.metrics["sweep_jobs"] == 2 and parent.data.metrics["sweep_jobs_finished"] == 2

    children = sorted((r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent_id),
                      key=lambda r: int(r.data.params["forest.n_trees"]))
    assert len(children) == 2 and len(runs) == 3
    assert [c.info.status for c in children] == ["FINISHED", "FINISHED"]
    assert [c.data.params["forest.n_trees"] for c in children] == ["2", "4"]
    assert [c.info.run_name for c in children] == ["forest.n_trees=2", "forest.n_trees=4"]
    for child in children:
        n_trees = child.data.params["forest.n_trees"]
        assert child.data.tags["sweep_id"] == parent_id
        assert f"forest.n_trees={n_trees}" in child.data.tags["sweep_overrides"].split()
        assert "+sweep=trees" in child.data.tags["sweep_overrides"].split()
        assert child.data.params["backbone.image_size"] == "128"  # the train_quick preset applied
        assert 0.0 <= child.data.metrics["mAP"] <= 1.0
    assert parent.data.metrics["best_mAP"] == max(c.data.metrics["mAP"] for c in children)
    # two jobs really ran in separate worker processes, each in its own job dir
    assert sorted(p.name for p in sweep_dir.iterdir() if p.is_dir()) == ["0", "1"]


@pytest.mark.slow
def test_sweep_table_command_reads_the_sweep_back(joblib_sweep, mlflow_client_for, tmp_path):
    out, sweep_dir = joblib_sweep

    table = tmp_path / "table"
    proc = subprocess.run([sys.executable, "-m", "dfcnn.tracking.sweep_table",
                           "--tracking-uri", f"sqlite:///{out / 'mlflow.db'}", "--x", "forest.n_trees",
                           "--y", "mAP", "--group", "forest.xgb.reg_lambda", "--out", str(table)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(table / "sweep.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["forest.n_trees"], r["forest.xgb.reg_lambda"], r["status"]) for r in rows] == [
        ("2", "1.0", "FINISHED"), ("4", "1.0", "FINISHED")]
    client = mlflow_client_for(out)
    for row in rows:  # the table holds each child's logged mAP
        assert float(row["mAP"]) == pytest.approx(client.get_run(row["run_id"]).data.metrics["mAP"])
    markdown = (table / "sweep.md").read_text()
    assert markdown.splitlines()[0] == "| forest.n_trees | forest.xgb.reg_lambda | mAP | status | run_id |"
    assert len(markdown.splitlines()) == 4
    png = (table / "sweep.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000

    # the same sweep found from its multirun folder instead of "the newest sweep"
    from dfcnn.tracking.sweep_table import main

    again = main(["--tracking-uri", f"sqlite:///{out / 'mlflow.db'}", "--sweep-dir", str(sweep_dir),
                  "--x", "forest.n_trees", "--out", str(tmp_path / "again")])
    assert [r["run_id"] for r in again] == [r["run_id"] for r in rows]


def test_sweep_table_sorts_numbers_as_numbers_and_plots_only_finished_runs(tmp_path):
    from dfcnn.tracking.sweep_table import _sort_key, markdown, plot

    values = ["100", "25", "50", "abc", None]
    assert sorted(values, key=_sort_key) == ["25", "50", "100", None, "abc"]
    rows = [{"x": "10", "g": "0.1", "mAP": 0.5, "status": "FINISHED"},
            {"x": "2", "g": "0.1", "mAP": 0.25, "status": "FINISHED"},
            {"x": "4", "g": "1", "mAP": None, "status": "FAILED"}]
    assert markdown(rows[:1], ["x", "mAP"]) == "| x | mAP |\n|---|---|\n| 10 | 0.5000 |\n"
    plot(rows, "x", "mAP", "g", tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_failed_jobs_mark_their_children_and_the_sweep_parent_failed(tmp_path, mlflow_client_for):
    proc = run_entry("train", "hydra.mode=MULTIRUN", "data=folder", f"data.root={tmp_path / 'missing'}",
                     "forest.n_trees=2,4", cwd=tmp_path)
    assert proc.returncode != 0
    assert "is not a directory" in proc.stderr
    client = mlflow_client_for(tmp_path)
    exp = client.get_experiment_by_name("dfcnn")
    runs = client.search_runs([exp.experiment_id])
    (parent,) = [r for r in runs if r.data.tags.get("entry") == "train-sweep"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert sorted(c.data.params["forest.n_trees"] for c in children) == ["2", "4"]
    assert {c.info.status for c in children} == {"FAILED"}
    assert parent.info.status == "FAILED"  # closed by the exit hook, not left RUNNING
    assert parent.data.metrics["sweep_jobs_failed"] == 2 and parent.data.metrics["sweep_jobs_finished"] == 0


# ---------------------------------------------------------------- experiment presets


@pytest.mark.parametrize("experiment", ["train_quick", "paper_imagenet", "paper_openimages", "paper_coco"])
@pytest.mark.parametrize("entry", ["train", "reproduce"])
def test_experiment_presets_fit_both_entry_points(hydra_conf, experiment, entry):
    cfg = compose(entry, overrides=[f"experiment={experiment}"])
    validate(cfg, entry)
    if experiment == "train_quick":
        assert (cfg.data.name, cfg.backbone.image_size, cfg.forest.n_trees) == ("catalogue", 128, 4)
    else:  # the real-data presets switch the data group and pick seven classes as the seven fields
        assert cfg.data.name == experiment.removeprefix("paper_") and len(cfg.data.classes) == 7
        assert cfg.data.root is None  # given on the command line; the loader says so when it is not


def test_paper_preset_without_root_names_what_is_missing(hydra_conf):
    from dfcnn.data import load_splits

    cfg = compose("reproduce", overrides=["experiment=paper_coco"])
    with pytest.raises(ValueError, match="data.root"):
        load_splits(cfg.data, "unused")
