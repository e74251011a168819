"""`microdeploy build` on both boards: firmware, size figures, budgets, compiler errors, and the
built program's outputs compared bit-exactly with TFLM's Python interpreter."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli

from microdeploy import paths
from microdeploy.build import BuildFailed, build_project
from microdeploy.errors import BuildError
from microdeploy.model.reader import read_model
from microdeploy.project.generate import init_project
from microdeploy.protocol.codec import Record, RecordParser, b64decode

pytestmark = pytest.mark.slow

HELLO = paths.examples_dir() / "hello_world"
QEMU = [
    "qemu-system-arm",
    "-nographic",
    "-semihosting-config",
    "enable=on,target=native",
    "-icount",
    "shift=0",
]


def _tflm_outputs(model: Path, inputs: list[np.ndarray]) -> list[list[int]]:
    reference = pytest.importorskip("microdeploy.reference")
    try:
        outs = reference.tflm_run(model.read_bytes(), inputs)
    except ImportError:
        pytest.skip("tflite-micro is not installed")
    return [np.asarray(o).reshape(-1).tolist() for o in outs]


# The generated main.cpp speaks the serial protocol (docs/protocol.md): ask it for one inference
# with its output tensors, then tell it to end the program.
_RUN_AND_EXIT = "run out=1\nexit\n"


def _printed_outputs(text: str) -> list[list[int]]:
    """Values of the output tensors in the `out`/`dat` records the firmware answered with."""
    outputs: list[tuple[Record, bytearray]] = []
    for item in RecordParser().feed(text.encode()):
        if isinstance(item, Record) and item.type == "out":
            outputs.append((item, bytearray()))
        elif isinstance(item, Record) and item.type == "dat" and outputs:
            outputs[-1][1].extend(b64decode(item.text("b64")))
    assert outputs, f"no output records in:\n{text}"
    return [
        np.frombuffer(bytes(data), np.dtype(out.text("type"))).tolist() for out, data in outputs
    ]


def _run_native(firmware: Path) -> str:
    proc = subprocess.run(
        [str(firmware)], capture_output=True, text=True, timeout=60, input=_RUN_AND_EXIT
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _run_qemu(firmware: Path, machine: str = "mps2-an386") -> str:
    if shutil.which("qemu-system-arm") is None:
        pytest.skip("qemu-system-arm is not installed")
    proc = subprocess.run(
        # UART0 straight on stdio (no monitor multiplexer, which holds typed input back)
        [*QEMU, "-M", machine, "-monitor", "none", "-serial", "stdio", "-kernel", str(firmware)],
        capture_output=True,
        text=True,
        timeout=300,
        input=_RUN_AND_EXIT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _arm_size(elf: Path) -> tuple[int, int, int]:
    proc = subprocess.run(
        ["arm-none-eabi-size", str(elf)], capture_output=True, text=True, check=True
    )
    text, data, bss = (int(v) for v in proc.stdout.splitlines()[1].split()[:3])
    return text, data, bss


def _build_json(project: Path) -> dict:
    result = run_cli("build", str(project), "--json")
    assert result.code == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def _hello_input() -> np.ndarray:
    return np.frombuffer((HELLO / "input.bin").read_bytes(), np.int8).reshape(1, -1)


def test_native_hello_world_builds_and_matches_tflm(tmp_path: Path) -> None:
    project = tmp_path / "hello"
    init_project(project, "native", example="hello_world")
    report = _build_json(project)
    firmware = Path(report["firmware"])
    assert firmware.is_file() and firmware.name == "program"
    assert report["flash_budget"] is None and report["ram_budget"] is None
    size = subprocess.run(["size", str(firmware)], capture_output=True, text=True, check=True)
    text, data, bss = (int(v) for v in size.stdout.splitlines()[1].split()[:3])
    assert (report["flash_bytes"], report["ram_bytes"]) == (text + data, data + bss)
    printed = _printed_outputs(_run_native(firmware))
    assert printed == _tflm_outputs(HELLO / "model.tflite", [_hello_input()])


def test_mps2_hello_world_size_matches_arm_size_and_runs_in_qemu(tmp_path: Path) -> None:
    project = tmp_path / "hello"
    init_project(project, "mps2-an386", example="hello_world")
    report = _build_json(project)
    elf = Path(report["firmware"])
    assert elf.name == "firmware.elf" and elf.is_file()
    assert (elf.parent / "firmware.bin").is_file() and (elf.parent / "firmware.map").is_file()
    text, data, bss = _arm_size(elf)
    assert report["flash_bytes"] == text + data
    assert report["ram_bytes"] == data + bss
    assert (report["flash_budget"], report["ram_budget"]) == (1048576, 262144)
    output = _run_qemu(elf)
    assert "clock=systick hz=25000000" in output
    assert _printed_outputs(output) == _tflm_outputs(HELLO / "model.tflite", [_hello_input()])


@pytest.mark.parametrize("board", ["native", "mps2-an386"])
def test_person_detect_builds_and_matches_tflm(
    tmp_path: Path, shared_models: Path, board: str
) -> None:
    model = shared_models / "tflm" / "person_detect.tflite"
    project = tmp_path / "person"
    init_project(project, board, model=model)
    report = _build_json(project)
    firmware = Path(report["firmware"])
    assert report["flash_bytes"] > model.stat().st_size  # the model is in flash
    if board == "native":
        output = _run_native(firmware)
    else:
        assert (report["flash_bytes"], report["ram_bytes"]) == (lambda t, d, b: (t + d, d + b))(
            *_arm_size(firmware)
        )
        output = _run_qemu(firmware)
    zeros = [np.zeros(t.shape, t.dtype) for t in read_model(model).inputs]
    assert _printed_outputs(output) == _tflm_outputs(model, zeros)


TINY_BOARD = """\
name = "{name}"
description = "a Cortex-M4F with a tiny budget (test fixture)"
mcu = "cortex-m4f"
core = "cortex-m4"
fpu = "fpv4-sp-d16"
clock_hz = 25000000
ram_bytes = {ram}
flash_bytes = {flash}
port = "mps2"
clock_source = "systick"

