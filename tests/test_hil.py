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
