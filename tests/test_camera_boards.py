"""Board definitions' [camera] tables and what `init --input camera` writes for the real camera
boards (no build: their SDKs are not here; tests/test_camera_drivers.py compiles the drivers)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import run_cli
from host_boards import host_camera_board

from microdeploy.boards import get_board
from microdeploy.camera import frame_storage
from microdeploy.errors import BoardError
from microdeploy.project.generate import init_project


def test_boards_json_names_each_boards_camera() -> None:
    result = run_cli("boards", "--json")
    assert result.code == 0, result.stderr
    cameras = {b["name"]: b["camera"] for b in json.loads(result.stdout)}
    assert cameras["native"] == "native_frames 176x144 grayscale"
    assert cameras["nano33ble-sense-tinyml-kit"] == "ov767x 176x144 grayscale"
    assert cameras["esp32-s3-eye"] == "esp32_camera 176x144 grayscale"
    assert cameras["mps2-an386"] is None and cameras["nano33ble-sense"] is None


def _table(resolution: str = "qcif", fmt: str = "grayscale", driver: str = "native_frames") -> str:
    return f'driver = "{driver}"\nresolution = "{resolution}"\npixel_format = "{fmt}"'


@pytest.mark.parametrize(
    ("camera", "field", "problem"),
    [
        (_table(driver="ov9999"), "driver", "one of"),
        (_table(driver="ov767x"), "driver", "port"),
        (_table(resolution="huge"), "resolution", "WxH"),
        (_table(resolution="0x10"), "resolution", "WxH"),
        (_table(fmt="yuv"), "pixel_format", "one of"),
        (_table() + "\nzoom = 2", "zoom", "not a known"),
        (_table() + "\ncrop = 1", "crop", "must be"),
    ],
)
def test_bad_camera_tables_name_the_file_and_field(
    camera: str, field: str, problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cam.toml").write_text(host_camera_board("cam", camera))
    monkeypatch.setenv("MICRODEPLOY_BOARD_PATH", str(tmp_path))
    with pytest.raises(BoardError) as info:
        get_board("cam")
    assert "cam.toml" in info.value.message and f"'camera.{field}'" in info.value.message
    assert problem in info.value.message


def test_odd_sizes_and_no_crop_reach_the_build_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    camera = (
        'driver = "native_frames"\nresolution = "131x97"\npixel_format = "rgb565le"\ncrop = false'
    )
    (tmp_path / "cam.toml").write_text(host_camera_board("cam", camera))
    monkeypatch.setenv("MICRODEPLOY_BOARD_PATH", str(tmp_path))
    init_project(tmp_path / "p", "cam", example="person_detection", input_kind="camera")
    ini = (tmp_path / "p" / "platformio.ini").read_text()
    for flag in ("WIDTH=131", "HEIGHT=97", "FORMAT=kRgb565Le", "CROP=0"):
        assert f"-DMD_CAMERA_{flag}" in ini


def test_tinyml_kit_project_gets_the_library_and_the_ov767x_driver(tmp_path: Path) -> None:
    project = tmp_path / "kit"
    init_project(
        project, "nano33ble-sense-tinyml-kit", example="person_detection", input_kind="camera"
    )
    ini = (project / "platformio.ini").read_text()
    assert "lib_deps = Harvard_TinyMLx" in ini
    assert "-DMD_CAMERA_FPS=5" in ini and "-DMD_CAMERA_FORMAT=kGray8" in ini
    drivers = sorted(p.name for p in (project / "lib/md_runtime/src/md/camera").iterdir())
    assert drivers == [
        "camera.cc",
        "camera.h",
        "camera_input.cc",
        "camera_input.h",
        "driver_state.h",
        "frame_prep.cc",
        "frame_prep.h",
        "ov767x",
    ]
    assert "md::camera::CameraInput" in (project / "src" / "main.cpp").read_text()
    manifest = json.loads((project / "microdeploy.json").read_text())
    assert manifest["input"] == "camera" and manifest["camera"]["driver"] == "ov767x"


def test_esp32_s3_eye_project_asks_the_component_manager_for_esp32_camera(tmp_path: Path) -> None:
    project = tmp_path / "eye"
    init_project(project, "esp32-s3-eye", example="person_detection", input_kind="camera")
    component = (project / "src" / "idf_component.yml").read_text()
    assert 'espressif/esp32-camera: "^2.0.15"' in component
    ini = (project / "platformio.ini").read_text()
    assert "-DMD_CAMERA_PIN_XCLK=15" in ini and "-DMD_CAMERA_FB_IN_DRAM" in ini
    assert "lib_deps" not in ini
    assert (project / "lib/md_runtime/src/md/camera/esp32_camera/camera.cc").is_file()


def test_serial_projects_are_unchanged_by_the_camera(tmp_path: Path) -> None:
    """The default stays the serial application: no camera sources, flags or main."""
    project = tmp_path / "kit"
    init_project(project, "nano33ble-sense-tinyml-kit", example="person_detection")
    assert not (project / "lib/md_runtime/src/md/camera").exists()
    ini = (project / "platformio.ini").read_text()
    assert "MD_CAMERA" not in ini and "lib_deps" not in ini
    assert "camera" not in (project / "src" / "main.cpp").read_text()
    assert json.loads((project / "microdeploy.json").read_text())["input"] == "serial"


def test_inspect_of_a_camera_project_counts_its_frame_buffer(tmp_path: Path) -> None:
    """Before any build, `inspect PROJECT` estimates the RAM of the firmware `build` would make:
    the OV767X driver's static frame buffer included (the serial app has none)."""
    board = get_board("nano33ble-sense-tinyml-kit")
    assert board.camera is not None
    ram = {}
    for kind in ("serial", "camera"):
        init_project(tmp_path / kind, board.name, example="person_detection", input_kind=kind)
        result = run_cli("inspect", str(tmp_path / kind), "--json", "--no-runtime")
        assert result.code == 0, result.stderr
        report = json.loads(result.stdout)
        assert report["fit_source"] != "build"
        ram[kind] = report["ram_needed"]
    frame = board.camera.width * board.camera.height  # grayscale: a byte a pixel
    assert ram["camera"] - ram["serial"] == frame


def test_frame_storage_by_driver() -> None:
    entry = {"width": 10, "height": 4, "pixel_format": "rgb565", "frames": 3}
    assert frame_storage({**entry, "driver": "ov767x"}) == (80, 0)
    assert frame_storage({**entry, "driver": "native_frames"}) == (80, 0)
    assert frame_storage({**entry, "driver": "embedded_frames"}) == (0, 240)  # in flash
    assert frame_storage({**entry, "driver": "esp32_camera"}) == (0, 0)  # the IDF driver's own
    assert frame_storage({**entry, "pixel_format": "rgb888", "driver": "ov767x"}) == (120, 0)
