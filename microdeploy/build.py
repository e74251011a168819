"""`microdeploy build`: runs PlatformIO on a generated project, then reads the linker's figures.

Flash used = text + data and RAM used = data + bss, as `size` (arm-none-eabi-size on Cortex-M)
reports them for the ELF; on md-cortexm bss includes the reserved stack. Both are checked against
the board's budget: the linker script already enforces it on md-cortexm (a "region overflowed"
link error is turned into a message naming the budget), the post-link check covers other
platforms. Every build that links records its figures (build_records.py) for `inspect --board`.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from microdeploy import build_records
from microdeploy.boards import Board, get_board
from microdeploy.errors import BuildError, ProjectError, ToolchainError
from microdeploy.pio import core as pio_core
from microdeploy.project.generate import load_manifest
from microdeploy.project.user_ini import replacing_settings
from microdeploy.streamed_process import run_streamed

_OVERFLOW = re.compile(r"region [`'](FLASH|RAM)' overflowed by (\d+) bytes")
_COMPILER_LINE = re.compile(r"(^|\s)(fatal error|error|warning|note):|^In file included|: In ")
_APT_HINT = {
    "g++": "sudo apt-get install -y g++",
    "arm-none-eabi-gcc": (
        "sudo apt-get install -y gcc-arm-none-eabi libnewlib-arm-none-eabi "
        "libstdc++-arm-none-eabi-newlib"
    ),
}


class BuildFailed(BuildError):
    """The build failed; `compiler_lines` are the compiler's own messages to show the user."""

    def __init__(self, message: str, hint: str, compiler_lines: list[str]) -> None:
        super().__init__(message, hint)
        self.compiler_lines = compiler_lines


@dataclass(frozen=True)
class SizeReport:
    text: int
    data: int
    bss: int
    flash_budget: int | None
    ram_budget: int | None

    @property
    def flash_bytes(self) -> int:
        return self.text + self.data

    @property
    def ram_bytes(self) -> int:
        return self.data + self.bss


@dataclass(frozen=True)
class BuildResult:
    project: Path
    board: Board
    firmware: Path
    size: SizeReport
    seconds: float
    # Settings of the user's platformio_user.ini that replace the generated ones (user_ini.py).
    notices: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "project": str(self.project),
            "board": self.board.name,
            "firmware": str(self.firmware),
            "flash_bytes": self.size.flash_bytes,
            "ram_bytes": self.size.ram_bytes,
            "flash_budget": self.size.flash_budget,
            "ram_budget": self.size.ram_budget,
            "text": self.size.text,
            "data": self.size.data,
            "bss": self.size.bss,
            "seconds": round(self.seconds, 3),
            "notices": list(self.notices),
        }


def size_tool(board: Board) -> str:
    return "size" if board.is_native else "arm-none-eabi-size"


def compiler_for(board: Board) -> str | None:
    """The compiler our own platforms need from PATH (None for official platforms)."""
    if board.platformio.platform == "md-native":
        return "g++"
    if board.platformio.platform == "md-cortexm":
        return "arm-none-eabi-gcc"
    return None


def _require_tool(tool: str) -> None:
    if shutil.which(tool) is None:
        raise ToolchainError(
            f"{tool} is not installed (needed to build for this board)",
            hint=_APT_HINT.get(tool, "run `microdeploy doctor`"),
        )


def read_size(elf: Path, tool: str) -> tuple[int, int, int]:
    """(text, data, bss) from `size` in Berkeley format."""
    _require_tool(tool)
    proc = subprocess.run([tool, "-B", "-d", str(elf)], capture_output=True, text=True)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or len(lines) < 2:
        raise BuildError(f"{tool} could not read {elf}: {proc.stderr.strip()}", hint="rebuild")
    text, data, bss = (int(v) for v in lines[1].split()[:3])
    return text, data, bss


def firmware_path(project: Path, board: Board) -> Path:
    build_dir = project / ".pio" / "build" / board.name
    for name in ("firmware.elf", "program"):
        if (build_dir / name).is_file():
            return build_dir / name
    raise BuildError(
        f"the build produced no firmware in {build_dir}", hint="run `pio run -v` in the project"
    )


def _budget_field(board: Board, region: str) -> str:
    return f"{'flash_bytes' if region == 'FLASH' else 'ram_bytes'} in {board.source}"


