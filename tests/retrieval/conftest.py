import os

import pytest
from retrieval_helpers import FOREST, folder_records, make_image_folder, small_cnn


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    paths = make_image_folder(str(root))
    return str(root), paths


@pytest.fixture(scope="session")
def built(image_folder, tmp_path_factory):
    """A fused-describer Retriever over the generated folder (bad files included), saved once."""
    from dfcnn.config.retrieval import RetrievalConfig
    from dfcnn.data.skipped import SkipLog
    from dfcnn.retrieval.fused import FusedDescriber
    from dfcnn.retrieval.retriever import Retriever

    root, paths = image_folder
    bad = [os.path.join(root, "circles", "empty.jpg"), os.path.join(root, "squares", "truncated.jpg")]
    out = tmp_path_factory.mktemp("built")
    skip_log = SkipLog(out / "skipped.jsonl")
    describer = FusedDescriber(small_cnn(), forest_cfg=FOREST, attribute_weight=0.3)
    settings = RetrievalConfig(fuzzy_k=3, fuzzy_m=10, dba=False, query_expansion=False)  # exact copies rank first
    retriever = Retriever.build(describer, folder_records(paths), folder_records(paths + bad), settings, "dfcnn",
                                skip_log=skip_log)
    index_dir = out / "index"
    retriever.save(index_dir, config_yaml="method:\n  name: dfcnn\n")
    return retriever, index_dir, skip_log
