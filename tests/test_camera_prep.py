"""The device's camera preprocessing (runtime_cpp/src/md/camera/frame_prep.cc, built for the
host as runtime_cpp/tools/md_frame_prep.cc) gives byte for byte the tensor the host computes
(microdeploy/images.py `frame_tensor`): synthetic frames of camera sizes (QCIF 176x144, QQVGA
160x120, QVGA 320x240) and odd ones, in every pixel format, into grey/colour int8/uint8
inputs, cropped and stretched; plus TFLM's own person images (../shared) and our example's
placed in camera-sized frames."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from microdeploy import host_runtime, paths
from microdeploy.device.inputs import load_input
from microdeploy.images import crop_box, expand_rgb565, fit, frame_tensor

TOOL_SOURCES = [
    paths.runtime_dir() / "tools" / "md_frame_prep.cc",
    paths.runtime_dir() / "src" / "md" / "camera" / "frame_prep.cc",
    paths.runtime_dir() / "src" / "md" / "status.cc",
    paths.runtime_dir() / "src" / "md" / "types.cc",
]
FORMATS = ("gray8", "rgb888", "rgb565be", "rgb565le")
# (width, height): QCIF, QQVGA, QVGA, the model's own size, odd sizes down and up, a thin strip
FRAME_SIZES = ((176, 144), (160, 120), (320, 240), (96, 96), (131, 97), (45, 29), (200, 7))
# (height, width, channels, type)
INPUTS = ((96, 96, 1, "int8"), (96, 96, 3, "int8"), (96, 96, 1, "uint8"), (50, 70, 3, "uint8"))


@pytest.fixture(scope="module")
def frame_prep() -> Path:
    return host_runtime.build_executable("md_frame_prep", TOOL_SOURCES)


def _frame_bytes(pixels: np.ndarray, fmt: str) -> bytes:
    """Raw frame bytes in `fmt` of 8-bit pixels [H, W, 3] (RGB565 keeps each field's top bits)."""
    if fmt == "gray8":
        return pixels[:, :, :1].tobytes()
    if fmt == "rgb888":
        return pixels.tobytes()
    p = pixels.astype(np.uint16)
    words = ((p[:, :, 0] >> 3) << 11) | ((p[:, :, 1] >> 2) << 5) | (p[:, :, 2] >> 3)
    return words.astype(">u2" if fmt == "rgb565be" else "<u2").tobytes()


def _host_pixels(raw: bytes, fmt: str, width: int, height: int) -> np.ndarray:
    """The frame as the host reads it: [H, W, C] 8-bit pixels."""
    if fmt == "gray8":
        return np.frombuffer(raw, np.uint8).reshape(height, width, 1)
    if fmt == "rgb888":
        return np.frombuffer(raw, np.uint8).reshape(height, width, 3)
    return expand_rgb565(raw, height, width, big_endian=fmt == "rgb565be")


def _synthetic(width: int, height: int, seed: int) -> np.ndarray:
    """Noise over gradients, plus a 0/1 checkerboard corner whose averages land on .5 ties."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x + y) % 256], 2)
    noise = rng.integers(-40, 41, size=(height, width, 3))
    pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
    pixels[: height // 3, : width // 3] = ((x + y) % 2)[: height // 3, : width // 3, None]
    return pixels


def _run_jobs(tool: Path, jobs: list[str]) -> list[str]:
    proc = subprocess.run(
        [str(tool)],
        input="\n".join(jobs) + "\n",
        capture_output=True,
        text=True,
        timeout=600,
        env={"ASAN_OPTIONS": "detect_leaks=0"},
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc.stdout.split("\n")[: len(jobs)]


def _compare(tool: Path, tmp: Path, frames: list[tuple[str, np.ndarray]]) -> int:
    """Runs every frame x format x input x crop through the device code; returns the count."""
    jobs, expected = [], []
    for name, pixels in frames:
        height, width = pixels.shape[:2]
        for fmt in FORMATS:
            raw = _frame_bytes(pixels, fmt)
            frame_file = tmp / f"{name}-{fmt}.raw"
            frame_file.write_bytes(raw)
            host = _host_pixels(raw, fmt, width, height)
            for out_h, out_w, channels, dtype in INPUTS:
                for crop in (1, 0):
                    out = tmp / f"{name}-{fmt}-{out_h}x{out_w}x{channels}-{dtype}-{crop}.bin"
                    jobs.append(
                        f"{frame_file} {fmt} {width} {height} {out_h} {out_w} {channels} "
                        f"{dtype} {crop} {out}"
                    )
                    shape = (1, out_h, out_w, channels)
                    expected.append((out, frame_tensor(host, dtype, shape, crop=bool(crop))))
    answers = _run_jobs(tool, jobs)
    for job, answer, (out, want) in zip(jobs, answers, expected, strict=True):
        assert answer == "ok", (job, answer)
        got = np.frombuffer(out.read_bytes(), dtype=want.dtype).reshape(want.shape)
        mismatch = np.argwhere(got != want)
        assert mismatch.size == 0, f"{job}: {len(mismatch)} bytes differ, first at {mismatch[0]}"
    return len(jobs)


def test_device_preprocessing_is_bit_exact_on_synthetic_frames(
    frame_prep: Path, tmp_path: Path
) -> None:
    frames = [(f"s{w}x{h}", _synthetic(w, h, seed=w * h)) for w, h in FRAME_SIZES]
    assert _compare(frame_prep, tmp_path, frames) == len(FRAME_SIZES) * 4 * len(INPUTS) * 2


def _person_frames(folder: Path) -> list[tuple[str, np.ndarray]]:
    """TFLM's 96x96 test pictures (int8 = pixel - 128) inside camera-sized frames: scaled 1.5x
    into the middle of a QCIF frame (what the crop takes) with noise around it."""
    frames = []
    for label in ("person", "no_person"):
        tensor = load_input(folder / f"{label}.bmp", "int8", (1, 96, 96, 1))
        natural = (tensor.astype(np.int16) + 128).astype(np.uint8).reshape(96, 96, 1)
        frame = _synthetic(176, 144, seed=len(label))
        frame[:, 16:160] = fit(natural, 144, 144, 3)
        frames.append((f"{folder.parent.name}-{label}", frame))
    return frames


def test_device_preprocessing_is_bit_exact_on_person_images(
    frame_prep: Path, tmp_path: Path
) -> None:
    frames = _person_frames(paths.examples_dir() / "person_detection")
    shared = paths.shared_models_dir() / "images"
    if shared.is_dir():
        frames += _person_frames(shared)
    assert _compare(frame_prep, tmp_path, frames) == len(frames) * 4 * len(INPUTS) * 2


def test_the_crop_and_the_area_average_are_what_they_say() -> None:
    """Independent of the device: the numbers the bit-exact comparisons rest on."""
    assert crop_box(144, 176, 96, 96) == (0, 16, 144, 144)  # QCIF: the centred square
    assert crop_box(120, 160, 96, 96) == (0, 20, 120, 120)  # QQVGA
    assert crop_box(96, 96, 48, 96) == (24, 0, 48, 96)  # taller than the model: rows cut
    pixels = _synthetic(176, 144, seed=1)
    square = frame_tensor(pixels[:, :, :1], "uint8", (1, 96, 96, 1))
    stretched = frame_tensor(pixels[:, :, :1], "uint8", (1, 96, 96, 1), crop=False)
    assert not np.array_equal(square, stretched)
    # The crop's 144 rows -> 96: each output pixel is the mean of a 1.5 x 1.5 input area.
    area = pixels[:, 16:160, 0].astype(np.float64)
    x = np.repeat(area, 2, 0)[:, :].reshape(96, 3, 144).mean(1)
    mean = np.repeat(x, 2, 1).reshape(96, 96, 3).mean(2)
    assert np.abs(square.reshape(96, 96) - mean).max() <= 0.5 + 1e-9
    as_int8 = frame_tensor(pixels[:, :, :1], "int8", (1, 96, 96, 1))
    assert np.array_equal(as_int8.astype(int), square.astype(int) - 128)


def test_device_refuses_what_is_not_an_8_bit_image(frame_prep: Path, tmp_path: Path) -> None:
    frame = tmp_path / "f.raw"
    frame.write_bytes(bytes(176 * 144))
    out = tmp_path / "o.bin"
    answers = _run_jobs(
        frame_prep,
        [
            f"{frame} gray8 176 144 96 96 1 float32 1 {out}",  # not an 8-bit input
            f"{frame} gray8 176 144 96 96 2 int8 1 {out}",  # 2 channels
            f"{frame} rgb888 176 144 96 96 1 int8 1 {out}",  # frame shorter than its size
        ],
    )
    assert answers == [
        "error UnsupportedType",
        "error ShapeMismatch",
        "error InvalidArgument",
    ]
