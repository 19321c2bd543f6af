"""`sgx dataset` and the dataset zip reader, on small images made here with Pillow."""

from __future__ import annotations

import errno
import json
import os
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageFile

from train.cli import dataset_command
from train.dataset import FolderSource, ImageZipDataset, write_dataset

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def run(*args: str):
    return CliRunner().invoke(dataset_command, [str(a) for a in args])


def assert_bad_input(result, *words: str) -> None:
    """Exit code 2 and exactly one line of output, naming the problem."""
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    for word in words:
        assert word in lines[0]


def solid(mode: str, size: tuple[int, int], color) -> Image.Image:
    return Image.new(mode, size, color)


def pixels(ds: ImageZipDataset, i: int) -> np.ndarray:
    """Item i as [H, W, C]."""
    return ds[i][0].transpose(1, 2, 0)


def test_colour_modes_become_rgb(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    solid("RGB", (20, 20), BLUE).save(src / "a_rgb.png")
    rgba = solid("RGBA", (20, 20), (200, 100, 0, 128))
    rgba.save(src / "b_rgba.png")
    pal = Image.new("P", (8, 8), 1)  # the output size: no resize to blur the edge
    pal.putpalette([0, 0, 0, *GREEN, *RED])
    pal.paste(2, (0, 0, 8, 4))  # top half red and opaque, bottom half index 1: transparent
    pal.save(src / "c_palette.png", transparency=1)
    solid("CMYK", (20, 20), (0, 255, 255, 0)).save(src / "d_cmyk.jpg", quality=100)
    solid("RGB", (30, 20), GREEN).save(src / "e_wide.png")
    dest = tmp_path / "out.zip"

    result = run(src, dest, "--resolution", 8, "--background", "#203040")

    assert result.exit_code == 0, result.output
    assert "wrote 5 images" in result.output
    ds = ImageZipDataset(dest)
    assert (len(ds), ds.resolution, ds.channels, ds.label_dim) == (5, 8, 3, 0)
    assert (pixels(ds, 0) == BLUE).all()
    alpha = 128 / 255
    expected = np.rint(np.array([200, 100, 0]) * alpha + np.array([0x20, 0x30, 0x40]) * (1 - alpha))
    assert np.abs(pixels(ds, 1).astype(int) - expected).max() <= 1
    assert (pixels(ds, 2)[:4] == RED).all()
    assert (pixels(ds, 2)[4:] == (0x20, 0x30, 0x40)).all()  # the transparent index shows the background
    assert np.abs(pixels(ds, 3).astype(int) - RED).max() <= 2  # cyan + yellow ink, through JPEG
    assert (pixels(ds, 4) == GREEN).all()


def test_gray_modes_stay_one_channel(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    solid("L", (16, 16), 77).save(src / "a_l.png")
    solid("LA", (16, 16), (200, 0)).save(src / "b_la_clear.png")
    Image.fromarray(np.full((16, 16), 257 * 100, np.uint16)).save(src / "c_16bit.png")
    assert Image.open(src / "c_16bit.png").mode.startswith("I")
    solid("1", (16, 16), 1).save(src / "d_bilevel.png")
    dest = tmp_path / "out.zip"

    result = run(src, dest, "--resolution", 16, "--background", "#808080")

    assert result.exit_code == 0, result.output
    assert "grayscale" in result.output
    ds = ImageZipDataset(dest)
    assert (len(ds), ds.channels) == (4, 1)
    with zipfile.ZipFile(dest) as zf:
        assert Image.open(zf.open("00000/img00000000.png")).mode == "L"
    assert (ds[0][0] == 77).all()
    assert (ds[1][0] == 128).all()  # fully transparent: the background's gray level
    assert (ds[2][0] == 100).all()  # 16-bit scaled to 8-bit, not clipped
    assert (ds[3][0] == 255).all()


def test_transforms_of_non_square_images(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    wide = solid("RGB", (30, 10), RED)
    wide.paste(GREEN, (10, 0, 20, 10))  # the central square is green
    wide.save(src / "a.png")
    out = {}
    for transform in ("center-crop", "pad"):
        dest = tmp_path / f"{transform}.zip"
        assert run(src, dest, "--resolution", 16, "--transform", transform, "--background", "blue").exit_code == 0
        out[transform] = pixels(ImageZipDataset(dest), 0).astype(int)
    assert (out["center-crop"] == GREEN).all()
    pad = out["pad"]
    assert (pad[0] == BLUE).all() and (pad[-1] == BLUE).all()  # 30x10 padded to 30x30: blue above and below
    assert np.abs(pad[8, 8] - GREEN).max() <= 16 and np.abs(pad[8, 1] - RED).max() <= 16  # Lanczos rings a bit

    square = solid("RGB", (40, 40), RED)
    square.paste(GREEN, (0, 10, 40, 30))  # the central 2:1 band
    square.save(src / "a.png")
    dest = tmp_path / "wide.zip"
    assert run(src, dest, "--resolution", 16, "--transform", "center-crop-wide").exit_code == 0
    img = pixels(ImageZipDataset(dest), 0)
    assert (img[4:12] == GREEN).all()  # 16x8 band in the middle of the square
    assert (img[:4] == 0).all() and (img[12:] == 0).all()  # black bars as NVlabs


def test_layout_labels_and_reader(tmp_path):
    src = tmp_path / "src"
    (src / "b").mkdir(parents=True)
    (src / "a").mkdir()
    colors = {"a/x.png": (10, 0, 0), "a/y.png": (20, 0, 0), "b/z.png": (30, 0, 0)}
    for name, color in colors.items():
        solid("RGB", (8, 8), color).save(src / name)
    labels = {"b/z.png": 0, "a/x.png": 2, "a/y.png": 1}
    (src / "dataset.json").write_text(json.dumps({"labels": [[k, v] for k, v in labels.items()]}))
    dest = tmp_path / "out.zip"

    result = run(src, dest, "--resolution", 4)

    assert result.exit_code == 0, result.output
    order = sorted(colors)  # sorted relative paths
    with zipfile.ZipFile(dest) as zf:
        names = sorted(n for n in zf.namelist() if n.endswith(".png"))
        written = json.loads(zf.read("dataset.json"))["labels"]
    assert names == [f"00000/img{i:08d}.png" for i in range(3)]
    assert written == [[names[i], labels[order[i]]] for i in range(3)]
    ds = ImageZipDataset(dest)
    assert ds.label_dim == 3
    for i, name in enumerate(order):
        image, label = ds[i]
        assert image.dtype == np.uint8 and image.shape == (3, 4, 4)
        assert (image[0] == colors[name][0]).all()
        assert label.dtype == np.float32 and label.tolist() == np.eye(3)[labels[name]].tolist()
    lazy = ImageZipDataset(dest, cache=False)
    assert all((lazy[i][0] == ds[i][0]).all() for i in range(3))


def test_thousand_images_per_folder(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(1001):
        solid("L", (4, 4), i % 251).save(src / f"{i:04d}.png")
    dest = tmp_path / "out.zip"
    write_dataset(FolderSource(src), dest, 4)
    with zipfile.ZipFile(dest) as zf:
        folders = sorted({n.split("/")[0] for n in zf.namelist() if n.endswith(".png")})
        assert json.loads(zf.read("dataset.json")) == {"labels": None}
    assert folders == ["00000", "00001"]
    ds = ImageZipDataset(dest)
    assert len(ds) == 1001 and (ds[1000][0] == 1000 % 251).all()


def test_same_input_gives_identical_zip(tmp_path, monkeypatch):
    import time

    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        solid("RGB", (6, 6), (i, 2 * i, 3 * i)).save(src / f"{i}.png")
    first, second = tmp_path / "1.zip", tmp_path / "2.zip"
    write_dataset(FolderSource(src), first, 4)
    later = time.time() + 86400
    monkeypatch.setattr(time, "time", lambda: later)  # a day later: zip entry dates must not change
    write_dataset(FolderSource(src), second, 4)
    assert first.read_bytes() == second.read_bytes()


def test_vector_labels_and_missing_label(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("a.png", "b.png"):
        solid("RGB", (4, 4), RED).save(src / name)
    (src / "dataset.json").write_text(json.dumps({"labels": [["a.png", [0.5, 1.0]], ["b.png", [2.0, -1.0]]]}))
    dest = tmp_path / "out.zip"
    assert run(src, dest, "--resolution", 4).exit_code == 0
    ds = ImageZipDataset(dest)
    assert ds.label_dim == 2 and ds[1][1].tolist() == [2.0, -1.0]

    (src / "dataset.json").write_text(json.dumps({"labels": [["a.png", 0]]}))
    assert_bad_input(run(src, tmp_path / "other.zip", "--resolution", 4), "b.png", "no label")


def test_zip_source_and_round_trip(tmp_path):
    made = tmp_path / "made.zip"
    with zipfile.ZipFile(made, "w") as zf:
        for name, color in (("img/one.png", RED), ("img/two.png", BLUE)):
            path = tmp_path / "tmp.png"
            solid("RGB", (12, 12), color).save(path)
            zf.write(path, name)
        zf.writestr("__MACOSX/img/._one.png", b"junk")
        zf.writestr("readme.txt", b"not an image")
        zf.writestr("dataset.json", json.dumps({"labels": [["img/one.png", 1], ["img/two.png", 0]]}))
    first = tmp_path / "first.zip"
    result = run(made, first, "--resolution", 8)
    assert result.exit_code == 0, result.output
    assert "wrote 2 images" in result.output and "skipped" not in result.output

    second = tmp_path / "second.zip"  # our own output is a valid source
    assert run(first, second, "--resolution", 8).exit_code == 0
    a, b = ImageZipDataset(first), ImageZipDataset(second)
    assert (a.images == b.images).all() and (a.labels == b.labels).all()
    assert (a[0][0].transpose(1, 2, 0) == RED).all() and a[0][1].tolist() == [0.0, 1.0]


def test_unreadable_files_are_skipped_and_listed_with_the_reason(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    solid("RGB", (8, 8), RED).save(src / "good.png")
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (src / "garbage.jpg").write_bytes(b"not an image at all")
    (src / "notes.txt").write_text("ignored: not an image name")
    dest = tmp_path / "out.zip"

    result = run(src, dest, "--resolution", 4)

    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == ["skipped 2 unreadable image(s): broken.png (Truncated File Read), "
                                          "garbage.jpg (not an image format Pillow reads)"]
    assert len(ImageZipDataset(dest)) == 1


def test_decompression_bombs_are_refused_before_decoding(tmp_path, monkeypatch):
    # Pillow warns from MAX_IMAGE_PIXELS and raises from twice that: both are refused when the header is read.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    src = tmp_path / "src"
    src.mkdir()
    solid("RGB", (8, 8), RED).save(src / "a_fine.png")
    solid("RGB", (40, 40), RED).save(src / "b_over.png")  # 1600 pixels: a warning in Pillow
    solid("RGB", (64, 64), RED).save(src / "c_bomb.png")  # 4096 pixels: an error in Pillow
    decoded = []
    load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self.size) or load(self))

    result = run(src, tmp_path / "out.zip", "--resolution", 8)

    assert result.exit_code == 0, result.output
    reason = "over Pillow's limit of 1000 pixels, a possible decompression bomb"
    assert result.stderr.splitlines() == [
        f"skipped 2 unreadable image(s): b_over.png ({reason}), c_bomb.png ({reason})"]
    assert set(decoded) == {(8, 8)}  # the others were never decoded
    assert len(ImageZipDataset(tmp_path / "out.zip")) == 1


def test_images_far_below_the_resolution_are_warned_about(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(6):
        solid("RGB", (1, 1), RED).save(src / f"dot{i}.png")
    solid("RGB", (40, 15), RED).save(src / "strip.png")  # shorter side 15 < 32 / 2
    solid("RGB", (16, 16), RED).save(src / "half.png")  # exactly half: no warning
    dest = tmp_path / "out.zip"

    result = run(src, dest, "--resolution", 32)

    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "warning: 7 image(s) smaller than half the resolution (a side below 16 px) were enlarged: dot0.png (1x1), "
        "dot1.png (1x1), dot2.png (1x1), dot3.png (1x1), dot4.png (1x1), ... (2 more)"]
    assert len(ImageZipDataset(dest)) == 8


def test_max_images(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(5):
        solid("L", (4, 4), i * 10).save(src / f"{i}.png")
    dest = tmp_path / "out.zip"
    assert run(src, dest, "--resolution", 4, "--max-images", 3).exit_code == 0
    ds = ImageZipDataset(dest)
    assert len(ds) == 3 and [int(ds[i][0][0, 0, 0]) for i in range(3)] == [0, 10, 20]


def test_empty_results_are_errors(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    assert_bad_input(run(src, tmp_path / "out.zip", "--resolution", 4), "no readable images")
    (src / "bad.jpg").write_bytes(b"garbage")
    assert_bad_input(run(src, tmp_path / "out.zip", "--resolution", 4), "no readable images", "bad.jpg")
    assert not (tmp_path / "out.zip").exists()
    assert_bad_input(run(tmp_path / "missing", tmp_path / "out.zip", "--resolution", 4), "missing")


def test_mixed_channels_error_names_the_file_and_keeps_existing_dest(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    solid("RGB", (8, 8), RED).save(src / "a_colour.png")
    solid("RGB", (8, 8), BLUE).save(src / "b_colour.png")
    solid("L", (8, 8), 1).save(src / "c_gray.png")
    solid("RGB", (8, 8), GREEN).save(src / "d_colour.png")
    dest = tmp_path / "out.zip"
    dest.write_bytes(b"the previous dataset")

    result = run(src, dest, "--resolution", 8)

    assert_bad_input(result, "mixed channel counts: c_gray.png is grayscale but a_colour.png is colour")
    assert dest.read_bytes() == b"the previous dataset"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zip", "src"]  # no temp file left behind


@pytest.mark.parametrize("resolution", ["48", "2", "0", "-8"])
def test_bad_resolution(tmp_path, resolution):
    src = tmp_path / "src"
    src.mkdir()
    solid("RGB", (8, 8), RED).save(src / "a.png")
    assert_bad_input(run(src, tmp_path / "out.zip", "--resolution", resolution), "power of two")


def test_other_bad_options(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    solid("RGB", (8, 8), RED).save(src / "a.png")
    assert_bad_input(run(src, tmp_path / "out.zip", "--resolution", 4, "--background", "nocolour"), "colour")
    assert_bad_input(run(src, tmp_path / "out.png", "--resolution", 4), ".zip")
    bad_zip = tmp_path / "bad.zip"
    bad_zip.write_bytes(b"not a zip")
    assert_bad_input(run(bad_zip, tmp_path / "out.zip", "--resolution", 4), "not a zip file")
    assert_bad_input(run(bad_zip, bad_zip, "--resolution", 4), "same file")


def test_reader_rejects_bad_datasets(tmp_path):
    from train.dataset import DatasetError

    path = tmp_path / "d.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name, size in (("00000/img00000000.png", (8, 8)), ("00000/img00000001.png", (4, 4))):
            tmp = tmp_path / "tmp.png"
            solid("RGB", size, RED).save(tmp)
            zf.write(tmp, name)
    with pytest.raises(DatasetError, match="the first image is"):
        ImageZipDataset(path)
    assert len(ImageZipDataset(path, cache=False)) == 2  # lazily, the mismatch shows only when read
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("dataset.json", json.dumps({"labels": None}))
    with pytest.raises(DatasetError, match="no images"):
        ImageZipDataset(path)


def test_reader_survives_pickling(tmp_path):
    import pickle

    src = tmp_path / "src"
    src.mkdir()
    solid("RGB", (4, 4), GREEN).save(src / "a.png")
    dest = tmp_path / "out.zip"
    write_dataset(FolderSource(src), dest, 4)
    ds = ImageZipDataset(dest, cache=False)
    ds[0]
    copy = pickle.loads(pickle.dumps(ds))
    assert (copy[0][0] == ds[0][0]).all()


def test_help_documents_the_emoji_source():
    result = run("--help")
    assert result.exit_code == 0
    assert "emoji" in result.output and "center-crop-wide" in result.output


def test_dest_inside_missing_folder_is_created(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    solid("RGB", (4, 4), GREEN).save(src / "a.png")
    dest = tmp_path / "new" / "deeper" / "out.zip"
    assert run(src, dest, "--resolution", 4).exit_code == 0
    assert Path(dest).is_file() and len(ImageZipDataset(dest)) == 1


def test_a_failed_write_is_one_line_and_keeps_the_previous_dataset(tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    solid("RGB", (4, 4), GREEN).save(src / "a.png")
    dest = tmp_path / "out.zip"
    dest.write_bytes(b"the previous dataset")

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(zipfile.ZipFile, "writestr", disk_full)
    result = run(src, dest, "--resolution", 4)

    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.output.splitlines() == [f"Error: cannot write {dest}: No space left on device"]
    assert dest.read_bytes() == b"the previous dataset"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zip", "src"]  # no temp file left behind


def test_stale_temp_files_of_ours_in_the_dest_folder_are_removed(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    solid("RGB", (4, 4), GREEN).save(src / "a.png")
    out = tmp_path / "out"
    out.mkdir()
    stale = out / ".data.zip.k3j4h5g6.tmp"  # left by a killed `sgx dataset`
    fresh = out / ".other.zip.a1b2c3d4.tmp"  # a concurrent writer's, newer than this run
    foreign = out / ".notes.tmp"  # not of our naming
    for path in (stale, fresh, foreign):
        path.write_bytes(b"x")
    now = time.time()
    for path, when in ((stale, now - 3600), (fresh, now + 3600), (foreign, now - 3600)):
        os.utime(path, (when, when))

    assert run(src, out / "data.zip", "--resolution", 4).exit_code == 0

    assert sorted(p.name for p in out.iterdir()) == sorted([fresh.name, foreign.name, "data.zip"])
