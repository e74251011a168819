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
        "platform": board.platformio.platform,
        "emulator": board.qemu.machine if board.qemu else None,
        "file": str(board.source),
    }


def boards(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the boards microdeploy can build for."""
    known = load_boards()
    if as_json:
        print(json.dumps([board_as_dict(b) for b in known.values()], indent=2))
        return
    table = Table(title="Boards")
    # Names and figures never wrap (they are what scripts and users copy); text folds.
    for column in ("name", "core", "fpu", "clock", "flash", "RAM"):
        table.add_column(column, no_wrap=True)
    table.add_column("description", overflow="fold", ratio=1)
    for board in known.values():
        clock = f"{board.clock_hz / 1e6:g} MHz" if board.clock_hz else "-"
        table.add_row(
            board.name,
            board.core,
            board.fpu,
            clock,
            _kib(board.flash_bytes),
            _kib(board.ram_bytes),
            board.description,
        )
    out.print(table)


def register(app: typer.Typer) -> None:
    app.command("boards")(boards)
