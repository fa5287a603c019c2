"""Every case of the safe decoder, with real files written in the test."""

import io
import os

import numpy as np
import pytest
from PIL import Image

from dfcnn.data import load_splits
from dfcnn.data.decode import ImageDecodeError, iter_images, load_image, probe_image, to_rgb
from dfcnn.data.records import ImageRecord
from dfcnn.data.skipped import SkipLog


def _jpeg_bytes(size=(64, 48), color=(200, 30, 30), **kw):
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG", **kw)
    return buf.getvalue()


def _reason(path, **kw):
    with pytest.raises(ImageDecodeError) as err:
        load_image(path, **kw)
    return err.value.reason


def test_modes_become_rgb(tmp_path):
    cmyk = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (20, 10), (0, 255, 255, 0)).save(cmyk)  # pure red in CMYK
    im = load_image(cmyk)
    assert im.mode == "RGB" and im.size == (20, 10)
    r, g, b = im.getpixel((10, 5))
    assert r > 200 and g < 60 and b < 60

    arr16 = np.full((8, 8), 65535, dtype=np.uint16)
    arr16[:, :4] = 32896
    p16 = tmp_path / "i16.png"
    Image.fromarray(arr16).save(p16)  # 16-bit greyscale PNG
    im = load_image(p16)
    assert im.mode == "RGB"
    assert im.getpixel((0, 0)) == (128, 128, 128) and im.getpixel((7, 7)) == (255, 255, 255)

    la = Image.new("LA", (10, 10), (0, 255))
    la.putpixel((0, 0), (0, 0))  # fully transparent black -> white
    la.save(tmp_path / "la.png")
    im = load_image(tmp_path / "la.png")
    assert im.getpixel((0, 0)) == (255, 255, 255) and im.getpixel((5, 5)) == (0, 0, 0)

    p = Image.new("P", (10, 10), 1)
    p.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    p.putpixel((0, 0), 0)
    p.save(tmp_path / "p.png", transparency=0)
    im = load_image(tmp_path / "p.png")
    assert im.getpixel((0, 0)) == (255, 255, 255) and im.getpixel((5, 5)) == (0, 0, 255)
    p.save(tmp_path / "p.gif", transparency=0)
    assert load_image(tmp_path / "p.gif").getpixel((0, 0)) == (255, 255, 255)

    one = Image.new("1", (10, 10), 0)
    one.putpixel((3, 3), 1)
    one.save(tmp_path / "one.png")
    im = load_image(tmp_path / "one.png")
    assert im.getpixel((3, 3)) == (255, 255, 255) and im.getpixel((0, 0)) == (0, 0, 0)

    rgba = Image.new("RGBA", (4, 4), (10, 20, 30, 255))
    assert to_rgb(rgba).getpixel((0, 0)) == (10, 20, 30)


