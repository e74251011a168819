"""The runtime ports (md/port.h) on their targets: serial read timeout, echo, a clock that never
goes back, exit code. Built as a bare PlatformIO project with only port.h + port.cc, so this
checks the port and our platforms independently of the rest of the runtime."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from microdeploy import paths
from microdeploy.boards import get_board
from microdeploy.pio import core as pio_core
from microdeploy.project.generate import board_json

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parent / "data"
QEMU = ["qemu-system-arm", "-nographic", "-semihosting-config", "enable=on,target=native"]
# Every emulated Cortex-M board: M4F (hard float), M3 (soft float), M7 (double-precision FPU).
EMULATED = ["mps2-an386", "mps2-an385", "mps2-an500"]


def _build_port_check(tmp_path: Path, board_name: str) -> Path:
    board = get_board(board_name)
    project = tmp_path / f"port_{board.port}"
    (project / "src" / "md").mkdir(parents=True)
    md_src = paths.runtime_dir() / "src" / "md"
    shutil.copy(md_src / "port.h", project / "src" / "md" / "port.h")
    shutil.copy(md_src / "ports" / board.port / "port.cc", project / "src" / "port.cc")
    shutil.copy(DATA / "port_check_main.cpp", project / "src" / "main.cpp")
    lines = ["[platformio]", f"core_dir = {pio_core.core_dir()}"]
    env = [
        f"[env:{board.name}]",
        f"platform = symlink://{pio_core.platform_dir(board.platformio.platform)}",
        "build_flags = -Isrc -Wall -Wextra -Werror",
    ]
    if not board.is_native:
        lines.append("boards_dir = boards")
        env.append(f"board = {board.platformio.board}")
        (project / "boards").mkdir()
        (project / "boards" / f"{board.platformio.board}.json").write_text(board_json(board))
    (project / "platformio.ini").write_text("\n".join(lines + env) + "\n")
    pio_core.ensure_core()
    proc = subprocess.run(
        pio_core.pio_command("run", "-d", str(project)),
        capture_output=True,
        text=True,
        env=pio_core.pio_environment(),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    build = project / ".pio" / "build" / board.name
    return build / ("program" if board.is_native else "firmware.elf")


def _converse(command: list[str]) -> tuple[str, int]:
    """Waits for the timeout line, then sends text and closes the line; returns all output."""
    proc = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdin is not None and proc.stdout is not None
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("timeout"):
                break
        proc.stdin.write("hello end.")
        proc.stdin.flush()
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    return "".join(seen) + out, proc.returncode


def _check(output: str, clock: str, hz: int) -> None:
    assert f"clock={clock} hz={hz}" in output
    timeout = re.search(r"timeout n=(-?\d+) ms=(\d+)", output)
    assert timeout, output
    assert timeout.group(1) == "0"
    assert 100 <= int(timeout.group(2)) <= 150
    assert "echo=hello end." in output
    assert "backwards=0" in output


def test_native_port(tmp_path: Path) -> None:
    program = _build_port_check(tmp_path, "native")
    output, code = _converse([str(program)])
    assert code == 5
    _check(output, "steady_clock", 1000000)


@pytest.mark.qemu
@pytest.mark.parametrize("board", EMULATED)
@pytest.mark.parametrize("icount", [[], ["-icount", "shift=0"]], ids=["realtime", "icount"])
def test_mps2_port_under_qemu(tmp_path: Path, icount: list[str], board: str) -> None:
    if shutil.which("qemu-system-arm") is None:
        pytest.skip("qemu-system-arm is not installed")
    firmware = _build_port_check(tmp_path, board)
    machine = ["-M", get_board(board).qemu.machine]  # type: ignore[union-attr]
    output, code = _converse([*QEMU, *machine, *icount, "-kernel", str(firmware)])
    assert code == 5, output
    _check(output, "systick", 25000000)
