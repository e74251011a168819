"""`microdeploy build`: PlatformIO build with a progress display and a size report."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from microdeploy.build import BuildFailed, BuildResult, build_project
from microdeploy.cli.console import err, out

_STEP = re.compile(r"^(Compiling|Linking|Building|Archiving|Indexing) ")


def _percent(used: int, budget: int | None) -> str:
    return f" of {budget} ({100.0 * used / budget:.1f}%)" if budget else ""


def _print_report(result: BuildResult) -> None:
    size = result.size
    out.print(f"[green]Built[/] {result.firmware} in {result.seconds:.1f} s")
    out.print(f"  flash {size.flash_bytes} bytes{_percent(size.flash_bytes, size.flash_budget)}")
    out.print(f"  RAM   {size.ram_bytes} bytes{_percent(size.ram_bytes, size.ram_budget)}")
    for notice in result.notices:
        err.print(f"[yellow]warning:[/] {escape(notice)}")


def build(
    project: Annotated[Path, typer.Argument(help="Project folder made by `microdeploy init`.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show PlatformIO's whole output (stderr).")
    ] = False,
) -> None:
    """Build the project's firmware and report flash/RAM use against the board's budget."""
    try:
        if verbose:
            result = build_project(project, on_line=lambda line: err.print(escape(line)))
        elif as_json:
            result = build_project(project)
        else:
            with err.status("Building...") as status:

                def on_line(line: str) -> None:
                    if _STEP.match(line):
                        status.update(f"[bold]{escape(line[:100])}")

                result = build_project(project, on_line=on_line)
    except BuildFailed as failure:
        if not verbose:  # verbose already showed every line
            for line in failure.compiler_lines:
                err.print(escape(line), highlight=False)
        raise
    if as_json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        _print_report(result)


def register(app: typer.Typer) -> None:
    app.command("build")(build)
