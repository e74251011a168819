"""Photos (PNG, PGM/PPM, and JPEG when Pillow is installed) as a model's image input tensor.

Used by `microdeploy.device.inputs.load_input`, the one input loader of `run` and `eval`.
Every board gets the same tensor because the host does all of the work:
1. decode to 8-bit pixels [H, W, C] (PNG and PNM by our own decoders; other formats by Pillow);
2. channels: colour -> grey with ITU-R BT.601 luma weights, grey -> colour by replication;
3. size: resampled to the model's H x W with area averaging (each output pixel is the mean of
   the input area it covers, so downscaling does not alias; no crop, the aspect follows the model);
4. values: uint8 tensors take the pixel, int8 tensors the pixel - 128 — TFLM's camera
   convention, which is also how TFLM's own test images (person.bmp) hold their int8 values.

8-bit BMP files are not photos here: they keep TFLM's test-image convention in inputs.py.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from microdeploy.errors import MicrodeployError

PNG_SUFFIXES = (".png",)
PNM_SUFFIXES = (".pgm", ".ppm", ".pnm")
PILLOW_SUFFIXES = (".jpg", ".jpeg", ".gif", ".tif", ".tiff", ".webp")
PHOTO_SUFFIXES = PNG_SUFFIXES + PNM_SUFFIXES + PILLOW_SUFFIXES
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_LUMA = np.array([0.299, 0.587, 0.114])


class ImageError(MicrodeployError):
    """An image that cannot be decoded or turned into the model's input."""


# ---- decoding --------------------------------------------------------------------------------


def decode(path: Path) -> np.ndarray:
    """8-bit pixels [H, W, C] with C = 1 (grey) or 3 (RGB); alpha is dropped."""
    suffix = path.suffix.lower()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageError(f"cannot read {path}: {exc.strerror}", "check the input path") from None
    if suffix in PNG_SUFFIXES:
        return _decode_png(data, path)
    if suffix in PNM_SUFFIXES:
        return _decode_pnm(data, path)
    return _decode_with_pillow(path)


def _decode_with_pillow(path: Path) -> np.ndarray:
    try:
        from PIL import Image
    except ImportError:
        raise ImageError(
            f"{path}: reading {path.suffix} images needs Pillow",
            "pip install pillow (or convert the image to PNG)",
        ) from None
    try:
        with Image.open(path) as image:
            image = image.convert("L" if image.mode in ("1", "L", "I", "I;16") else "RGB")
            pixels = np.asarray(image, dtype=np.uint8)
    except OSError as exc:
        raise ImageError(f"{path} is not a readable image ({exc})", "the file is damaged") from None
    return pixels.reshape(*pixels.shape[:2], -1)


def _decode_pnm(data: bytes, path: Path) -> np.ndarray:
    """Binary PGM (P5) and PPM (P6), 8-bit or 16-bit (high byte kept)."""
    fields: list[bytes] = []
    pos = 0
    while len(fields) < 4:
        while pos < len(data) and data[pos : pos + 1].isspace():
            pos += 1
        if data[pos : pos + 1] == b"#":
            pos = data.find(b"\n", pos) + 1 or len(data)
            continue
        start = pos
        while pos < len(data) and not data[pos : pos + 1].isspace():
            pos += 1
        if start == pos:
            break
        fields.append(data[start:pos])
    pos += 1  # the single whitespace before the pixels
    if (
        len(fields) < 4
        or fields[0] not in (b"P5", b"P6")
        or not all(f.isdigit() for f in fields[1:])
    ):
        raise ImageError(
            f"{path} is not a binary PGM/PPM image", "save it as P5 (grey) or P6 (colour)"
        )
    width, height, maxval = (int(f) for f in fields[1:])
    channels = 1 if fields[0] == b"P5" else 3
    depth = 2 if maxval > 255 else 1
    count = width * height * channels
    if width == 0 or height == 0 or len(data) < pos + count * depth:
        raise ImageError(f"{path}: pixel data is cut short", "the file is damaged")
    raw = np.frombuffer(data, dtype=">u2" if depth == 2 else np.uint8, count=count, offset=pos)
    scaled = np.round(raw.astype(np.float64) * 255.0 / max(maxval, 1))
    return scaled.astype(np.uint8).reshape(height, width, channels)


