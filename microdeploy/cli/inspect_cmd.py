"""`microdeploy inspect MODEL`: what a model needs before anything is built."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from microdeploy.boards import get_board
from microdeploy.cli.console import out
from microdeploy.errors import MicrodeployError, ModelError, ProjectError
from microdeploy.model.analysis import (
    BoardFit,
    ModelReport,
    TensorSummary,
    analyze_file,
    non_default_options,
    report_as_dict,
)
from microdeploy.model.board_fit import KERNEL_FLASH
from microdeploy.model.timeline_plot import FORMATS, require_matplotlib, write_timeline
from microdeploy.patching import parse_tiling
from microdeploy.project.generate import MANIFEST_NAME, load_manifest

_KERNEL_GUESS = f"{KERNEL_FLASH // 1024} KB"
# Beyond this many ops the timeline's columns are grouped so a row still fits a terminal.
_TIMELINE_COLUMNS = 60


def _kb(n: int | None) -> str:
    return "-" if n is None else f"{n:,} B ({n / 1024:.1f} KB)"


def _quant(t: TensorSummary) -> str:
    if not t.scale:
        return "-"
    if len(t.scale) > 1:
        return f"per-channel ({len(t.scale)})"
    return f"scale {t.scale[0]:.6g}, zero point {t.zero_point[0]}"


def _io_table(title: str, tensors: tuple[TensorSummary, ...]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("tensor", "name", "shape", "type", "quantization"):
        table.add_column(column)
    for t in tensors:
        table.add_row(str(t.index), t.name, str(list(t.shape)), t.dtype, _quant(t))
    return table


# Pairs shown as one "WxH" item, and short names for the common options, so a row stays short.
_PAIRS = (
    ("stride", "stride_w", "stride_h"),
    ("dilation", "dilation_w_factor", "dilation_h_factor"),
    ("filter", "filter_width", "filter_height"),
)
_SHORT = {"fused_activation_function": "act", "depth_multiplier": "dm"}


def _options_text(options: dict[str, object]) -> str:
    options = dict(options)
    items = []
    for label, w_key, h_key in _PAIRS:
        if w_key in options or h_key in options:
            items.append(f"{label}={options.pop(w_key, 1)}x{options.pop(h_key, 1)}")
    for key, value in options.items():
        shown = list(value) if isinstance(value, tuple) else value
        items.append(str(shown) if key == "padding" else f"{_SHORT.get(key, key)}={shown}")
    return " ".join(items)


def _ops_table(report: ModelReport) -> Table:
    table = Table(title="Operators (execution order)", title_justify="left")
    for column in ("#", "op", "options", "output", "MACs", "runtime"):
        table.add_column(column, justify="right" if column in ("#", "MACs") else "left")
    for op in report.ops:
        table.add_row(
            str(op.index),
            op.name,
            _options_text(non_default_options(op)),
            ", ".join(str(list(s)) for s in op.output_shapes),
            f"{op.macs:,}",
            "[green]yes[/]" if op.supported else "[bold red]NO[/]",
        )
    return table


def _timeline_table(report: ModelReport) -> Table:
    plan = report.plan
    num_ops = max(plan.num_ops, 1)
    group = max(1, -(-num_ops // _TIMELINE_COLUMNS))
    title = f"Arena timeline ({plan.head:,} B planned; one column per "
    title += "op)" if group == 1 else f"{group} ops)"
    table = Table(title=title, title_justify="left")
    for column in ("tensor", "bytes", "offset", "ops", "lifetime"):
        table.add_column(column, justify="right" if column != "lifetime" else "left")
    for b in sorted(plan.buffers, key=lambda b: (b.offset, b.first)):
        cells = []
        for start in range(0, num_ops, group):
            live = any(b.first <= op <= b.last for op in range(start, start + group))
            cells.append("█" if live else "·")
        table.add_row(
            str(b.tensor) if b.tensor >= 0 else "scratch",
            f"{b.size:,}",
            f"{b.offset:,}",
            f"{b.first}-{b.last}",
            "".join(cells),
        )
    return table


def _print_report(report: ModelReport) -> None:
    out.print(f"[bold]{report.name}[/]  {_kb(report.size_bytes)}  {report.description}")
    out.print(_io_table("Inputs", report.inputs))
    out.print(_io_table("Outputs", report.outputs))
    out.print(_ops_table(report))
    out.print(
        f"ops: {len(report.ops)} ({', '.join(report.op_kinds)})   tensors: {report.num_tensors}"
        f"   MACs: {report.macs:,}   weights: {_kb(report.weights_bytes)}"
    )
    if report.unsupported:
        named = ", ".join(f"{op.name} (op {op.index})" for op in report.unsupported)
        out.print(f"[bold red]unsupported by the runtime:[/] {named}")
    else:
        out.print("[green]every op is supported by the runtime[/]")
    out.print(
        f"arena: {_kb(report.arena_bytes)} = planned head {report.plan.head:,} B"
        f" + tail {report.arena_tail:,} B"
        + ("" if report.arena_source == "runtime" else " (estimate: kernels' scratch unknown)")
    )
    stage = report.plan.stage
    out.print(
        f"tiling {report.tiling}: "
        + (
            f"ops {stage[0]}-{stage[1]} streamed row by row (patch-based)"
            if stage
            else "layer by layer"
        )
    )
    largest = ", ".join(f"{t.index} {list(t.shape)} {t.bytes:,} B" for t in report.largest_tensors)
    out.print(f"largest tensors: {largest or '-'}")
    out.print(_timeline_table(report))
    if report.fit is not None:
        _print_fit(report.fit)


def _print_fit(fit: BoardFit) -> None:
    verdict = "[green]fits[/]" if fit.fits else "[bold red]does NOT fit[/]"
    if fit.build is not None:
        out.print(
            f"board {fit.board}: {verdict} — linker figures from the build of "
            f"{fit.build.project} at {fit.build.built_at}"
        )
        rows = (
            ("flash (firmware: model + runtime + app)", fit.flash_needed),
            (f"RAM (arena {fit.build.arena_bytes:,} B + stack + statics)", fit.ram_needed),
        )
    else:
        out.print(
            f"board {fit.board}: {verdict} — [bold]estimates[/] ({fit.note}; "
            "`microdeploy build` gives the linker's figures)"
        )
        out.print(f"  estimated from: {_basis_text(fit)}")
        rows = (
            ("flash (model + runtime, estimated)", fit.flash_needed),
            ("RAM (arena + runtime, estimated)", fit.ram_needed),
        )
    for (what, needed), budget, margin in zip(
        rows, (fit.flash_budget, fit.ram_budget), (fit.flash_margin, fit.ram_margin), strict=True
    ):
        if budget is None:
            out.print(f"  {what}: {_kb(needed)}, no budget on this board")
        else:
            out.print(f"  {what}: {_kb(needed)} of {_kb(budget)}, margin {margin:,} B")


def _basis_text(fit: BoardFit) -> str:
    basis = fit.basis
    if basis is None or basis.build is None:
        return (
            f"rough constants (no build on {fit.board} measured yet: {_KERNEL_GUESS} per "
            "kernel, runtime and stack guessed)"
        )
    measured = ", ".join(basis.kernels_measured) or "-"
    text = (
        f"the build of {basis.build.project} at {basis.build.built_at} (runtime, app, stack) "
        f"+ this model + kernels measured by linker maps: {measured}"
    )
    if basis.kernels_guessed:
        text += f"; guessed at {_KERNEL_GUESS} each: {', '.join(basis.kernels_guessed)}"
    return text


def _project_model(project: Path) -> tuple[Path, dict]:
    """The model file of a project folder (and its manifest)."""
    if not (project / MANIFEST_NAME).is_file():
        raise ModelError(
            f"{project} is a directory, neither a .tflite model nor a microdeploy project "
            f"(no {MANIFEST_NAME})",
            hint="give a .tflite file, or a project folder made by `microdeploy init`",
        )
    manifest = load_manifest(project)
    entry = manifest.get("model")
    rel = entry.get("file") if isinstance(entry, dict) else None
    if not isinstance(rel, str) or not (project / rel).is_file():
        raise ProjectError(
            f"{project} has no model file named by its manifest",
            hint="re-run `microdeploy init` on the project",
        )
    return project / rel, manifest


def inspect(
    model: Annotated[
        Path,
        typer.Argument(
            help="The .tflite model to inspect, or a project folder (its model, its board and "
            "its build's linker figures)."
        ),
    ],
    board: Annotated[
        str | None, typer.Option("--board", "-b", help="Check flash and RAM against a board.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Write the arena timeline as a picture: FILE.svg or FILE.png."),
    ] = None,
    no_runtime: Annotated[
        bool,
        typer.Option(
            "--no-runtime",
            help="Do not build/run the host runtime for kernels' scratch and tail; estimate them.",
        ),
    ] = False,
    tiling: Annotated[
        str | None,
        typer.Option(
            "--tiling",
            help="Patch-based execution: auto (when it saves >= 10% of the arena), off or on "
            "(default: the project's, else auto).",
        ),
    ] = None,
) -> None:
    """Show a model's inputs, ops, MACs, runtime support, arena plan and board fit."""
    if plot is not None and plot.suffix.lower() not in FORMATS:
        raise MicrodeployError(
            f"--plot {plot}: only SVG and PNG pictures are supported",
            hint="use a file name ending in .svg or .png",
        )
    if plot is not None and plot.suffix.lower() == ".png":
        require_matplotlib()  # before the analysis, which may build the host runtime
    project = None
    if model.is_dir():
        project_dir = model.resolve()
        model, manifest = _project_model(project_dir)
        project = (project_dir, manifest)
        board = board or str(manifest.get("board", "")) or None
        tiling = tiling or str(manifest.get("tiling", "")) or None
    policy = parse_tiling(tiling or "auto")
    target = get_board(board) if board else None
    report = analyze_file(
        model, board=target, use_runtime=not no_runtime, project=project, tiling=policy
    )
    if plot is not None:
        write_timeline(report, plot)
    if as_json:
        print(json.dumps(report_as_dict(report), indent=2))
        return
    _print_report(report)
    if plot is not None:
        out.print(f"wrote arena timeline to {plot}")


def register(app: typer.Typer) -> None:
    app.command("inspect")(inspect)
