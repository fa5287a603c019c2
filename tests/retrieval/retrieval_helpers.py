"""Helpers of the retrieval tests: generated image folders and a cheap real describer."""

import os

import numpy as np
from PIL import Image, ImageDraw

CLASSES = ("circles", "stripes", "squares")
COLOURS = ((220, 40, 40), (40, 40, 220), (40, 200, 40))


def draw_image(class_index: int, rng, size=(96, 80)) -> Image.Image:
    """A small image whose class shows in shape and colour, varied by ``rng``."""
    im = Image.new("RGB", size, tuple(int(v) for v in rng.integers(0, 60, 3)))
    draw = ImageDraw.Draw(im)
    for _ in range(6):
        x, y, r = int(rng.integers(0, size[0])), int(rng.integers(0, size[1])), int(rng.integers(6, 18))
        colour = COLOURS[class_index]
        if class_index == 0:
            draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)
        elif class_index == 1:
            draw.rectangle([x - 40, y - 3, x + 40, y + 3], fill=colour)
        else:
            draw.rectangle([x - r, y - r, x + r // 2, y + r // 2], fill=colour, outline=(255, 255, 255))
    return im


def make_image_folder(root, n_per_class=6, seed=0, bad_files=True) -> list[str]:
    """Class sub-folders of generated JPEGs (+ an empty, a non-image and a truncated file)."""
    rng = np.random.default_rng(seed)
    paths = []
    for c, name in enumerate(CLASSES):
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(n_per_class):
            path = os.path.join(root, name, f"img_{seed}_{i:02d}.jpg")
            draw_image(c, rng).save(path, quality=90)
            paths.append(path)
    if bad_files:
        open(os.path.join(root, CLASSES[0], "empty.jpg"), "wb").close()
        with open(os.path.join(root, CLASSES[1], "notes.png"), "w") as fh:
            fh.write("not an image")
        data = open(paths[-1], "rb").read()
        with open(os.path.join(root, CLASSES[2], "truncated.jpg"), "wb") as fh:
            fh.write(data[: len(data) // 3])
    return paths


FOREST = {"n_trees": 5, "n_folds": 2, "max_layers": 1, "n_jobs": 1, "seed": 0, "validation_fraction": 0.2,
          "xgb": {"n_estimators": 5, "max_depth": 3}}


def small_cnn():
    """A real CNN describer kept cheap: 64-px input, global average pooling, no whitening."""
    from dfcnn.features.describer import CnnDescriber

    return CnnDescriber(image_size=64, aggregator="gap", whiten=False, batch_size=16)


def folder_records(paths):
    from dfcnn.data.records import ImageRecord

    return [ImageRecord(path=p, label=p.split(os.sep)[-2], labels=(p.split(os.sep)[-2],)) for p in paths]
