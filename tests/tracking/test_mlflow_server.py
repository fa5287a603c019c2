"""A sweep logged to a live ``mlflow server``, read back through its REST API.

Starts the venv's ``mlflow`` executable on a free localhost port against a SQLite store and an
artifact root in ``tmp_path``, runs a 2-job ``dfcnn-train`` multirun with Hydra's basic launcher
against it, and checks the parent run, the child runs, their params, tags, metric histories and
artifacts over plain HTTP. The server is always stopped (its whole process group).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import run_entry

pytestmark = pytest.mark.slow

START_TIMEOUT_S = 240  # a cold start runs the store's migrations; a loaded 2-core machine is slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(base: str, path: str, **query) -> dict:
    url = f"{base}{path}?{urllib.parse.urlencode(query)}" if query else f"{base}{path}"
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())


def post(base: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(f"{base}{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as resp:
        return json.loads(resp.read())


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM the server's process group (mlflow -> uvicorn workers), SIGKILL what outlives 20 s."""
    for sig, wait_s in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture
def mlflow_server(tmp_path):
    mlflow_exe = Path(sys.executable).with_name("mlflow")
    if not mlflow_exe.exists():
        pytest.skip(f"no mlflow executable beside {sys.executable}")
    port = free_port()
    store, artifacts = tmp_path / "server" / "mlflow.db", tmp_path / "server" / "artifacts"
    store.parent.mkdir()
    log_path = tmp_path / "server" / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"  # no background job workers for a test store
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(mlflow_exe), "server", "--backend-store-uri", f"sqlite:///{store}",
                                 "--default-artifact-root", str(artifacts), "--host", "127.0.0.1",
                                 "--port", str(port), "--workers", "1"],
                                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mlflow server exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=5) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow server not up after {START_TIMEOUT_S} s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield base, artifacts
    finally:
        stop(proc)


def test_sweep_with_basic_launcher_lands_on_the_server(mlflow_server, tmp_path):
    base, artifacts = mlflow_server
    proc = run_entry("train", "experiment=train_quick", "+sweep=trees_lambda", "forest.n_trees=3",
                     "forest.xgb.reg_lambda=0.1,10", f"mlflow.tracking_uri={base}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert not (tmp_path / "mlflow.db").exists()  # nothing went to the embedded store

    experiment = get(base, "/api/2.0/mlflow/experiments/get-by-name", experiment_name="dfcnn")["experiment"]
    runs = post(base, "/api/2.0/mlflow/runs/search",
                {"experiment_ids": [experiment["experiment_id"]], "max_results": 100})["runs"]
    tags = [{t["key"]: t["value"] for t in r["data"].get("tags", [])} for r in runs]
    params = [{p["key"]: p["value"] for p in r["data"].get("params", [])} for r in runs]
    (parent_i,) = [i for i, t in enumerate(tags) if t.get("entry") == "train-sweep"]
    parent_id = runs[parent_i]["info"]["run_id"]
    assert runs[parent_i]["info"]["status"] == "FINISHED"
    assert tags[parent_i]["sweep_launcher"] == "BasicLauncher"
    assert params[parent_i]["sweep.forest.xgb.reg_lambda"] == "0.1,1,10"  # the preset's grid

    children = sorted((i for i, t in enumerate(tags) if t.get("mlflow.parentRunId") == parent_id),
                      key=lambda i: float(params[i]["forest.xgb.reg_lambda"]))
    assert len(children) == 2 and len(runs) == 3
    assert [params[i]["forest.xgb.reg_lambda"] for i in children] == ["0.1", "10.0"]
    assert [params[i]["forest.n_trees"] for i in children] == ["3", "3"]
    assert [runs[i]["info"]["run_name"] for i in children] == [
        "forest.n_trees=3,forest.xgb.reg_lambda=0.1", "forest.n_trees=3,forest.xgb.reg_lambda=10"]
    for i in children:
        run_id = runs[i]["info"]["run_id"]
        assert runs[i]["info"]["status"] == "FINISHED"
        assert tags[i]["sweep_id"] == parent_id
        assert "forest.n_trees=3" in tags[i]["sweep_overrides"].split()
        metrics = {m["key"]: m["value"] for m in runs[i]["data"]["metrics"]}
        assert 0.0 <= metrics["mAP"] <= 1.0
        # metric histories: one point per cascade layer, one per boosting round (n_estimators=4)
        layers = get(base, "/api/2.0/mlflow/metrics/get-history", run_id=run_id, metric_key="forest/val_accuracy")
        steps = sorted(m["step"] for m in layers["metrics"])
        assert steps == list(range(int(metrics["forest/n_layers_grown"])))
        rounds = get(base, "/api/2.0/mlflow/metrics/get-history", run_id=run_id,
                     metric_key="forest/layer0/xgb0/val_mlogloss")
        assert sorted(m["step"] for m in rounds["metrics"]) == [0, 1, 2, 3]
        listed = get(base, "/api/2.0/mlflow/artifacts/list", run_id=run_id)
        assert {"config.yaml", "environment.json"} <= {f["path"] for f in listed.get("files", [])}
    # artifacts really landed under the server's --default-artifact-root
    assert len(list(artifacts.rglob("config.yaml"))) == 2
