"""The camera application end to end on the native target: `init --input camera` -> build ->
flash with MD_CAMERA_FRAMES -> each `run` captures the next frame file, preprocesses it on the
device and runs the model. The device's scores must equal TFLM's on the same frame preprocessed
by the host (images.frame_tensor), bit for bit; the `frame` records describe the frames; the
host's own input (`run -i`) still wins for the run after it. Our example model always; the real
tflm/person_detect from ../shared when present (it must also classify TFLM's pictures)."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli
from host_boards import host_camera_board

from microdeploy import paths, reference
from microdeploy.build import build_project
from microdeploy.device.flash import flash, stop_device
from microdeploy.device.hil import resolve_port
from microdeploy.device.inputs import load_input
from microdeploy.images import expand_rgb565, fit, frame_tensor
from microdeploy.model.reader import read_model
from microdeploy.project.generate import init_project
from microdeploy.protocol.codec import Record
from microdeploy.protocol.session import Device

pytestmark = pytest.mark.slow
LABELS = ("no_person", "person")
EXAMPLE = paths.examples_dir() / "person_detection"
RGB565_BOARD = host_camera_board(
    "camboard",
    'driver = "native_frames"\nresolution = "qqvga"\npixel_format = "rgb565"',
    description="test board: the host with an RGB565 QQVGA camera",
)


def _needs_tflm() -> None:
    if not reference.available():
        pytest.skip("tflite-micro (the TFLM reference) is not installed")


def _pgm(pixels: np.ndarray) -> bytes:
    height, width = pixels.shape[:2]
    return f"P5\n# frame\n{width} {height}\n255\n".encode() + pixels.tobytes()


def _person_frame(picture: Path, seed: int) -> np.ndarray:
    """A 96x96 TFLM-style picture (int8 = pixel - 128) scaled into the middle of a noisy QCIF
    grey frame, where the device's centred crop finds it."""
    tensor = load_input(picture, "int8", (1, 96, 96, 1))
    natural = (tensor.astype(np.int16) + 128).astype(np.uint8).reshape(96, 96, 1)
    frame = np.random.default_rng(seed).integers(0, 256, (144, 176, 1), dtype=np.uint8)
    frame[:, 16:160] = fit(natural, 144, 144, 1)
    return frame


def _frames(folder: Path, pictures: list[Path]) -> list[np.ndarray]:
    """Writes the frames (pictures in QCIF frames, then a noise frame) as PGM files in order."""
    folder.mkdir(parents=True, exist_ok=True)
    frames = [_person_frame(p, seed=i) for i, p in enumerate(pictures)]
    frames.append(np.random.default_rng(99).integers(0, 256, (144, 176, 1), dtype=np.uint8))
    for i, frame in enumerate(frames):
        (folder / f"frame{i:03d}.pgm").write_bytes(_pgm(frame))
    return frames


def _run_once(device: Device) -> tuple[dict[str, Record], np.ndarray]:
    """One `run` with its output: the frame/res/time records and output 0."""
    device.send("run", n=1, out=1)
    seen: dict[str, Record] = {}
    data = bytearray()
    while True:
        record = device.wait_for({"frame", "res", "time", "out", "dat", "done"}, 30, "a run")
        if record.type == "dat":
            data.extend(base64.b64decode(record.text("b64")))
        elif record.type == "done":
            return seen, np.frombuffer(bytes(data), dtype=np.int8)
        else:
            seen[record.type] = record


@pytest.fixture
def flashed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path, Path], Device]]:
    started: list[Path] = []

    def start(project: Path, frames: Path) -> Device:
        monkeypatch.setenv("MD_CAMERA_FRAMES", str(frames))
        flash(project)
        started.append(project)
        return Device.open(resolve_port(project, None))

    yield start
    for project in started:
        stop_device(project)


def _check_frames(
    device: Device,
    model: bytes,
    frames: list[np.ndarray],
    rounds: int,
    source: str = "native_frames",
) -> list:
    shape = read_model(model).inputs[0].shape
    info = device.info()
    assert info.ready
    scores = []
    for k in range(rounds * len(frames)):  # past the last frame the camera starts over
        frame = frames[k % len(frames)]
        records, output = _run_once(device)
        assert records["frame"].text("src") == source
        assert (records["frame"].int("w"), records["frame"].int("h")) == frame.shape[1::-1]
        assert records["frame"].int("i") == records["time"].int("i") == k
        (want,) = reference.tflm_run(model, [frame_tensor(frame, "int8", shape)])
        assert output.tolist() == want.reshape(-1).tolist(), f"frame {k % len(frames)}"
        scores.append(output.tolist())
    return scores


def test_example_camera_project_matches_tflm_on_every_frame(
    tmp_path: Path, flashed: Callable[[Path, Path], Device]
) -> None:
    _needs_tflm()
    project = tmp_path / "cam"
    init_project(project, "native", example="person_detection", input_kind="camera")
    build_project(project)
    pictures = [EXAMPLE / "person.bmp", EXAMPLE / "no_person.bmp"]
    frames = _frames(tmp_path / "frames", pictures)
    model = (project / "model" / "model.tflite").read_bytes()
    with flashed(project, tmp_path / "frames") as device:
        scores = _check_frames(device, model, frames, rounds=2)
        assert len({tuple(s) for s in scores}) > 1  # different frames, different scores
        # The host's picture wins for the run after its transfer, then the camera again.
        photo = load_input(EXAMPLE / "no_person.bmp", "int8", (1, 96, 96, 1))
        device.load_input(0, photo.tobytes())
        records, output = _run_once(device)
        assert "frame" not in records
        assert output.tolist() == reference.tflm_run(model, [photo])[0].reshape(-1).tolist()
        records, output = _run_once(device)
        assert records["frame"].int("i") == len(scores) + 1
    assert (project / "microdeploy.json").read_text().count('"input": "camera"') == 1


