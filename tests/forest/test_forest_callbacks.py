"""Callback protocol and built-ins: hook order, timing, MLflow histories, checkpoint resume."""

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from sklearn.datasets import make_classification

from dfcnn.forest import Callback, CascadeForestClassifier, Checkpoint, MLflowCallback, ProgressBar, Timer


@pytest.fixture(scope="module")
def data():
    return make_classification(n_samples=120, n_features=8, n_informative=5, n_classes=3, random_state=0)


def small(**kw):
    params = dict(n_trees=4, xgb_n_estimators=6, max_layers=2, patience=2, n_random_forests=1,
                  n_completely_random_forests=1, n_jobs=1, random_state=0, refit=False)
    params.update(kw)
    return CascadeForestClassifier(**params)


class Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_fit_start(self, model, state):
        self.events.append(("fit_start",))

    def on_layer_start(self, model, state, layer):
        self.events.append(("layer_start", layer))

    def on_estimator_end(self, model, state, layer, estimator):
        self.events.append(("estimator_end", layer, estimator.spec.name, state.phase))

    def on_layer_end(self, model, state, layer, metrics):
        self.events.append(("layer_end", layer))

    def on_fit_end(self, model, state):
        self.events.append(("fit_end",))


class Interrupt(Callback):
    def on_layer_start(self, model, state, layer):
        if layer == 1:
            raise KeyboardInterrupt


def test_hooks_fire_in_order(data):
    rec = Recorder()
    small(callbacks=[rec]).fit(*data)
    assert rec.events == [
        ("fit_start",),
        ("layer_start", 0), ("estimator_end", 0, "rf0", "grow"), ("estimator_end", 0, "crf0", "grow"),
        ("estimator_end", 0, "xgb0", "grow"), ("layer_end", 0),
        ("layer_start", 1), ("estimator_end", 1, "rf0", "grow"), ("estimator_end", 1, "crf0", "grow"),
        ("estimator_end", 1, "xgb0", "grow"), ("layer_end", 1),
        ("fit_end",),
    ]


def test_refit_phase_is_reported_and_parallel_fit_matches_sequential(data):
    rec, timer = Recorder(), Timer()
    par = small(max_layers=1, refit=True, n_jobs=2).fit(*data, callbacks=[rec, timer])
    refit = [e for e in rec.events if e[0] == "estimator_end" and e[3] == "refit"]
    assert sorted(e[2] for e in refit) == ["crf0", "rf0", "xgb0"]
    seq = small(max_layers=1, refit=True, n_jobs=1).fit(*data)
    np.testing.assert_allclose(par.predict_proba(data[0]), seq.predict_proba(data[0]), rtol=1e-6)
    s = timer.summary()
    assert s["n_workers"] == 2 and len(timer.estimator_times) == 6  # 3 grown + 3 refitted
    assert 0 < s["estimator_fit_time"] <= s["estimator_kfold_time"]
    assert s["fit_time"] > 0 and set(timer.layer_times) == {0}


def test_progress_bar_runs_and_closes(data):
    bar = ProgressBar(disable=True)
    clf = small(max_layers=1, callbacks=[bar]).fit(*data)
    assert bar._bar is None and clf.n_layers_ == 1


def test_mlflow_callback_logs_histories_into_active_run(data, tmp_path):
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        with mlflow.start_run() as run:
            clf = small(callbacks=[MLflowCallback()]).fit(*data)
        client = MlflowClient()
        val_acc = client.get_metric_history(run.info.run_id, "forest/val_accuracy")
        assert [m.step for m in val_acc] == [0, 1]
        assert [m.value for m in val_acc] == pytest.approx([h["val_accuracy"] for h in clf.history_])
        for key in ("forest/train_accuracy", "forest/train_logloss", "forest/val_logloss", "forest/fit_time/rf0"):
            assert len(client.get_metric_history(run.info.run_id, key)) == 2
        merror = client.get_metric_history(run.info.run_id, "forest/layer0/xgb0/val_merror")
        mlogloss = client.get_metric_history(run.info.run_id, "forest/layer1/xgb0/val_mlogloss")
        assert sorted(m.step for m in merror) == list(range(6)) and len(mlogloss) == 6
        assert all(0.0 <= m.value <= 1.0 for m in merror)
        # without an active run it logs nothing and starts no run
        small(max_layers=1, callbacks=[MLflowCallback()]).fit(*data)
        assert mlflow.active_run() is None
    finally:
        mlflow.set_tracking_uri(None)


def test_checkpoint_resumes_after_last_completed_layer(data, tmp_path):
    X, y = data
    reference = small().fit(X, y)
    ckpt = Checkpoint(str(tmp_path / "ckpt"))
    with pytest.raises(KeyboardInterrupt):
        small(callbacks=[ckpt, Interrupt()]).fit(X, y)
    assert (tmp_path / "ckpt" / "state.json").exists() and (tmp_path / "ckpt" / "layer0").is_dir()
    rec = Recorder()
    resumed = small(callbacks=[ckpt, rec]).fit(X, y)
    fitted_layers = {e[1] for e in rec.events if e[0] == "estimator_end"}
    assert fitted_layers == {1}  # layer 0 came from the checkpoint
    key = lambda h: [(m["val_accuracy"], m["val_logloss"]) for m in h]  # noqa: E731
    assert key(resumed.history_) == key(reference.history_) and len(resumed.history_) == 2
    np.testing.assert_array_equal(resumed.predict_proba(X), reference.predict_proba(X))


def test_checkpoint_of_another_fit_is_ignored(data, tmp_path):
    X, y = data
    ckpt = Checkpoint(str(tmp_path / "ckpt"))
    small(max_layers=1, callbacks=[ckpt]).fit(X, y)
    rec = Recorder()
    small(max_layers=1, n_trees=5, callbacks=[ckpt, rec]).fit(X, y)  # different parameters
    assert {e[1] for e in rec.events if e[0] == "estimator_end"} == {0}
