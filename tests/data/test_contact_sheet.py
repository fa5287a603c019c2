import numpy as np
from PIL import Image

from dfcnn.data.catalogue.__main__ import main


def test_contact_sheet_cli(tmp_path):
    out = tmp_path / "sheet.png"
    main(["--contact-sheet", str(out), "--outputs", str(tmp_path), "--n-fields", "3", "--instances-per-field", "2",
          "--views-per-instance", "2", "--multi-scenes-per-field", "1", "--megapixels", "0.03"])
    im = np.asarray(Image.open(out).convert("RGB"), dtype=np.float64)
    # 3 field rows + 1 row of scenes, each row a thumbnail strip with real content
    assert im.shape[0] > 4 * 150 and im.std() > 20
    assert (tmp_path / "cache" / "catalogue").is_dir()