def _decode_png(data: bytes, path: Path) -> np.ndarray:
    if not data.startswith(_PNG_SIGNATURE):
        raise ImageError(f"{path} is not a PNG image", "check the file")
    header: tuple[int, ...] | None = None
    palette = b""
    idat = bytearray()
    pos = len(_PNG_SIGNATURE)
    try:
        while pos + 8 <= len(data):
            length, kind = struct.unpack_from(">I4s", data, pos)
            body = data[pos + 8 : pos + 8 + length]
            if len(body) != length:
                raise ValueError("a chunk is cut short")
            pos += 12 + length
            if kind == b"IHDR":
                header = struct.unpack(">IIBBBBB", body)
            elif kind == b"PLTE":
                palette = body
            elif kind == b"IDAT":
                idat += body
            elif kind == b"IEND":
                break
        if header is None:
            raise ValueError("no IHDR chunk")
        width, height, depth, color, _, _, interlace = header
        raw = zlib.decompress(bytes(idat))
    except (struct.error, ValueError, zlib.error) as exc:
        raise ImageError(f"{path} is a damaged PNG ({exc})", "re-save the image") from None
    samples = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(color)
    if samples is None or depth not in (8, 16) or interlace != 0 or (color == 3 and depth != 8):
        raise ImageError(
            f"{path}: PNG colour type {color}, {depth}-bit, interlace {interlace} is not supported",
            "save it as a non-interlaced 8-bit grey, RGB, RGBA or palette PNG",
        )
    bpp = samples * depth // 8  # bytes per pixel
    stride = width * bpp
    if len(raw) < height * (stride + 1):
        raise ImageError(f"{path}: PNG pixel data is cut short", "the file is damaged")
    rows = _unfilter(raw, height, stride, bpp, path)
    if depth == 16:
        rows = rows[:, 0::2]  # the high byte of each sample
    pixels = rows.reshape(height, width, samples)
    if color == 3:
        table = np.frombuffer(palette, dtype=np.uint8).reshape(-1, 3)
        if table.size == 0 or int(pixels.max()) >= len(table):
            raise ImageError(f"{path}: palette index outside the PLTE chunk", "the file is damaged")
        return table[pixels[:, :, 0]]
    if color in (4, 6):
        pixels = pixels[:, :, :-1]  # drop alpha
    return np.ascontiguousarray(pixels)


def _unfilter(raw: bytes, height: int, stride: int, bpp: int, path: Path) -> np.ndarray:
    """Undoes PNG's per-row filters (None, Sub, Up, Average, Paeth)."""
    out = np.zeros((height, stride), dtype=np.uint8)
    previous = np.zeros(stride, dtype=np.int64)
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        row = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=start + 1).astype(np.int64)
        if kind == 0:
            current = row
        elif kind == 2:
            current = (row + previous) & 0xFF
        elif kind in (1, 3, 4):
            current = _unfilter_sequential(row, previous, bpp, kind)
        else:
            raise ImageError(f"{path}: unknown PNG filter {kind} in row {y}", "the file is damaged")
        out[y] = current
        previous = current
    return out


def _unfilter_sequential(row: np.ndarray, up: np.ndarray, bpp: int, kind: int) -> np.ndarray:
    """Sub, Average and Paeth depend on the already decoded left pixel: one pixel step at a
    time, vectorised over its bytes."""
    current = row.copy()
    left = np.zeros(bpp, dtype=np.int64)
    up_left = np.zeros(bpp, dtype=np.int64)
    for x in range(0, len(row), bpp):
        above = up[x : x + bpp]
        if kind == 1:
            value = row[x : x + bpp] + left
        elif kind == 3:
            value = row[x : x + bpp] + (left + above) // 2
        else:
            p = left + above - up_left
            pa, pb, pc = np.abs(p - left), np.abs(p - above), np.abs(p - up_left)
            predictor = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, above, up_left))
            value = row[x : x + bpp] + predictor
        current[x : x + bpp] = value & 0xFF
        left, up_left = current[x : x + bpp], above
    return current


# ---- fitting to the model ----------------------------------------------------------------------


def _area_weights(size_in: int, size_out: int) -> np.ndarray:
    """[size_out, size_in] weights: output pixel i averages input span [i, i+1) * in/out."""
    edges = np.arange(size_out + 1) * (size_in / size_out)
    starts, ends = edges[:-1, None], edges[1:, None]
    cells = np.arange(size_in)[None, :]
    overlap = np.clip(np.minimum(ends, cells + 1) - np.maximum(starts, cells), 0.0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)


def fit(pixels: np.ndarray, height: int, width: int, channels: int) -> np.ndarray:
    """8-bit pixels [H, W, C] resized to height x width with `channels` channels."""
    image = pixels.astype(np.float64)
    if image.shape[2] == 3 and channels == 1:
        image = (image @ _LUMA)[:, :, None]
    elif image.shape[2] == 1 and channels == 3:
        image = np.repeat(image, 3, axis=2)
    elif image.shape[2] != channels:
        raise ImageError(
            f"a {image.shape[2]}-channel image cannot feed a {channels}-channel input",
            "the model's input must have 1 (grey) or 3 (RGB) channels",
        )
    if image.shape[:2] != (height, width):
        rows = _area_weights(image.shape[0], height)
        cols = _area_weights(image.shape[1], width)
        image = np.einsum("yi,ijc,xj->yxc", rows, image, cols)
    return np.clip(np.floor(image + 0.5), 0, 255).astype(np.uint8)


def photo_tensor(path: Path, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    """The model's input tensor (`dtype`, `shape` [1, H, W, C] or [H, W, C]) from a photo."""
    if len(shape) not in (3, 4) or (len(shape) == 4 and shape[0] != 1):
        raise ImageError(
            f"{path}: the model's input {list(shape)} is not an image [1, H, W, C]",
            "give a .npy or raw tensor file instead",
        )
    if dtype not in ("int8", "uint8"):
        raise ImageError(
            f"{path}: images feed int8 or uint8 inputs; this model's input is {dtype}",
            "give a .npy tensor of the input's type instead",
        )
    height, width, channels = shape[-3:]
    pixels = fit(decode(path), height, width, channels)
    if dtype == "int8":
        return (pixels.astype(np.int16) - 128).astype(np.int8).reshape(shape)
    return pixels.reshape(shape)