def test_rgb565_camera_goes_through_luma_on_the_device(
    tmp_path: Path, flashed: Callable[[Path, Path], Device], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A QQVGA RGB565 sensor (raw frames, high byte first) feeding the grey example model."""
    _needs_tflm()
    boards = tmp_path / "boards"
    boards.mkdir()
    (boards / "camboard.toml").write_text(RGB565_BOARD)
    monkeypatch.setenv("MICRODEPLOY_BOARD_PATH", str(boards))
    project = tmp_path / "cam565"
    init_project(project, "camboard", example="person_detection", input_kind="camera")
    build_project(project)
    folder = tmp_path / "raw"
    folder.mkdir()
    rng = np.random.default_rng(5)
    frames = []
    for i in range(3):
        raw = rng.integers(0, 256, 160 * 120 * 2, dtype=np.uint8).tobytes()
        (folder / f"{i}.raw").write_bytes(raw)
        frames.append(expand_rgb565(raw, 120, 160))
    model = (project / "model" / "model.tflite").read_bytes()
    with flashed(project, folder) as device:
        _check_frames(device, model, frames, rounds=1)


def test_real_person_detect_model_on_camera_frames(
    tmp_path: Path, flashed: Callable[[Path, Path], Device], shared_models: Path
) -> None:
    _needs_tflm()
    project = tmp_path / "real"
    init_project(
        project,
        "native",
        model=shared_models / "tflm" / "person_detect.tflite",
        app="image-classifier",
        labels=LABELS,
        input_kind="camera",
    )
    build_project(project)
    pictures = [shared_models / "images" / f"{label}.bmp" for label in ("person", "no_person")]
    frames = _frames(tmp_path / "frames", pictures)
    model = (project / "model" / "model.tflite").read_bytes()
    with flashed(project, tmp_path / "frames") as device:
        scores = _check_frames(device, model, frames, rounds=1)
    assert int(np.argmax(scores[0])) == 1 and int(np.argmax(scores[1])) == 0


def test_camera_errors_reach_the_host_as_records(
    tmp_path: Path, flashed: Callable[[Path, Path], Device]
) -> None:
    """A frame of the wrong size is named in an `err` record; the device keeps serving."""
    project = tmp_path / "cam"
    init_project(project, "native", example="person_detection", input_kind="camera")
    build_project(project)
    frames = tmp_path / "bad"
    frames.mkdir()
    (frames / "small.pgm").write_bytes(_pgm(np.zeros((120, 160, 1), np.uint8)))
    with flashed(project, frames) as device:
        device.send("run", n=1)
        err = device.wait_for({"done"}, 30, "run", errors_ok={"InputError"})
        assert err.type == "err"
        assert "160x120 gray8, the camera gives 176x144 gray8" in err.text("msg")
        assert device.wait_for({"done"}, 30, "done").int("n") == 0
        assert device.ping() >= 0


def test_init_camera_on_a_board_without_one_names_the_boards_with_one(tmp_path: Path) -> None:
    result = run_cli(
        "init",
        str(tmp_path / "p"),
        "--board",
        "mps2-an386",
        "--example",
        "person_detection",
        "--input",
        "camera",
    )
    assert result.code != 0 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "error: board 'mps2-an386' has no camera"
    assert lines[1].startswith("hint: boards with one: ") and "native" in lines[1]
    hello = run_cli(
        "init",
        str(tmp_path / "h"),
        "--board",
        "native",
        "--example",
        "hello_world",
        "--input",
        "camera",
    )
    assert hello.code != 0 and "needs one 8-bit image input" in hello.stderr


def test_monitor_shows_label_score_latency_and_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "cam"
    init_project(project, "native", example="person_detection", input_kind="camera")
    build_project(project)
    _frames(tmp_path / "frames", [EXAMPLE / "person.bmp"])
    monkeypatch.setenv("MD_CAMERA_FRAMES", str(tmp_path / "frames"))
    flash(project)
    try:
        result = run_cli("monitor", str(project), "--count", "2", "--interval", "100")
    finally:
        stop_device(project)
    assert result.code == 0, result.stdout + result.stderr
    assert "input    native_frames" in result.stdout
    assert "person: " in result.stdout and "latency" in result.stdout
    assert "176x144 gray8: capture " in result.stdout


def test_auto_runs_leave_the_hosts_input_alone_without_staging(
    tmp_path: Path, flashed: Callable[[Path, Path], Device]
) -> None:
    """Firmware without an input staging copy: while `auto` captures frames, a picture the host
    sends must still be what the next `run` infers on (auto runs wait for the host's turn)."""
    _needs_tflm()
    project = tmp_path / "cam"
    init_project(project, "native", example="person_detection", input_kind="camera")
    (project / "platformio_user.ini").write_text(
        "[user]\nbuild_src_flags = -DMD_NO_INPUT_STAGING\n"
    )
    build_project(project)
    _frames(tmp_path / "frames", [EXAMPLE / "person.bmp"])
    model = (project / "model" / "model.tflite").read_bytes()
    photo = load_input(EXAMPLE / "no_person.bmp", "int8", (1, 96, 96, 1))
    with flashed(project, tmp_path / "frames") as device:
        device.info()
        device.set_auto(10)
        device.wait_for({"frame"}, 30, "an auto run")
        device.load_input(0, photo.tobytes())
        time.sleep(0.3)  # dozens of auto periods
        _, output = _run_once(device)
        device.set_auto(0)
    assert output.tolist() == reference.tflm_run(model, [photo])[0].reshape(-1).tolist()
