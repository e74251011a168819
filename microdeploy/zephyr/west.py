"""`build` and `flash` of a Zephyr application through west.

Needs a Zephyr workspace: ZEPHYR_BASE naming a Zephyr tree and `west` on PATH (plus the Zephyr
SDK, which west build finds itself). When something is missing, the error says what and how to
get it, before anything runs. Flash and RAM used come from the linker's memory report that
Zephyr's build prints (`Memory region  Used Size  Region Size  %age Used`), so no size tool for
the board's architecture is needed.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from microdeploy.boards import Board
from microdeploy.errors import BuildError, DeviceError, ToolchainError
from microdeploy.streamed_process import run_streamed
from microdeploy.zephyr.project import BUILD_DIR

SETUP_HINT = (
    "set up a Zephyr workspace: pip install west && west init ~/zephyrproject && "
    "cd ~/zephyrproject && west update && west zephyr-export, install the Zephyr SDK, then "
    "export ZEPHYR_BASE=~/zephyrproject/zephyr"
)
_MEMORY_LINE = re.compile(
    r"^\s*(FLASH|RAM|SRAM|DTCM|IROM|DRAM|IRAM)\s*:\s*(\d+)\s*(B|KB|MB|GB)\s+(\d+)\s*(B|KB|MB|GB)"
)
_UNITS = {"B": 1, "KB": 1024, "MB": 1024 * 1024, "GB": 1024 * 1024 * 1024}


def check_workspace(env: dict[str, str] | None = None) -> tuple[str, Path]:
    """(west executable, ZEPHYR_BASE) or a ToolchainError naming exactly what is missing."""
    env = dict(os.environ) if env is None else env
    base = env.get("ZEPHYR_BASE", "")
    if not base:
        raise ToolchainError("ZEPHYR_BASE is not set (no Zephyr workspace)", hint=SETUP_HINT)
    zephyr = Path(base)
    if not (zephyr / "cmake" / "modules" / "zephyr_default.cmake").is_file():
        raise ToolchainError(
            f"ZEPHYR_BASE={base} is not a Zephyr tree (no cmake/modules/zephyr_default.cmake)",
            hint="point ZEPHYR_BASE at the zephyr/ folder of your west workspace; " + SETUP_HINT,
        )
    west = shutil.which("west", path=env.get("PATH"))
    if west is None:
        raise ToolchainError("west is not installed (not on PATH)", hint="pip install west")
    return west, zephyr


def memory_usage(lines: list[str]) -> dict[str, tuple[int, int]]:
    """Region -> (used, size) bytes from the linker's --print-memory-usage table."""
    usage: dict[str, tuple[int, int]] = {}
    for line in lines:
        match = _MEMORY_LINE.match(line)
        if match:
            used = int(match.group(2)) * _UNITS[match.group(3)]
            size = int(match.group(4)) * _UNITS[match.group(5)]
            usage[match.group(1)] = (used, size)
    return usage


def _run(command: list[str], on_line: Callable[[str], None] | None) -> tuple[int, list[str]]:
    try:
        return run_streamed(command, on_line)
    except OSError as exc:
        raise ToolchainError(f"cannot run {command[0]}: {exc.strerror}", hint=SETUP_HINT) from None


def build_project(project: Path, board: Board, on_line: Callable[[str], None] | None = None):
    """`west build -b BOARD -d PROJECT/build PROJECT`; returns a build.BuildResult."""
    from microdeploy.build import BuildFailed, BuildResult, SizeReport

    west, _ = check_workspace()
    started = time.monotonic()
    command = [west, "build", "-b", board.zephyr_board, "-d", str(project / BUILD_DIR)]
    returncode, lines = _run([*command, str(project)], on_line)
    if returncode != 0:
        errors = [line for line in lines if "error" in line.lower()]
        raise BuildFailed(
            f"west build failed (exit status {returncode})",
            hint=f"see the lines above; rerun `{' '.join(command)} {project}` for everything",
            compiler_lines=errors[-15:] or lines[-15:],
        )
    firmware = project / BUILD_DIR / "zephyr" / "zephyr.elf"
    if not firmware.is_file():
        raise BuildError(f"west build produced no {firmware}", hint="rerun west build -p always")
    usage = memory_usage(lines)
    flash_used, flash_size = usage.get("FLASH", (0, 0))
    ram_used, ram_size = usage.get("RAM", usage.get("SRAM", (0, 0)))
    # The linker already enforced Zephyr's own regions; report them as text/bss figures.
    size = SizeReport(flash_used, 0, ram_used, flash_size or None, ram_size or None)
    return BuildResult(project, board, firmware, size, time.monotonic() - started)


def flash(project: Path, on_line: Callable[[str], None] | None = None) -> Path:
    """`west flash -d PROJECT/build` with the board's default runner; returns the firmware."""
    west, _ = check_workspace()
    build_dir = project / BUILD_DIR
    firmware = build_dir / "zephyr" / "zephyr.elf"
    if not firmware.is_file():
        raise DeviceError(
            f"{project} has no Zephyr build ({firmware} is missing)",
            hint=f"run `microdeploy build {project}` first",
        )
    returncode, lines = _run([west, "flash", "-d", str(build_dir)], on_line)
    if returncode != 0:
        tail = " | ".join(line for line in lines[-3:] if line.strip())
        raise DeviceError(
            f"west flash failed (exit status {returncode}): {tail}",
            hint="check the cable and the board's runner (`west flash --help`, -r RUNNER)",
        )
    return firmware