[memory]
flash_origin = 0
ram_origin = 0x20000000

[platformio]
platform = "md-cortexm"
board = "{name}"
framework = ""

[qemu]
machine = "mps2-an386"

[upload]
protocol = "qemu"
"""


@pytest.mark.parametrize(
    ("flash", "ram", "what", "budget"),
    [(16384, 262144, "flash", 16384), (1048576, 12288, "RAM", 12288)],
)
def test_over_budget_build_fails_naming_the_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flash: int, ram: int, what: str, budget: int
) -> None:
    boards = tmp_path / "boards"
    boards.mkdir()
    board_file = boards / "tiny-m4.toml"
    board_file.write_text(TINY_BOARD.format(name="tiny-m4", flash=flash, ram=ram))
    monkeypatch.setenv("MICRODEPLOY_BOARD_PATH", str(boards))
    project = tmp_path / "proj"
    init_project(project, "tiny-m4", example="hello_world")
    with pytest.raises(BuildError) as info:
        build_project(project)
    message = info.value.message
    assert f"{what} budget" in message and f"{budget} bytes" in message
    assert str(board_file) in message
    # The CLI says the same as one error line, no traceback.
    result = run_cli("build", str(project), env={"MICRODEPLOY_BOARD_PATH": str(boards)})
    assert result.code == 1
    assert f"error: firmware does not fit the {what} budget" in result.stderr
    assert "Traceback" not in result.stderr


def test_compiler_errors_are_shown_as_the_compilers_lines(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    init_project(project, "native", example="hello_world")
    main_cpp = project / "src/main.cpp"
    main_cpp.write_text(main_cpp.read_text() + "\nint broken( {\n")
    with pytest.raises(BuildFailed) as info:
        build_project(project)
    assert any("src/main.cpp:" in line and "error:" in line for line in info.value.compiler_lines)
    result = run_cli("build", str(project))
    assert result.code == 1
    assert re.search(r"src/main\.cpp:\d+:\d+: error:", result.stderr)
    assert "error: build failed with" in result.stderr
    assert "Traceback" not in result.stderr


def test_build_of_a_missing_project_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli("build", str(tmp_path / "nothing"))
    assert result.code == 1
    assert result.stderr.startswith("error: ") and "does not exist" in result.stderr


def test_project_for_another_core_dir_asks_for_init_instead_of_hanging(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    init_project(project, "native", example="hello_world")
    ini = project / "platformio.ini"
    ini.write_text(
        re.sub(r"^core_dir = .*$", "core_dir = /nonexistent/core", ini.read_text(), flags=re.M)
    )
    result = run_cli("build", str(project), timeout=30)
    assert result.code == 1
    assert "/nonexistent/core" in result.stderr and "microdeploy init" in result.stderr


def test_verbose_build_streams_platformio_output(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    init_project(project, "native", example="hello_world")
    result = run_cli("build", str(project), "--verbose", "--json")
    assert result.code == 0, result.stderr
    assert "Linking .pio/build/native/program" in result.stderr
    assert json.loads(result.stdout)["firmware"].endswith("program")
