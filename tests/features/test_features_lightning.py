"""Lightning extraction: shards merge back to the in-process result, also under 2-process DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from dfcnn.features.describer import CnnDescriber
from dfcnn.features.lightning import read_shards

SMALL = dict(image_size=64, batch_size=2)


@pytest.fixture
def describer(image_records):
    good = [r for r in image_records if "corrupt" not in r.path and "empty" not in r.path]
    return CnnDescriber(aggregator="dfcnn", whiten_dim=5, **SMALL).fit(good)


def test_single_process_shards_equal_transform(describer, image_records, tmp_path):
    X, kept = describer.transform(image_records)
    describer.extract(image_records, str(tmp_path / "shards"), accelerator="cpu", devices=1)
    assert not [f for f in os.listdir(tmp_path / "shards") if f.endswith(".tmp")]
    Xs, order, paths, errors = read_shards(str(tmp_path / "shards"))
    assert paths == [r.path for r in kept]
    assert sorted(os.path.basename(e["path"]) for e in errors) == ["corrupt.jpg", "empty.png"]
    np.testing.assert_allclose(Xs, X, atol=1e-6)


@pytest.mark.slow
def test_ddp_two_cpu_processes_merge_to_the_single_process_result(describer, image_records, tmp_path):
    describer.save(str(tmp_path / "describer"))
    (tmp_path / "paths.json").write_text(json.dumps([r.path for r in image_records]))
    script = tmp_path / "extract_ddp.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import json, torch
            torch.set_num_threads(1)
            from dfcnn.features.describer import CnnDescriber
            paths = json.load(open({str(tmp_path / "paths.json")!r}))
            d = CnnDescriber.load({str(tmp_path / "describer")!r})
            d.extract(paths, {str(tmp_path / "shards")!r}, accelerator="cpu", devices=2, strategy="ddp")
            """
        )
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PL_DISABLE_FORK": "1"}
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = {name.split("-")[1] for name in os.listdir(tmp_path / "shards")}
    assert ranks == {"r0000", "r0001"}  # both processes wrote shards
    Xs, order, paths, errors = read_shards(str(tmp_path / "shards"))
    X, kept = describer.transform(image_records)
    assert paths == [r.path for r in kept]
    assert len(errors) == 2
    np.testing.assert_allclose(Xs, X, atol=1e-5)


def test_transform_through_lightning_logs_skips_and_matches(describer, image_records, tmp_path):
    from dfcnn.data.skipped import SkipLog

    X, kept = describer.transform(image_records)
    log = SkipLog(None)
    Xl, kept_l = describer._transform_lightning(image_records, log)
    assert kept_l == kept and log.count == 2
    np.testing.assert_allclose(Xl, X, atol=1e-6)


def test_read_shards_keeps_a_repeated_index_once(tmp_path):
    """A distributed sampler may hand the same sample to two ranks; the merge keeps it once."""
    import torch
    from types import SimpleNamespace

    from dfcnn.features.lightning import DescriptorShardWriter

    writer = DescriptorShardWriter(str(tmp_path))
    writer.setup(None, None)
    rank0 = {"index": [0, 2], "path": ["a", "c"], "descriptors": torch.tensor([[1.0, 0.0], [0.0, 1.0]]), "errors": []}
    rank1 = {"index": [1, 2], "path": ["b", "c"], "descriptors": torch.tensor([[0.6, 0.8], [0.0, 1.0]]),
             "errors": [(3, "d", "corrupt", "bad")]}
    writer.write_on_batch_end(SimpleNamespace(global_rank=0), None, rank0, None, None, 0, 0)
    writer.write_on_batch_end(SimpleNamespace(global_rank=1), None, rank1, None, None, 0, 0)
    X, order, paths, errors = read_shards(str(tmp_path))
    assert order == [0, 1, 2] and paths == ["a", "b", "c"]
    np.testing.assert_allclose(X, [[1, 0], [0.6, 0.8], [0, 1]], rtol=1e-6)
    assert errors == [{"index": 3, "path": "d", "reason": "corrupt", "detail": "bad"}]
