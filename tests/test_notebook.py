"""notebooks/walkthrough.ipynb runs top to bottom on tiny settings (nbclient, a real ipykernel).

The kernel is this interpreter: a kernelspec written into ``tmp_path`` by the venv's ipykernel
(nothing is installed into the user's Jupyter folders).
"""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the dev extra (nbformat, nbclient, ipykernel) is not installed")
nbclient = pytest.importorskip("nbclient", reason="the dev extra (nbformat, nbclient, ipykernel) is not installed")
ipykernel_spec = pytest.importorskip("ipykernel.kernelspec", reason="the dev extra is not installed")

pytestmark = pytest.mark.slow

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "walkthrough.ipynb"
KERNEL = "dfcnn-test"


def cell_tagged(nb, tag: str):
    (cell,) = [c for c in nb.cells if tag in c.metadata.get("tags", [])]
    return cell


def text_of(cell) -> str:
    parts = []
    for out in cell.outputs:
        parts.append(out.get("text", ""))
        parts.append(out.get("data", {}).get("text/plain", ""))
        parts.append(out.get("data", {}).get("text/html", ""))
    return "\n".join(parts)


def test_walkthrough_notebook_runs_top_to_bottom(tmp_path, monkeypatch, mlflow_client_for):
    prefix = tmp_path / "jupyter"
    ipykernel_spec.install(prefix=str(prefix), kernel_name=KERNEL)  # argv = this interpreter
    monkeypatch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
    outputs = tmp_path / "out"
    monkeypatch.setenv("DFCNN_NOTEBOOK_OUTPUTS", str(outputs))
    monkeypatch.setenv("DFCNN_NOTEBOOK_OVERRIDES", "experiment=train_quick")
    monkeypatch.setenv("DFCNN_NOTEBOOK_TOP_K", "4")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name=KERNEL, timeout=600,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError naming the failing cell
    nbformat.write(nb, tmp_path / "executed.ipynb")

    # the query grid was drawn: an image output, and the same figure saved as a file
    grid = cell_tagged(nb, "grid")
    assert any("image/png" in out.get("data", {}) for out in grid.outputs)
    assert (outputs / "query_grid.png").read_bytes()[:4] == b"\x89PNG"
    # the index is a real dfcnn-index folder
    assert (outputs / "index" / "manifest.json").is_file()
    # the runs table lists the notebook's MLflow run, and the store agrees
    runs_text = text_of(cell_tagged(nb, "runs"))
    assert "walkthrough" in runs_text and "FINISHED" in runs_text
    store = mlflow_client_for(outputs)
    (run,) = store.search_runs([store.get_experiment_by_name("dfcnn").experiment_id])
    assert run.info.run_name == "walkthrough" and run.info.status == "FINISHED"
    assert run.data.params["backbone.image_size"] == "128"  # the tiny preset reached the run
    assert 0.0 <= run.data.metrics["mAP"] <= 1.0 and run.data.metrics["n_indexed"] == 12
    assert "no sweep in this store yet" in text_of(cell_tagged(nb, "sweep"))
