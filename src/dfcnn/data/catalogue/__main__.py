"""``python -m dfcnn.data.catalogue --contact-sheet out.png [--megapixels 0.25] [--seed 0] ...``

Renders (or reuses) the catalogue under ``<outputs>/cache/catalogue`` and writes a contact sheet.
"""

from __future__ import annotations

import argparse
import logging

from omegaconf import OmegaConf

from dfcnn.config.data import DataConfig
from dfcnn.data.catalogue import catalogue_records
from dfcnn.data.catalogue.contact_sheet import contact_sheet


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--contact-sheet", default="outputs/catalogue_contact_sheet.png")
    p.add_argument("--outputs", default="outputs")
    defaults = DataConfig()
    for key in ("seed", "n_fields", "instances_per_field", "views_per_instance", "multi_scenes_per_field"):
        p.add_argument("--" + key.replace("_", "-"), type=int, default=getattr(defaults, key))
    p.add_argument("--megapixels", type=float, default=defaults.megapixels)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    cfg = OmegaConf.structured(DataConfig())
    for key in ("seed", "n_fields", "instances_per_field", "views_per_instance", "multi_scenes_per_field", "megapixels"):
        cfg[key] = getattr(args, key)
    records, directory = catalogue_records(cfg, args.outputs)
    path = contact_sheet(records, args.contact_sheet)
    logging.getLogger(__name__).info("catalogue in %s; contact sheet: %s", directory, path)


if __name__ == "__main__":
    main()
