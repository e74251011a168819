"""The camera application on the emulated Cortex-M4 (QEMU mps2-an386), which has no sensor:
`init --input camera --camera-frames DIR` compiles the frames in (driver embedded_frames) and
the firmware replays them through the device's own preprocessing, built by arm-none-eabi-gcc.
Every score must equal TFLM's on the same frame preprocessed by the host, bit for bit: grey QCIF
frames (32-bit sums) and odd-sized RGB frames turned grey by the device's luma (64-bit sums).
Also the refusals of --camera-frames (no QEMU needed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli
from test_camera_native import EXAMPLE, _check_frames, _frames

from microdeploy import paths, reference
from microdeploy.build import build_project
from microdeploy.device.flash import flash, stop_device
from microdeploy.device.hil import resolve_port
from microdeploy.project.generate import init_project
from microdeploy.protocol.session import Device


def _ppm(pixels: np.ndarray) -> bytes:
    height, width = pixels.shape[:2]
    return f"P6\n{width} {height}\n255\n".encode() + pixels.tobytes()


def _rgb_frames(folder: Path) -> list[np.ndarray]:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(7)
    frames = [rng.integers(0, 256, (97, 131, 3), dtype=np.uint8) for _ in range(2)]
    for i, frame in enumerate(frames):
        (folder / f"{i}.ppm").write_bytes(_ppm(frame))
    return frames


@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.parametrize("kind", ["grey_qcif", "rgb_131x97", "person_detect"])
def test_camera_path_on_the_emulated_cortex_m4_matches_tflm(kind: str, tmp_path: Path) -> None:
    if shutil.which("qemu-system-arm") is None:
        pytest.skip("qemu-system-arm is not installed (apt-get install qemu-system-arm)")
    if not reference.available():
        pytest.skip("tflite-micro (the TFLM reference) is not installed")
    folder = tmp_path / "frames"
    model_source: dict[str, object] = {"example": "person_detection"}
    if kind == "grey_qcif":
        frames = _frames(folder, [EXAMPLE / "person.bmp", EXAMPLE / "no_person.bmp"])
    elif kind == "rgb_131x97":
        frames = _rgb_frames(folder)
    else:  # TFLM's own model and pictures, when ../shared is there
        shared = paths.shared_models_dir()
        if not (shared / "tflm" / "person_detect.tflite").is_file():
            pytest.skip(f"reference models folder {shared} is absent")
        pictures = [shared / "images" / f"{label}.bmp" for label in ("person", "no_person")]
        frames = _frames(folder, pictures)
        model_source = {"model": shared / "tflm" / "person_detect.tflite"}
    project = tmp_path / "cam"
    init_project(project, "mps2-an386", input_kind="camera", camera_frames=folder, **model_source)
    build_project(project)
    model = (project / "model" / "model.tflite").read_bytes()
    flash(project)
    try:
        with Device.open(resolve_port(project, None)) as device:
            assert device.info().ready
            scores = _check_frames(device, model, frames, rounds=1, source="embedded_frames")
    finally:
        stop_device(project)
    if kind != "rgb_131x97":  # the person picture, then the no-person one
        assert int(np.argmax(scores[0])) == 1 and int(np.argmax(scores[1])) == 0


def _pgm(width: int, height: int) -> bytes:
    return f"P5\n{width} {height}\n255\n".encode() + bytes(width * height)


def test_camera_frames_refusals_are_one_line(tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "a.pgm").write_bytes(_pgm(176, 144))
    (frames / "b.pgm").write_bytes(_pgm(160, 120))
    base = ["init", "--board", "mps2-an386", "--example", "person_detection"]
    cases = [
        ([*base, "--camera-frames", str(frames)], "--camera-frames goes with --input camera"),
        (
            [*base, "--input", "camera", "--camera-frames", str(frames)],
            "b.pgm is 160x120 grayscale, the first frame 176x144 grayscale",
        ),
        ([*base, "--input", "camera", "--camera-frames", str(tmp_path / "no")], "is not a folder"),
    ]
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "x.raw").write_bytes(bytes(10))
    cases.append(
        (
            [*base, "--input", "camera", "--camera-frames", str(tmp_path / "raw")],
            "needs the board's camera",
        )
    )
    for i, (args, message) in enumerate(cases):
        result = run_cli(args[0], str(tmp_path / f"p{i}"), *args[1:])
        assert result.code != 0 and "Traceback" not in result.stderr + result.stdout
        assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr
        assert "hint: " in result.stderr


def test_camera_frames_on_the_native_board_override_its_sensor(tmp_path: Path) -> None:
    """A board with a camera replays compiled-in frames instead when given --camera-frames."""
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "a.pgm").write_bytes(_pgm(160, 120))
    result = init_project(
        tmp_path / "p",
        "native",
        example="person_detection",
        input_kind="camera",
        camera_frames=frames,
    )
    assert result.camera is not None and result.camera.driver == "embedded_frames"
    assert (result.camera.width, result.camera.height) == (160, 120)
    ini = (tmp_path / "p" / "platformio.ini").read_text()
    assert "-DMD_CAMERA_WIDTH=160 -DMD_CAMERA_HEIGHT=120" in ini
    assert (tmp_path / "p" / "lib/md_runtime/src/md/camera/embedded_frames/camera.cc").is_file()
    assert not (tmp_path / "p" / "lib/md_runtime/src/md/camera/native_frames").exists()
    source = (tmp_path / "p" / "src" / "md_camera_frames.cpp").read_text()
    assert "g_md_camera_frame_count = 1;" in source
