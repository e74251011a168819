"""Image inputs shared by `run` and `eval` (microdeploy.images via device.inputs.load_input):
decoding PNG/PGM/PPM written here by an independent encoder, channel conversion, area
resizing, TFLM's int8 camera convention, and eval on photos of another size."""

from __future__ import annotations

import json
import shutil
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli

from microdeploy import paths, reference
from microdeploy.build import build_project
from microdeploy.device.inputs import load_input
from microdeploy.images import ImageError, decode, fit, photo_tensor
from microdeploy.project.generate import init_project

EXAMPLE = paths.examples_dir() / "person_detection"


# ---- a small PNG encoder (each row with a chosen filter), independent of the decoder --------


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def _filter_row(kind: int, row: bytes, prev: bytes, bpp: int) -> bytes:
    out = bytearray()
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        predictor = [0, a, b, (a + b) // 2, _paeth(a, b, c)][kind]
        out.append((x - predictor) & 0xFF)
    return bytes(out)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png(
    pixels: np.ndarray, color: int, depth: int = 8, palette: bytes = b"", filters: int = 5
) -> bytes:
    """pixels [H, W, samples] (uint8, or uint16 for depth 16); row y uses filter y % filters."""
    height, width = pixels.shape[:2]
    raw = pixels.astype(">u2").tobytes() if depth == 16 else pixels.astype(np.uint8).tobytes()
    stride = len(raw) // height
    bpp = max(1, pixels.shape[2] * depth // 8)
    body = bytearray()
    prev = bytes(stride)
    for y in range(height):
        row = raw[y * stride : (y + 1) * stride]
        kind = y % filters
        body += bytes([kind]) + _filter_row(kind, row, prev, bpp)
        prev = row
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    chunks = _chunk(b"IHDR", ihdr)
    if palette:
        chunks += _chunk(b"PLTE", palette)
    chunks += _chunk(b"IDAT", zlib.compress(bytes(body))) + _chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def _random_pixels(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape).astype(np.uint8)


# ---- decoding --------------------------------------------------------------------------------


@pytest.mark.parametrize("color, samples", [(0, 1), (2, 3), (4, 2), (6, 4)])
def test_png_decodes_every_filter_and_colour_type(tmp_path: Path, color: int, samples: int) -> None:
    pixels = _random_pixels((11, 7, samples), seed=color)
    path = tmp_path / "x.png"
    path.write_bytes(_png(pixels, color))
    want = pixels[:, :, :-1] if color in (4, 6) else pixels  # alpha dropped
    assert np.array_equal(decode(path), want)


def test_png_palette_and_16_bit(tmp_path: Path) -> None:
    palette = _random_pixels((4, 3), seed=9)
    index = np.random.default_rng(3).integers(0, 4, (5, 6, 1)).astype(np.uint8)
    path = tmp_path / "p.png"
    path.write_bytes(_png(index, 3, palette=palette.tobytes()))
    assert np.array_equal(decode(path), palette[index[:, :, 0]])
    deep = np.random.default_rng(4).integers(0, 65536, (5, 6, 1)).astype(np.uint16)
    path.write_bytes(_png(deep, 0, depth=16))
    assert np.array_equal(decode(path), (deep >> 8).astype(np.uint8))


def test_pgm_and_ppm(tmp_path: Path) -> None:
    grey = _random_pixels((4, 5, 1))
    (tmp_path / "g.pgm").write_bytes(b"P5\n# a comment\n5 4\n255\n" + grey.tobytes())
    assert np.array_equal(decode(tmp_path / "g.pgm"), grey)
    colour = _random_pixels((3, 2, 3))
    (tmp_path / "c.ppm").write_bytes(b"P6 2 3 255\n" + colour.tobytes())
    assert np.array_equal(decode(tmp_path / "c.ppm"), colour)


def test_damaged_and_unsupported_images_are_image_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.png"
    path.write_bytes(b"not a png at all")
    with pytest.raises(ImageError, match="not a PNG"):
        decode(path)
    good = _png(_random_pixels((4, 4, 1)), 0)
    path.write_bytes(good[:40])
    with pytest.raises(ImageError, match="damaged PNG|cut short"):
        decode(path)
    interlaced = bytearray(good)
    ihdr_end = 8 + 8 + 13
    interlaced[ihdr_end - 1] = 1
    path.write_bytes(bytes(interlaced))
    with pytest.raises(ImageError, match="interlace 1 is not supported"):
        decode(path)
    (tmp_path / "bad.pgm").write_bytes(b"P5 4 4 255\n" + b"\0" * 3)
    with pytest.raises(ImageError, match="cut short"):
        decode(tmp_path / "bad.pgm")


def test_jpeg_without_pillow_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)  # as on a machine without Pillow
    (tmp_path / "x.jpg").write_bytes(b"\xff\xd8\xff")
    with pytest.raises(ImageError, match="needs Pillow") as info:
        decode(tmp_path / "x.jpg")
    assert "pip install pillow" in info.value.hint


# ---- fitting ---------------------------------------------------------------------------------


def test_fit_converts_channels_with_luma_and_replication() -> None:
    rgb = _random_pixels((6, 6, 3))
    grey = fit(rgb, 6, 6, 1)
    luma = 0.299 * rgb[:, :, 0] + 0.587 * rgb[:, :, 1] + 0.114 * rgb[:, :, 2]
    assert np.abs(grey[:, :, 0].astype(float) - luma).max() <= 0.5 + 1e-9
    back = fit(grey, 6, 6, 3)
    assert all(np.array_equal(back[:, :, c], grey[:, :, 0]) for c in range(3))


def test_fit_area_resize_down_and_up() -> None:
    pixels = _random_pixels((8, 12, 1))
    half = fit(pixels, 4, 6, 1)
    blocks = pixels[:, :, 0].reshape(4, 2, 6, 2).astype(float).mean(axis=(1, 3))
    assert np.array_equal(half[:, :, 0], np.floor(blocks + 0.5).astype(np.uint8))
    double = fit(pixels, 16, 24, 1)
    assert np.array_equal(double[:, :, 0], np.repeat(np.repeat(pixels[:, :, 0], 2, 0), 2, 1))
    assert np.array_equal(fit(pixels, 8, 12, 1), pixels)


def test_photo_tensor_types_and_shapes(tmp_path: Path) -> None:
    pixels = _random_pixels((96, 96, 1))
    path = tmp_path / "x.png"
    path.write_bytes(_png(pixels, 0))
    as_int8 = load_input(path, "int8", (1, 96, 96, 1))
    assert np.array_equal(as_int8.astype(int), pixels.reshape(1, 96, 96, 1).astype(int) - 128)
    as_uint8 = load_input(path, "uint8", (1, 96, 96, 1))
    assert np.array_equal(as_uint8, pixels.reshape(1, 96, 96, 1))
    with pytest.raises(ImageError, match="float32"):
        photo_tensor(path, "float32", (1, 96, 96, 1))
    with pytest.raises(ImageError, match="not an image"):
        photo_tensor(path, "int8", (1, 9216))


def test_natural_pixels_give_tflms_own_int8_test_tensor(tmp_path: Path) -> None:
    """TFLM's person image holds int8 values (pixel - 128): the same picture as an ordinary PNG
    must give exactly TFLM's tensor, for the grey and the 3-channel model."""
    inputs = paths.shared_models_dir() / "inputs"
    if not inputs.is_dir():
        pytest.skip(f"{inputs} is absent")
    grey = np.load(inputs / "person_96x96x1_int8.npy")
    natural = (grey.astype(np.int16) + 128).astype(np.uint8).reshape(96, 96, 1)
    path = tmp_path / "person.png"
    path.write_bytes(_png(natural, 0))
    assert np.array_equal(load_input(path, "int8", (1, 96, 96, 1)), grey)
    assert np.array_equal(
        load_input(path, "int8", (1, 96, 96, 3)), np.load(inputs / "person_96x96x3_int8.npy")
    )


# ---- eval on photos of another size ----------------------------------------------------------


@pytest.mark.slow
def test_eval_on_resized_colour_photos_matches_tflm(tmp_path: Path) -> None:
    if not reference.available():
        pytest.skip("tflite-micro (the TFLM reference) is not installed")
    project = tmp_path / "person"
    init_project(project, "native", example="person_detection")
    build_project(project)
    dataset = tmp_path / "ds"
    for label in ("person", "no_person"):
        (dataset / label).mkdir(parents=True)
        tensor = load_input(EXAMPLE / f"{label}.bmp", "int8", (1, 96, 96, 1))
        natural = (tensor.astype(np.int16) + 128).astype(np.uint8).reshape(96, 96)
        big = np.repeat(np.repeat(natural, 2, 0), 2, 1)  # 192x192
        colour = np.stack([big, big, big], axis=2)
        (dataset / label / "photo.png").write_bytes(_png(colour, 2))
        shutil.copyfile(EXAMPLE / f"{label}.bmp", dataset / label / "tflm_style.bmp")
    result = run_cli("eval", str(project), "--dataset", str(dataset), "--json")
    assert result.code == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["images"] == 4 and report["agree"] is True
    model = (project / "model" / "model.tflite").read_bytes()
    rows = {row["file"]: row for row in report["results"]}
    for label in ("person", "no_person"):
        photo = rows[str(dataset / label / "photo.png")]
        bmp = rows[str(dataset / label / "tflm_style.bmp")]
        # A 2x upscaled grey picture in RGB shrinks back to the very same int8 tensor.
        assert photo["output"] == bmp["output"]
        tensor = load_input(dataset / label / "photo.png", "int8", (1, 96, 96, 1))
        assert photo["output"] == reference.tflm_run(model, [tensor])[0].reshape(-1).tolist()


def test_jpeg_through_pillow_when_installed(tmp_path: Path) -> None:
    image_module = pytest.importorskip("PIL.Image")
    pixels = _random_pixels((30, 40, 3))
    path = tmp_path / "x.jpg"
    image_module.fromarray(pixels, "RGB").save(path, quality=95)
    with image_module.open(path) as image:
        decoded = np.asarray(image.convert("RGB"), dtype=np.uint8)
    want = fit(decoded, 96, 96, 1).astype(np.int16) - 128
    assert np.array_equal(load_input(path, "int8", (1, 96, 96, 1)), want.reshape(1, 96, 96, 1))
