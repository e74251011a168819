"""`microdeploy bench`: our runtime side by side with TFLM's Python interpreter.

Only parsing and printing here; the measurements are in microdeploy.bench.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from microdeploy.bench import models, results
from microdeploy.bench.runner import bench_all, bench_model
from microdeploy.cli.console import err, out
from microdeploy.errors import MicrodeployError
from microdeploy.patching import parse_tiling


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _us(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.1f}" if value >= 10 else f"{value:.3f}"


def _host_table(rows: list[dict]) -> Table:
    table = Table(title="microdeploy vs TFLM on this host (ratio = ours / TFLM's)")
    for column in ("model", "arena B", "TFLM B", "ratio", "ours us", "TFLM us", "ratio"):
        table.add_column(column, justify="left" if column == "model" else "right", no_wrap=True)
    for row in rows:
        name = escape(row["model"])
        if "error" in row:
            table.add_row(name, f"[red]{escape(row['error'])}[/]", *[""] * 5)
            continue
        table.add_row(
            name + ("" if row.get("bit_exact", True) else " [red](not exact)[/]"),
            f"{row['arena_bytes']:,}",
            f"{row['tflm_arena_bytes']:,}",
            _ratio(row["arena_ratio"]),
            _us(row["latency_us"]),
            _us(row["tflm_latency_us"]),
            _ratio(row["latency_ratio"]),
        )
    return table


def _device_table(rows: list[dict], board: str) -> Table:
    table = Table(
        title=f"microdeploy on {board} (instructions counted by QEMU; vs ref = / reference kernels)"
    )
    columns = ("model", "instr", "vs ref", "MAC/instr", "overhead", "exact", "flash B", "runtime B")
    for column in columns:
        table.add_column(column, justify="left" if column == "model" else "right", no_wrap=True)
    for row in rows:
        if "instructions" not in row:
            continue
        table.add_row(
            escape(row["model"]) + ("" if row.get("device_bit_exact", True) else " [red]!=[/]"),
            f"{row['instructions']:,}",
            f"{row['instructions_vs_reference']:.2f}",
            f"{row['macs_per_instruction']:.3f}",
            f"{100 * row['interpreter_overhead']:.2f}%",
            results.exact_overhead(row),
            f"{row['firmware']['flash_bytes']:,}",
            f"{row['firmware']['runtime_bytes']:,}",
        )
    return table


def _profile_table(row: dict) -> Table:
    table = Table(title=f"{row['model']} on {row['board']}: instructions per op")
    for column in ("op", "name", "instructions", "%", "reference", "MACs", "MAC/instr"):
        table.add_column(column, justify="left" if column == "name" else "right")
    total = row["instructions"] or 1
    for p in row["op_profile"]:
        per = p["macs"] / p["instructions"] if p["instructions"] else 0.0
        table.add_row(
            str(p["op"]),
            p["name"],
            f"{p['instructions']:,}",
            f"{100 * p['instructions'] / total:.1f}",
            "-" if p["reference_instructions"] is None else f"{p['reference_instructions']:,}",
            f"{p['macs']:,}",
            f"{per:.3f}" if p["macs"] else "-",
        )
    return table


def _firmware_lines(row: dict) -> list[str]:
    fw = row["firmware"]
    return [
        f"firmware for {row['board']}: flash {fw['flash_bytes']:,} B (model {fw['model_bytes']:,},"
        f" runtime {fw['runtime_bytes']:,}, app {fw['app_bytes']:,}, library/start-up"
        f" {fw['other_bytes']:,}), RAM {fw['ram_bytes']:,} B (arena {fw['arena_bytes']:,})",
        f"flash without the model: {fw['flash_without_model']:,} B; interpreter overhead"
        f" {100 * row['interpreter_overhead']:.2f}% of the inference's instructions (SysTick),"
        f" {results.exact_overhead(row)} counted instruction by instruction",
    ]


def _code_size_line(row: dict) -> str:
    size = row.get("x86_64_code_size")
    if not size:
        return ""
    if "error" in size:
        return f"runtime code size: not measured ({escape(size['error'])})"
    portable = size["ours_portable_kernels"]["bytes"]
    reference = size["ours_reference_kernels"]["bytes"]
    line = (
        f"runtime code for this op set, x86-64 proxy (not Cortex-M): ours"
        f" {size['ours']['bytes']:,} B (portable kernels {portable:,} B, reference kernels"
        f" {reference:,} B), TFLM {size['tflm']['bytes']:,} B: ratio {size['ratio']:.2f}"
        f" ({size['portable_kernels_ratio']:.2f} portable,"
        f" {size['reference_kernels_ratio']:.2f} reference)"
    )
    generated = size.get("ours_generated_defines")
    if generated:
        line += (
            f"; with the model's generated defines ({' '.join(generated['defines'])})"
            f" {generated['bytes']:,} B, ratio {size['generated_defines_ratio']:.2f}"
        )
    return line


def bench(
    model: Annotated[
        str | None,
        typer.Argument(help="A .tflite file or a known model name (e.g. tflm/person_detect)."),
    ] = None,
    all_models: Annotated[
        bool,
        typer.Option("--all", help="Every model in ../shared/models and the examples' models."),
    ] = False,
    board: Annotated[
        str, typer.Option("--board", help="native, or an emulated board (mps2-an386).")
    ] = "native",
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Save the results to this JSON file.")
    ] = None,
    chart: Annotated[
        Path | None, typer.Option("--chart", help="Render a comparison chart (PNG).")
    ] = None,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print a Markdown table (benchmarks/README.md).")
    ] = False,
    batches: Annotated[
        int, typer.Option("--batches", min=1, help="Interleaved latency batches per side.")
    ] = 11,
    tiling: Annotated[
        str,
        typer.Option(
            "--tiling",
            help="Our patch-based execution policy: auto (when it saves >= 10% of the arena), "
            "off (layer by layer) or on (always).",
        ),
    ] = "auto",
) -> None:
    """Measure arena, host latency (and instructions on an emulated board) against TFLM."""
    if (model is None) == (not all_models):
        raise MicrodeployError(
            "give a MODEL or --all (not both)",
            hint="e.g. `microdeploy bench tflm/person_detect` or `microdeploy bench --all`",
        )

    policy = parse_tiling(tiling)

    def progress(text: str) -> None:
        err.print(f"[dim]{escape(text)}[/]")

    if all_models:
        rows = bench_all(board, batches, progress, tiling=policy)
    else:
        rows = [bench_model(models.resolve(str(model)), board, batches, progress, policy)]
    if out_path is not None:
        results.save(rows, out_path)
    if chart is not None:
        from microdeploy.bench.chart import render_chart

        render_chart(rows, chart)
    if as_json:
        print(json.dumps(rows[0] if model is not None else rows, indent=2))
        return
    if markdown:
        print(results.markdown_table(rows))
        print()
        print(results.code_size_table(rows))
        return
    out.print(_host_table(rows))
    if board != "native":
        out.print(_device_table(rows, board))
    if model is not None and _code_size_line(rows[0]):
        out.print(_code_size_line(rows[0]))
    if model is not None and "op_profile" in rows[0]:
        out.print(_profile_table(rows[0]))
        for line in _firmware_lines(rows[0]):
            out.print(line)
    for path, what in ((out_path, "results"), (chart, "chart")):
        if path is not None:
            out.print(f"{what} saved to {escape(str(path))}")


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)
