"""`microdeploy boards`: the board definitions as a table or JSON."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from microdeploy.boards import Board, load_boards
from microdeploy.cli.console import out


def _kib(value: int | None) -> str:
    return "-" if value is None else f"{value // 1024} KB"


def board_as_dict(board: Board) -> dict[str, object]:
    return {
        "name": board.name,
        "description": board.description,
        "mcu": board.mcu,
        "core": board.core,
        "fpu": board.fpu,
        "clock_hz": board.clock_hz,
        "ram_bytes": board.ram_bytes,
        "flash_bytes": board.flash_bytes,
        "port": board.port,
        "clock_source": board.clock_source,
        "kernels": board.kernels,
        "build": board.build,
        "platform": board.platformio.platform or None,
        "pio_board": board.platformio.board or None,
        "framework": board.platformio.framework or None,
        "zephyr_board": board.zephyr_board or None,
        "upload_protocol": board.upload.protocol,
        "upload_speed": board.upload.speed,
        "serial_baud": board.serial_baud,
        "emulator": board.qemu.machine if board.qemu else None,
        "camera": board.camera.summary if board.camera else None,  # init --input camera
        "docs": board.docs or None,
        "file": str(board.source),
    }


def _build_text(board: Board) -> str:
    """How the firmware is built: the PlatformIO platform/framework, or Zephyr's board name."""
    if board.is_zephyr:
        return f"zephyr {board.zephyr_board}"
    pio = board.platformio
    if pio.is_own_platform:
        return f"{pio.platform} (offline)"
    platform = pio.platform.rsplit("/", 1)[-1].removesuffix(".git")  # git URL platforms
    return f"{platform}/{pio.framework}" if pio.framework else platform


def boards(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the boards microdeploy can build for."""
    known = load_boards()
    if as_json:
        print(json.dumps([board_as_dict(b) for b in known.values()], indent=2))
        return
    table = Table(title="Boards")
    # Names and figures never wrap (they are what scripts and users copy); on a narrow terminal
    # the less essential columns go (all of them are in --json), the description last of all.
    columns = ["name", "core", "fpu", "clock", "flash", "RAM", "kernels", "timer", "build"]
    if out.width < 100:
        columns = ["name", "clock", "flash", "RAM", "build"]
    elif out.width < 140:
        columns = ["name", "core", "clock", "flash", "RAM", "build"]
    for column in columns:
        table.add_column(column, no_wrap=column != "build", overflow="fold")
    wide = out.width >= 170
    if wide:
        table.add_column("description", overflow="fold", ratio=1)
    for board in known.values():
        clock = f"{board.clock_hz / 1e6:g} MHz" if board.clock_hz else "-"
        cells = {
            "name": board.name,
            "core": board.core,
            "fpu": board.fpu,
            "clock": clock,
            "flash": _kib(board.flash_bytes),
            "RAM": _kib(board.ram_bytes),
            "kernels": board.kernels,
            "timer": board.clock_source,
            "build": _build_text(board),
        }
        row = [cells[column] for column in columns]
        table.add_row(*row, *([board.description] if wide else []))
    out.print(table)
    out.print("Any Zephyr board too: --board zephyr:<name>")
    out.print("Every field of every board: microdeploy boards --json")


def register(app: typer.Typer) -> None:
    app.command("boards")(boards)
