"""Photos (PNG, PGM/PPM, and JPEG when Pillow is installed) as a model's image input tensor.

Used by `microdeploy.device.inputs.load_input`, the one input loader of `run` and `eval`.
Every board gets the same tensor because the host does all of the work:
1. decode to 8-bit pixels [H, W, C] (PNG and PNM by our own decoders; other formats by Pillow);
2. channels: colour -> grey with ITU-R BT.601 luma weights, grey -> colour by replication;
3. size: resampled to the model's H x W with area averaging (each output pixel is the mean of
   the input area it covers, so downscaling does not alias; no crop, the aspect follows the model;
   camera frames are first cropped to the model's aspect, `frame_tensor`);
4. values: uint8 tensors take the pixel, int8 tensors the pixel - 128 — TFLM's camera
   convention, which is also how TFLM's own test images (person.bmp) hold their int8 values.

Steps 2-4 are exact integer arithmetic with one rounding (half up), so a camera board's own
preprocessing (runtime_cpp/src/md/camera/frame_prep.cc) gives the same bytes (docs/camera.md).

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
#
# All of it is exact integer arithmetic, so that a device (runtime_cpp/src/md/camera/frame_prep.cc)
# computes the very same bytes: BT.601 luma as 299 R + 587 G + 114 B over 1000, area weights as
# whole numbers over a common denominator, and one rounding (half up) at the end.

LUMA_WEIGHTS = (299, 587, 114)  # ITU-R BT.601, per mille
_LUMA_INT = np.array(LUMA_WEIGHTS, dtype=np.float64)


def _area_weights(size_in: int, size_out: int) -> np.ndarray:
    """[size_out, size_in] whole-number weights; every row sums to size_in.

    Output pixel i covers input span [i, i+1) * in/out; in units of 1/out that is
    [i * in, (i + 1) * in), and input cell j is [j * out, (j + 1) * out): the overlap of the
    two is the weight."""
    starts = (np.arange(size_out) * size_in)[:, None]
    ends = starts + size_in
    cells = (np.arange(size_in) * size_out)[None, :]
    overlap = np.minimum(ends, cells + size_out) - np.maximum(starts, cells)
    return np.clip(overlap, 0, None).astype(np.float64)


def crop_box(height_in: int, width_in: int, height: int, width: int) -> tuple[int, int, int, int]:
    """(top, left, rows, cols) of the centred crop with the output's aspect ratio (whole pixels,
    rounded down), as the device takes it from a camera frame."""
    if width_in * height > height_in * width:  # wider than the model: cut the sides
        cols = max(1, height_in * width // height)
        return 0, (width_in - cols) // 2, height_in, cols
    rows = max(1, width_in * height // width)
    return (height_in - rows) // 2, 0, rows, width_in


def fit(
    pixels: np.ndarray, height: int, width: int, channels: int, crop: bool = False
) -> np.ndarray:
    """8-bit pixels [H, W, C] resized to height x width with `channels` channels.

    With `crop`, the centred region with the output's aspect ratio is taken first (cameras);
    without, the whole picture is stretched to the output (photos given to `run`/`eval`)."""
    if crop:
        top, left, rows, cols = crop_box(pixels.shape[0], pixels.shape[1], height, width)
        pixels = pixels[top : top + rows, left : left + cols]
    image = pixels.astype(np.float64)  # whole numbers below 2**53: float sums are exact
    scale = 1
    if image.shape[2] == 3 and channels == 1:
        image = (image @ _LUMA_INT)[:, :, None]
        scale = sum(LUMA_WEIGHTS)
    elif image.shape[2] == 1 and channels == 3:
        image = np.repeat(image, 3, axis=2)
    elif image.shape[2] != channels:
        raise ImageError(
            f"a {image.shape[2]}-channel image cannot feed a {channels}-channel input",
            "the model's input must have 1 (grey) or 3 (RGB) channels",
        )
    rows_in, cols_in = image.shape[:2]
    rows = _area_weights(rows_in, height)
    cols = _area_weights(cols_in, width)
    total = np.stack([rows @ image[:, :, c] @ cols.T for c in range(channels)], axis=2)
    numerator = np.rint(total).astype(np.int64)
    denominator = rows_in * cols_in * scale
    return ((2 * numerator + denominator) // (2 * denominator)).astype(np.uint8)


def expand_rgb565(data: bytes, height: int, width: int, big_endian: bool = True) -> np.ndarray:
    """RGB565 frame bytes -> 8-bit pixels [H, W, 3], each field widened by repeating its top
    bits (r5 -> r5 << 3 | r5 >> 2), as the device does. Camera sensors send the high byte first
    (`big_endian`)."""
    count = height * width
    if len(data) < 2 * count:
        raise ImageError(
            f"an RGB565 frame of {width}x{height} needs {2 * count} bytes, got {len(data)}",
            "check the frame size",
        )
    words = np.frombuffer(data, dtype=">u2" if big_endian else "<u2", count=count).astype(np.int64)
    r5, g6, b5 = (words >> 11) & 0x1F, (words >> 5) & 0x3F, words & 0x1F
    rgb = np.stack([(r5 << 3) | (r5 >> 2), (g6 << 2) | (g6 >> 4), (b5 << 3) | (b5 >> 2)], axis=1)
    return rgb.astype(np.uint8).reshape(height, width, 3)


def to_input_type(pixels: np.ndarray, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    """uint8 inputs take the pixel, int8 inputs the pixel - 128 (TFLM's camera convention)."""
    if dtype == "int8":
        return (pixels.astype(np.int16) - 128).astype(np.int8).reshape(shape)
    return pixels.reshape(shape)


def frame_tensor(
    pixels: np.ndarray, dtype: str, shape: tuple[int, ...], crop: bool = True
) -> np.ndarray:
    """The input tensor a camera board computes from a frame (8-bit pixels [H, W, C]): centred
    crop to the model's aspect, area resize, channels, type — byte for byte the device's."""
    height, width, channels = shape[-3:]
    return to_input_type(fit(pixels, height, width, channels, crop=crop), dtype, shape)


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
    return to_input_type(fit(decode(path), height, width, channels), dtype, shape)
