"""Hardware-in-the-loop on a real board, the same check as the native/QEMU end-to-end tests:
init -> build -> flash (PlatformIO upload) -> run, outputs equal to TFLM's bit for bit.

    pytest tests/test_hil.py --board nano33ble --port /dev/ttyACM0

Skipped unless both --board and --port are given (CI has no board attached)."""

from __future__ import annotations

import json
import time

import pytest
from cli_helpers import run_cli

from microdeploy import paths
from microdeploy.boards import get_board

pytestmark = pytest.mark.hil


@pytest.fixture(scope="module")
def board_and_port(request: pytest.FixtureRequest) -> tuple[str, str]:
    board = request.config.getoption("--board")
    port = request.config.getoption("--port")
    if not board or not port:
        pytest.skip("no real board: run with --board NAME --port PORT")
    get_board(board)  # an unknown board name fails here, naming the board definitions
    return board, port


def test_real_board_matches_tflm(
    board_and_port: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    board, port = board_and_port
    project = tmp_path_factory.mktemp("hil") / "hello"
    created = run_cli("init", str(project), "--board", board, "--example", "hello_world")
    assert created.code == 0, created.stderr
    built = run_cli("build", str(project))
    assert built.code == 0, built.stdout + built.stderr
    flashed = run_cli("flash", str(project), "--port", port, timeout=300)
    assert flashed.code == 0, flashed.stdout + flashed.stderr
    time.sleep(2)  # boards that reset on upload need a moment before their port is back
    example_input = paths.examples_dir() / "hello_world" / "input.bin"
    result = run_cli(
        "run", str(project), "--port", port, "--input", str(example_input), "--json", timeout=120
    )
    assert result.code == 0, result.stdout + result.stderr
    (row,) = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert row["match"] is True and row["output"] == row["reference"]
    assert row["ticks"] > 0 and row["clock"]


def test_real_board_monitor_reports_timings(board_and_port: tuple[str, str]) -> None:
    _, port = board_and_port
    result = run_cli("monitor", "--port", port, "--json", "--count", "2", "--timeout", "30")
    assert result.code == 0, result.stdout + result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert sum(row["record"] == "time" for row in rows) >= 2
    assert [row for row in rows if row["record"] == "event"] == []  # a clean line


def test_real_camera_board_captures_and_still_matches_tflm(
    board_and_port: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """On a board with a camera (`[camera]`): the camera firmware reports captured frames of the
    configured size, and a picture sent by the host still gives TFLM's scores bit for bit."""
    board, port = board_and_port
    camera = get_board(board).camera
    if camera is None:
        pytest.skip(f"board {board} has no camera")
    project = tmp_path_factory.mktemp("hil") / "camera"
    created = run_cli(
        "init", str(project), "--board", board, "--example", "person_detection",
        "--input", "camera",
    )  # fmt: skip
    assert created.code == 0, created.stderr
    built = run_cli("build", str(project), timeout=1800)
    assert built.code == 0, built.stdout + built.stderr
    flashed = run_cli("flash", str(project), "--port", port, timeout=300)
    assert flashed.code == 0, flashed.stdout + flashed.stderr
    time.sleep(2)
    watched = run_cli(
        "monitor", "--port", port, "--json", "--count", "3", "--interval", "500",
        "--timeout", "60",
    )  # fmt: skip
    assert watched.code == 0, watched.stdout + watched.stderr
    rows = [json.loads(line) for line in watched.stdout.splitlines() if line.strip()]
    frames = [row for row in rows if row["record"] == "frame"]
    assert len(frames) >= 3, rows
    assert {(f["w"], f["h"]) for f in frames} == {(camera.width, camera.height)}
    picture = paths.examples_dir() / "person_detection" / "person.bmp"
    result = run_cli(
        "run", str(project), "--port", port, "--input", str(picture), "--json", timeout=120
    )
    assert result.code == 0, result.stdout + result.stderr
    (row,) = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert row["match"] is True
