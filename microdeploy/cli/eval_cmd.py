"""`microdeploy eval`: accuracy and confusion matrices of the device and of TFLM on a labelled
image folder, with a progress bar (the work is in microdeploy.vww.evaluate)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from microdeploy.cli.console import err, out
from microdeploy.errors import DeviceError
from microdeploy.vww.evaluate import EvalReport, SampleResult, accuracy, evaluate


def _matrix_table(title: str, labels: tuple[str, ...], matrix: list[list[int]]) -> Table:
    table = Table(title=f"{title}: accuracy {accuracy(matrix):.1%}", title_justify="left")
    table.add_column("true \\ predicted")
    for label in labels:
        table.add_column(label, justify="right")
    for label, row in zip(labels, matrix, strict=True):
        table.add_row(label, *(str(n) for n in row))
    return table


def _print_report(report: EvalReport) -> None:
    info = report.info
    out.print(f"{len(report.results)} images on {info.board} (arena {info.arena_used} bytes)")
    grid = Table.grid(padding=(0, 4))
    grid.add_row(
        _matrix_table("device", report.labels, report.device_confusion),
        _matrix_table("TFLM reference", report.labels, report.reference_confusion),
    )
    out.print(grid)
    us = [r.us for r in report.results]
    if us:
        out.print(f"latency: mean {sum(us) / len(us):.0f} us, min {min(us)}, max {max(us)}")
    if report.stream_faults:
        err.print(f"[yellow]{report.stream_faults} stream fault(s) seen and recovered[/]")
    if report.agree:
        out.print(f"[green]device == TFLM[/] bit for bit on all {len(report.results)} images")
    for r in report.mismatches:
        got, want = r.device_output.reshape(-1).tolist(), r.reference_output.reshape(-1).tolist()
        out.print(f"[red]DIFFERENT[/] {escape(str(r.sample.path))}: device {got}, TFLM {want}")


def eval_command(
    project: Annotated[Path, typer.Argument(help="Project folder (built, flashed or not).")],
    dataset: Annotated[
        Path, typer.Option("--dataset", "-d", help="Folder with one subfolder per label.")
    ],
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", help="Use at most N images (classes mixed).")
    ] = None,
    port: Annotated[
        str | None, typer.Option("--port", "-p", help="Serial port of a running device.")
    ] = None,
    baud: Annotated[int, typer.Option("--baud", "-b", help="Baud rate of a real port.")] = 115200,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", "-t", help="Seconds to wait for each answer.")
    ] = 30.0,
) -> None:
    """Run a labelled image folder on the device and on TFLM: accuracy, confusion, agreement."""
    with Progress(
        TextColumn("[bold]Evaluating"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=as_json or not err.is_terminal,
    ) as progress:
        task = progress.add_task("images", total=None)

        def on_start(total: int) -> None:
            progress.update(task, total=total)

        def on_result(_: SampleResult) -> None:
            progress.advance(task)

        report = evaluate(
            project,
            dataset,
            port=port,
            baud=baud,
            limit=limit,
            timeout=timeout,
            on_start=on_start,
            on_result=on_result,
        )
    if as_json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        _print_report(report)
    if not report.agree:
        raise DeviceError(
            f"{len(report.mismatches)} of {len(report.results)} images gave outputs different "
            "from TFLM's",
            "the runtime is not bit-exact for this model on this board: please report it",
        )


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