def _failure(board: Board, lines: list[str], returncode: int) -> BuildFailed:
    compiler_lines = [line for line in lines if _COMPILER_LINE.search(line)]
    for line in lines:
        match = _OVERFLOW.search(line)
        if match:
            region, excess = match.group(1), int(match.group(2))
            budget = board.flash_bytes if region == "FLASH" else board.ram_bytes
            what = "flash" if region == "FLASH" else "RAM"
            return BuildFailed(
                f"firmware does not fit the {what} budget of board {board.name}: "
                f"{budget} bytes ({_budget_field(board, region)}), over by {excess} bytes",
                hint=(
                    "use a smaller model or a board with more flash"
                    if region == "FLASH"
                    else "use a smaller arena (init --arena) / model, or a board with more RAM"
                ),
                compiler_lines=[line for line in lines if "overflowed" in line],
            )
    if compiler_lines:
        errors = sum(1 for line in compiler_lines if "error" in line)
        return BuildFailed(
            f"build failed with {errors} compiler error(s) (PlatformIO exit status {returncode})",
            hint="fix the lines shown above; `pio run -v -d PROJECT` shows the full commands",
            compiler_lines=compiler_lines,
        )
    tail = [line for line in lines if line.strip()][-15:]
    return BuildFailed(
        f"PlatformIO exited with status {returncode}",
        hint="see its output above; run `microdeploy doctor` to check the set-up",
        compiler_lines=tail,
    )


def check_budget(board: Board, size: SizeReport) -> None:
    for region, used, budget in (
        ("FLASH", size.flash_bytes, size.flash_budget),
        ("RAM", size.ram_bytes, size.ram_budget),
    ):
        if budget is not None and used > budget:
            what = "flash" if region == "FLASH" else "RAM"
            raise BuildError(
                f"firmware uses {used} bytes of {what}, over the budget of board {board.name}: "
                f"{budget} bytes ({_budget_field(board, region)})",
                hint=f"use a smaller model or arena, or a board with more {what}",
            )


def _check_core_dir(project: Path) -> None:
    """The project's platformio.ini must name our core dir: any other one lacks the offline
    tool-scons package, and PlatformIO would then wait on its registry."""
    ini = project / "platformio.ini"
    try:
        text = ini.read_text(encoding="utf-8")
    except OSError:
        raise ProjectError(
            f"{ini} is missing", hint="re-run `microdeploy init` on the project"
        ) from None
    match = re.search(r"^core_dir\s*=\s*(.+?)\s*$", text, re.M)
    if match and Path(match.group(1)) != pio_core.core_dir():
        raise ProjectError(
            f"{ini} uses PlatformIO core dir {match.group(1)}, not this microdeploy's "
            f"{pio_core.core_dir()}",
            hint="re-run `microdeploy init` with the same --board/--model to refresh the project",
        )


def build_project(
    project: Path, on_line: Callable[[str], None] | None = None, jobs: int = 2
) -> BuildResult:
    """Builds the project's firmware; `on_line` receives every line PlatformIO prints."""
    project = project.resolve()
    manifest = load_manifest(project)
    board = get_board(str(manifest.get("board", "")))
    if board.is_zephyr:
        from microdeploy.zephyr import west  # a Zephyr application: west, not PlatformIO

        result = west.build_project(project, board, on_line)
        size = result.size
        build_records.record_build(
            project, manifest, board, result.firmware, size.text, size.data, size.bss
        )
        return result
    compiler = compiler_for(board)
    if compiler:
        _require_tool(compiler)
    if importlib.util.find_spec("platformio") is None:
        raise ToolchainError(
            "PlatformIO is not installed in this Python environment",
            hint="pip install platformio==6.2.0 (./setup.sh does it)",
        )
    if board.platformio.is_own_platform:
        _check_core_dir(project)
        pio_core.ensure_core()
    command = pio_core.pio_command("run", "-d", str(project), "-e", board.name, "-j", str(jobs))
    started = time.monotonic()
    try:
        returncode, lines = run_streamed(command, on_line, env=pio_core.pio_environment())
    except OSError as exc:
        raise ToolchainError(
            f"cannot start PlatformIO: {exc.strerror}", hint="pip install platformio==6.2.0"
        ) from None
    if returncode != 0:
        raise _failure(board, lines, returncode)
    firmware = firmware_path(project, board)
    text, data, bss = read_size(firmware, size_tool(board))
    size = SizeReport(text, data, bss, board.flash_bytes, board.ram_bytes)
    # Recorded before the budget check: `inspect` shows an over-budget firmware's real figures.
    build_records.record_build(project, manifest, board, firmware, text, data, bss)
    check_budget(board, size)
    notices = tuple(replacing_settings(project, board.name))
    return BuildResult(project, board, firmware, size, time.monotonic() - started, notices)
