"""`microdeploy doctor`: checks the set-up and prints the command that fixes each problem."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from microdeploy.cli.console import out
from microdeploy.doctor import run_checks


def doctor() -> None:
    """Check Python packages, PlatformIO, toolchains and QEMU."""
    checks = run_checks()
    table = Table(title="microdeploy doctor")
    table.add_column("check")
    table.add_column("status")
    table.add_column("found")
    for check in checks:
        status = (
            "[green]ok[/]"
            if check.ok
            else ("[red]missing[/]" if check.required else "[yellow]optional[/]")
        )
        table.add_row(check.name, status, escape(check.detail))
    out.print(table)
    broken = [c for c in checks if not c.ok]
    for check in broken:
        out.print(f"[bold]{escape(check.name)}[/]: fix with\n  {escape(check.fix)}")
    if any(c.required for c in broken):
        raise typer.Exit(1)
    out.print("[green]Everything microdeploy needs is here.[/]")


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
