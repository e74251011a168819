"""`microdeploy flash`: puts the built firmware where it runs and records where it listens."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from microdeploy.boards import Board, get_board
from microdeploy.build import firmware_path
from microdeploy.device import launch
from microdeploy.device.state import (
    STATE_DIR,
    DeviceState,
    clear_state,
    load_state,
    save_state,
    stop_process,
)
from microdeploy.errors import DeviceError
from microdeploy.pio import core as pio_core
from microdeploy.project.generate import load_manifest
from microdeploy.streamed_process import run_streamed


@dataclass(frozen=True)
class FlashResult:
    state: DeviceState
    board: Board
    stopped_previous: bool


def project_board(project: Path) -> Board:
    manifest = load_manifest(project)
    return get_board(str(manifest.get("board", "")))


def stop_device(project: Path) -> bool:
    """Stops the native program or emulator that `flash` started for this project."""
    state = load_state(project)
    clear_state(project)
    if state is None or state.pid is None:
        return False
    needle = state.firmware if state.kind == "native" else "qemu-system-arm"
    if not launch.process_matches(state.pid, needle):
        return False  # already gone (or the pid now belongs to someone else)
    stop_process(state.pid)
    return True


def flash(
    project: Path, port: str | None = None, on_line: Callable[[str], None] | None = None
) -> FlashResult:
    project = project.resolve()
    board = project_board(project)
    if board.is_zephyr:  # `west flash` with the board's runner (microdeploy/zephyr/west.py)
        from microdeploy.zephyr import west

        firmware = west.flash(project, on_line)
        state = DeviceState(board.name, "board", port or "", None, str(firmware), time.time(), "")
        save_state(project, state)
        return FlashResult(state, board, False)
    firmware = firmware_path(project, board)
    stopped = stop_device(project)
    work = project / STATE_DIR
    work.mkdir(exist_ok=True)
    log = work / "device.log"
    if board.is_native:
        pid, url = launch.start_native(firmware, log)
        kind = "native"
    elif board.upload.protocol == "qemu":
        pid, url = launch.start_qemu(board, firmware, log, work / "debug.log")
        kind = "qemu"
    else:
        upload(project, board, port, on_line)
        pid, url, kind = None, port or "", "board"
    state = DeviceState(board.name, kind, url, pid, str(firmware), time.time(), str(log))
    save_state(project, state)
    return FlashResult(state, board, stopped)


def upload(
    project: Path, board: Board, port: str | None, on_line: Callable[[str], None] | None
) -> None:
    """A real board: PlatformIO's upload target with the board definition's settings."""
    args = ["run", "-d", str(project), "-e", board.name, "-t", "upload"]
    if port:
        args += ["--upload-port", port]
    command = pio_core.pio_command(*args)
    try:
        returncode, lines = run_streamed(command, on_line, env=pio_core.pio_environment())
    except OSError as exc:
        raise DeviceError(f"cannot run PlatformIO: {exc}", "run `microdeploy doctor`") from None
    if returncode != 0:
        tail = " | ".join(line for line in lines[-3:] if line.strip())
        raise DeviceError(
            f"upload to {board.name} failed (PlatformIO exit status {returncode}): {tail}",
            "check the cable and --port; the board's upload settings are in "
            f"{board.source} [upload]",
        )


@contextmanager
def project_device(project: Path, port: str | None) -> Iterator[str]:
    """The port a job talks to: --port, the device `flash` recorded, or (native and emulated
    boards) one flashed here for the job and stopped when it ends."""
    if port:
        yield port
        return
    state = load_state(project)
    if state is not None and state.port and state.alive:
        yield state.port
        return
    board = project_board(project)
    if not (board.is_native or board.upload.protocol == "qemu"):
        raise DeviceError(
            f"no running device recorded for {project}",
            f"run `microdeploy flash {project}` first, or pass --port PORT",
        )
    result = flash(project)
    try:
        yield result.state.port
    finally:
        stop_device(project)
