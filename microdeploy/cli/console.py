"""Shared rich consoles and the one error printer of the CLI."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from microdeploy.errors import MicrodeployError

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def print_error(exc: MicrodeployError) -> None:
    err.print(f"[bold red]error:[/] {escape(exc.message)}")
    if exc.hint:
        err.print(f"[yellow]hint:[/] {escape(exc.hint)}")
