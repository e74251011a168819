"""The camera drivers of real boards, where their SDKs cannot be installed: each compiles with
the runtime's flags (C++17, -Wall -Wextra -Werror, no exceptions/RTTI) and the board
definition's camera flags against stand-in headers that declare the real APIs
(tests/port_stubs/arduino/Arduino_OV767X_TinyMLx.h, tests/port_stubs/espidf/esp_camera.h), then
runs against a simulated sensor (tests/port_stubs/camera/): what the driver asks the SDK (size,
format, frame rate, pins), the frames it hands out, refusals and errors. This checks our code
against the API as declared there; it is no proof that the boards work (docs/camera.md)."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

from microdeploy import paths
from microdeploy.boards import get_board

STUBS = Path(__file__).resolve().parent / "port_stubs"
SRC = paths.runtime_dir() / "src"
CAMERA = SRC / "md" / "camera"
FLAGS = ["-std=c++17", "-Wall", "-Wextra", "-Werror", "-fno-exceptions", "-fno-rtti"]
COMMON = [
    CAMERA / "camera.cc",
    CAMERA / "frame_prep.cc",
    SRC / "md" / "status.cc",
    SRC / "md" / "types.cc",
    STUBS / "camera" / "camera_sim_main.cc",
]
DRIVERS = {
    # driver: (board that uses it, its extra sources, its include folders)
    "ov767x": (
        "nano33ble-sense-tinyml-kit",
        [
            STUBS / "camera" / "ov767x_sim.cc",
            STUBS / "arduino" / "arduino_sim.cc",
            STUBS / "sim.cc",
        ],
        [STUBS / "arduino"],
    ),
    "esp32_camera": ("esp32-s3-eye", [STUBS / "camera" / "esp32_sim.cc"], [STUBS / "espidf"]),
}
# (driver, resolution, pixel format, simulator arguments, expected Begin() status)
CASES = [
    ("ov767x", "qcif", "grayscale", [], "Ok"),
    ("ov767x", "qqvga", "rgb565", [], "Ok"),
    ("ov767x", "96x96", "grayscale", [], "Unsupported"),
    ("ov767x", "qcif", "rgb888", [], "Unsupported"),
    ("ov767x", "qcif", "grayscale", ["fail_begin"], "DeviceError"),
    ("esp32_camera", "qcif", "grayscale", [], "Ok"),
    ("esp32_camera", "qqvga", "rgb565", [], "Ok"),
    ("esp32_camera", "cif", "grayscale", [], "Unsupported"),  # esp32-camera's CIF is 400x296
    ("esp32_camera", "qcif", "grayscale", ["fail_begin"], "DeviceError"),
    ("esp32_camera", "qcif", "grayscale", ["sensor_width=160"], "Ok"),
]


def _gxx() -> str:
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("g++ is not installed")
    return gxx


@pytest.mark.parametrize(("driver", "resolution", "fmt", "args", "status"), CASES)
def test_camera_driver_against_its_simulated_sdk(
    driver: str, resolution: str, fmt: str, args: list[str], status: str, tmp_path: Path
) -> None:
    from microdeploy.camera import RESOLUTIONS

    board_name, sources, includes = DRIVERS[driver]
    camera = get_board(board_name).camera
    assert camera is not None and camera.driver == driver
    width, height = RESOLUTIONS[resolution]
    spec = dataclasses.replace(camera, width=width, height=height, pixel_format=fmt)
    program = tmp_path / "camera_sim"
    include_flags = [f"-I{p}" for p in (SRC, STUBS, STUBS / "camera", *includes)]
    build = subprocess.run(
        [
            _gxx(),
            *FLAGS,
            *spec.build_defines(),
            *include_flags,
            *map(str, [CAMERA / driver / "camera.cc", *COMMON, *sources]),
            "-o",
            str(program),
        ],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(program), status, *args], capture_output=True, text=True, timeout=60)
    failures = [line for line in run.stdout.splitlines() if line.startswith("FAIL")]
    assert run.returncode == 0 and not failures, run.stdout + run.stderr
    assert "PASS begin_status" in run.stdout
    if status == "Ok" and not args:
        assert "PASS frame_bytes_are_the_sensors" in run.stdout
        assert "PASS sdk_request" in run.stdout


def test_esp32_driver_refuses_to_build_without_pins(tmp_path: Path) -> None:
    """A board definition that forgot the sensor's pins gets a compile error that says so."""
    camera = get_board("esp32-s3-eye").camera
    assert camera is not None
    spec = dataclasses.replace(camera, defines=())
    build = subprocess.run(
        [
            _gxx(),
            *FLAGS,
            *spec.build_defines(),
            *[f"-I{p}" for p in (SRC, STUBS / "espidf")],
            "-c",
            str(CAMERA / "esp32_camera" / "camera.cc"),
            "-o",
            str(tmp_path / "x.o"),
        ],
        capture_output=True,
        text=True,
    )
    assert build.returncode != 0 and "MD_CAMERA_PIN_" in build.stderr