def test_exif_orientation_applied(tmp_path):
    arr = np.zeros((20, 40, 3), dtype=np.uint8)
    arr[:, :20] = (255, 0, 0)  # stored: left half red, right half blue
    arr[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # display = stored rotated 90 degrees clockwise
    Image.fromarray(arr).save(tmp_path / "rot.jpg", exif=exif, quality=95)
    im = load_image(tmp_path / "rot.jpg")
    assert im.size == (20, 40)
    top, bottom = im.getpixel((10, 5)), im.getpixel((10, 35))
    assert top[0] > 200 and top[2] < 60  # the red half is now on top
    assert bottom[2] > 200 and bottom[0] < 60


def test_bad_files_raise_with_reasons(tmp_path):
    good = _jpeg_bytes((256, 256), quality=90)
    (tmp_path / "truncated.jpg").write_bytes(good[: len(good) // 2])
    assert _reason(tmp_path / "truncated.jpg") == "truncated"

    png = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(png, "PNG")
    raw = bytearray(png.getvalue())
    idat = raw.index(b"IDAT")
    raw[idat + 4 : idat + 40] = os.urandom(36)  # garbage in the compressed pixel data
    (tmp_path / "corrupt.png").write_bytes(bytes(raw))
    assert _reason(tmp_path / "corrupt.png") == "corrupt"

    (tmp_path / "empty.jpg").write_bytes(b"")
    assert _reason(tmp_path / "empty.jpg") == "empty_file"
    (tmp_path / "text.jpg").write_text("hello, I am not an image\n" * 10)
    assert _reason(tmp_path / "text.jpg") == "not_an_image"

    Image.new("RGB", (200, 100)).save(tmp_path / "big.png")
    assert _reason(tmp_path / "big.png", max_pixels=10_000) == "too_many_pixels"
    assert probe_image(tmp_path / "big.png", max_pixels=20_000) == (200, 100)

    assert _reason(tmp_path / "missing.jpg") == "unreadable"
    os.mkdir(tmp_path / "dir.jpg")
    assert _reason(tmp_path / "dir.jpg") == "unreadable"
    os.symlink(tmp_path / "nowhere.jpg", tmp_path / "broken.jpg")
    assert _reason(tmp_path / "broken.jpg") == "unreadable"
    os.symlink(tmp_path / "loop_b.jpg", tmp_path / "loop_a.jpg")
    os.symlink(tmp_path / "loop_a.jpg", tmp_path / "loop_b.jpg")
    assert _reason(tmp_path / "loop_a.jpg") == "symlink_loop"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_permission_denied(tmp_path):
    p = tmp_path / "secret.jpg"
    p.write_bytes(_jpeg_bytes())
    p.chmod(0)
    assert _reason(p) == "unreadable"


def test_bomb_limit_above_pillow_default(tmp_path):
    # a limit above Pillow's own must be honoured, not overridden by Pillow's global guard
    Image.new("L", (64, 64)).save(tmp_path / "ok.png")
    assert load_image(tmp_path / "ok.png", max_pixels=200_000_000).size == (64, 64)


def test_non_utf8_file_name_decodes(tmp_path):
    name = os.path.join(os.fsencode(tmp_path), b"caf\xe9.jpg")  # latin-1 byte, invalid UTF-8
    with open(name, "wb") as fh:
        fh.write(_jpeg_bytes())
    assert load_image(os.fsdecode(name)).size == (64, 48)
    assert load_image(name).size == (64, 48)


def test_max_side_uses_reduced_decode(tmp_path):
    Image.new("RGB", (1600, 1200), (0, 128, 0)).save(tmp_path / "big.jpg", quality=90)
    im = load_image(tmp_path / "big.jpg", max_side=300)
    assert im.size == (300, 225) and im.mode == "RGB"
    assert abs(im.getpixel((150, 100))[1] - 128) <= 3
    small = load_image(tmp_path / "big.jpg", max_side=5000)
    assert small.size == (1600, 1200)


def _write_bad_folder(root):
    for c in ("a", "b"):
        os.makedirs(root / c)
        for i in range(5):
            Image.new("RGB", (32, 24), (40 * i, 100, 50 if c == "a" else 200)).save(root / c / f"good{i}.jpg")
    a = root / "a"
    good = _jpeg_bytes((128, 128))
    (a / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (a / "empty.png").write_bytes(b"")
    (a / "text.jpg").write_text("not an image")
    Image.new("RGB", (300, 300)).save(a / "huge.png")
    Image.new("CMYK", (16, 16)).save(a / "cmyk.jpg")  # odd but valid: kept
    Image.new("LA", (16, 16)).save(a / "la.png")  # odd but valid: kept
    os.symlink(a / "loop2.jpg", a / "loop1.jpg")
    os.symlink(a / "loop1.jpg", a / "loop2.jpg")
    os.symlink(root, root / "b" / "back_to_root")  # directory loop
    with open(os.path.join(os.fsencode(a), b"\xff\xfe.jpg"), "wb") as fh:
        fh.write(good)


def test_run_over_folder_with_bad_files_keeps_the_good_ones(tmp_path, data_cfg):
    root = tmp_path / "imgs"
    _write_bad_folder(root)
    log = SkipLog(tmp_path / "run" / "skipped.jsonl")
    cfg = data_cfg(name="folder", root=str(root), max_pixels=50_000, query_fraction=0.0)
    splits = load_splits(cfg, str(tmp_path / "out"), skip_log=log)
    # listing drops what a header read can tell; the truncated file only fails at decode time
    decoded = [(r, im) for r, im in iter_images(splits.database, log, max_pixels=cfg.max_pixels)]
    kept = sorted(os.path.basename(r.path) for r, _ in decoded)
    assert kept == sorted(["cmyk.jpg", "la.png"] + [f"good{i}.jpg" for i in range(5)] * 2)
    assert all(im.mode == "RGB" for _, im in decoded)
    entries = SkipLog.read(log.path)
    by_name = {os.path.basename(e["path"]): e["reason"] for e in entries}
    assert by_name["truncated.jpg"] == "truncated"
    assert by_name["empty.png"] == "empty_file"
    assert by_name["text.jpg"] == "not_an_image"
    assert by_name["huge.png"] == "too_many_pixels"
    assert by_name["loop1.jpg"] == by_name["loop2.jpg"] == "symlink_loop"
    assert by_name["back_to_root"] == "symlink_loop"
    assert by_name["\\xff\\xfe.jpg"] == "non_utf8_name"
    assert log.count == len(entries) == 8
    assert log.reasons()["symlink_loop"] == 3
    assert log.metrics()["skipped"] == 8.0
    # keeping non-UTF-8 names is a switch away
    keep = load_splits(data_cfg(name="folder", root=str(root), max_pixels=50_000, query_fraction=0.0, non_utf8_names="keep"), str(tmp_path / "out"))
    assert len(keep.database) == len(splits.database) + 1


def test_iter_images_without_log_skips_quietly(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "ok.png")
    recs = [ImageRecord(path=str(tmp_path / "ok.png"), label="x"), ImageRecord(path=str(tmp_path / "no.png"), label="x")]
    assert [r.path for r, _ in iter_images(recs)] == [recs[0].path]
