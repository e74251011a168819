"""`microdeploy mlperf`: drive an MLPerf Tiny firmware (`init --app mlperf-tiny`) with inputs,
the way the benchmark's harness does; the work is in microdeploy.mlperf.driver."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from microdeploy.cli.console import err, out
from microdeploy.errors import DeviceError
from microdeploy.mlperf.driver import InputRun, run_mlperf


def _scores_text(run: InputRun, limit: int = 4) -> str:
    if len(run.scores) <= 1:
        return ", ".join(f"{s:.3f}" for s in run.scores)
    order = sorted(range(len(run.scores)), key=lambda i: -run.scores[i])[:limit]
    return ", ".join(f"{i}: {run.scores[i]:.3f}" for i in order)


def mlperf(
    project: Annotated[
        Path | None,
        typer.Argument(help="MLPerf Tiny project (default: current folder).", show_default=False),
    ] = None,
    inputs: Annotated[
        list[Path] | None,
        typer.Option(
            "--input",
            "-i",
            help="Harness bytes (.bin), .npy, or a photo for vww/ic; repeat for more.",
        ),
    ] = None,
    port: Annotated[
        str | None,
        typer.Option("--port", "-p", help="Serial port: /dev/ttyACM0, a pty path, socket://h:p."),
    ] = None,
    baud: Annotated[int, typer.Option("--baud", "-b", help="Baud rate (MLPerf: 115200).")] = 115200,
    iterations: Annotated[
        int, typer.Option("--iterations", "-n", help="Timed inferences per input (infer N).")
    ] = 1,
    warmups: Annotated[
        int, typer.Option("--warmups", "-w", help="Warm-up inferences before timing (infer N W).")
    ] = 0,
    timeout: Annotated[
        float, typer.Option("--timeout", "-t", help="Seconds to wait for an infer reply.")
    ] = 30.0,
    no_reference: Annotated[
        bool, typer.Option("--no-reference", help="Do not compare with TFLM's interpreter.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object of all runs.")] = False,
) -> None:
    """Load each input into the device under test, run `infer N W` and `results`; show the
    scores, the device's m-lap-us timings and whether they equal TFLM's."""
    folder = (project or Path(".")).resolve()
    table = Table("input", "µs / inference", "scores (top)", "vs TFLM")

    def on_result(run: InputRun) -> None:
        verdict = {True: "[green]equal[/]", False: "[red]DIFFERENT[/]", None: "[dim]-[/]"}
        per = run.us_per_inference
        table.add_row(
            escape(Path(run.file).name),
            "-" if per is None else f"{per:,.0f}",
            escape(_scores_text(run)),
            verdict[run.match],
        )

    settings = dict(
        port=port,
        baud=baud,
        iterations=iterations,
        warmups=warmups,
        timeout=timeout,
        compare=not no_reference,
    )
    if as_json:
        report = run_mlperf(folder, list(inputs or []), **settings)
        print(json.dumps(report.as_dict()))
    else:
        with err.status("Running the MLPerf Tiny protocol..."):
            report = run_mlperf(folder, list(inputs or []), on_result=on_result, **settings)
        model = report.profile.get("model", "?")
        out.print(
            f"[bold]{escape(report.name)}[/] model [bold]{escape(model)}[/] "
            f"({escape(report.profile.get('profile', '?'))}), benchmark {report.benchmark}, "
            f"infer {iterations} {warmups}"
        )
        out.print(table)
    differing = [run for run in report.runs if run.match is False]
    if differing:
        lines = "; ".join(f"{r.results_line} vs TFLM {r.reference_line}" for r in differing[:2])
        raise DeviceError(
            f"{len(differing)} of {len(report.runs)} results differ from TFLM's: {lines}",
            "the runtime is not bit-exact for this model on this board: please report it",
        )


def register(app: typer.Typer) -> None:
    app.command("mlperf")(mlperf)
