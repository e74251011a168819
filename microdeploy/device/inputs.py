"""Input files for `microdeploy run`: .npy arrays, raw tensor bytes, or BMP images.

BMP pixels follow TFLM's own test convention: rows top-down, the pixel bytes taken as the
tensor's bytes as they are (an 8-bit image into an int8 tensor is copied, not re-centred);
a grey image given to a 3-channel model is replicated to each channel, a colour image is
read as RGB. Photos (PNG, PGM/PPM, JPEG with Pillow) of any size are decoded, converted and
resized by microdeploy.images (int8 input = pixel - 128, TFLM's camera convention).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from microdeploy import images
from microdeploy.errors import MicrodeployError


class InputError(MicrodeployError):
    """An input file that does not fit the model's input tensor."""


def load_input(path: Path, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    """The tensor in `path`, as `dtype` with `shape`; InputError when it does not fit."""
    want = np.dtype(dtype).newbyteorder("<")
    count = int(np.prod(shape)) if shape else 1
    if not path.is_file():
        raise InputError(f"input file {path} does not exist", "check the --input path")
    suffix = path.suffix.lower()
    if suffix in images.PHOTO_SUFFIXES:
        return images.photo_tensor(path, dtype, shape)
    if suffix == ".npy":
        array = _load_npy(path)
        if array.dtype != want.newbyteorder("="):
            raise InputError(
                f"{path}: array of {array.dtype}, the model's input is {dtype}",
                f"save it as {dtype} (numpy: array.astype(np.{dtype}))",
            )
        if array.size != count:
            raise InputError(
                f"{path}: {array.size} values {list(array.shape)}, the model's input has "
                f"{count} {list(shape)}",
                "give a tensor of the input's shape",
            )
        return array.reshape(shape).astype(want)
    data = _bmp_pixels(path, shape) if suffix == ".bmp" else path.read_bytes()
    if len(data) != count * want.itemsize:
        raise InputError(
            f"{path}: {len(data)} bytes, the model's input {dtype} {list(shape)} takes "
            f"{count * want.itemsize}",
            "raw files hold the tensor's little-endian bytes and nothing else",
        )
    return np.frombuffer(data, dtype=want).reshape(shape)


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(
            f"{path} is not a readable .npy file: {exc}", "save it with np.save"
        ) from None


def _bmp_pixels(path: Path, shape: tuple[int, ...]) -> bytes:
    data = path.read_bytes()
    try:
        if data[:2] != b"BM":
            raise ValueError("no BM signature")
        offset = struct.unpack_from("<I", data, 10)[0]
        width, height = struct.unpack_from("<ii", data, 18)
        bits, compression = struct.unpack_from("<HI", data, 28)
    except (struct.error, ValueError) as exc:
        raise InputError(f"{path} is not a BMP image ({exc})", "give an uncompressed BMP") from None
    if compression != 0 or bits not in (8, 24):
        raise InputError(
            f"{path}: {bits}-bit BMP with compression {compression}",
            "give an uncompressed 8-bit grey or 24-bit colour BMP",
        )
    top_down = height < 0
    height = abs(height)
    channels = bits // 8
    stride = (width * channels + 3) // 4 * 4
    if offset + stride * height > len(data):
        raise InputError(f"{path}: pixel data is cut short", "the file is damaged")
    rows = [
        data[offset + r * stride : offset + r * stride + width * channels] for r in range(height)
    ]
    if not top_down:
        rows.reverse()
    pixels = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(height, width, channels)
    if channels == 3:
        pixels = pixels[:, :, ::-1]  # BGR -> RGB
    model_channels = shape[-1] if len(shape) >= 3 else 1
    image_hw = tuple(shape[-3:-1]) if len(shape) >= 3 else ()
    if image_hw and image_hw != (height, width):
        raise InputError(
            f"{path}: {width}x{height} image, the model wants {image_hw[1]}x{image_hw[0]}",
            "resize the image to the model's input size",
        )
    if channels == 1 and model_channels == 3:
        pixels = np.repeat(pixels, 3, axis=2)
    elif channels == 3 and model_channels == 1:
        raise InputError(
            f"{path}: colour image, the model wants one channel",
            "convert the image to 8-bit grey",
        )
    return pixels.tobytes()
