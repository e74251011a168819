"""`microdeploy init`: generate (or refresh) a PlatformIO project for a board and a model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from microdeploy.camera import INPUT_KINDS
from microdeploy.cli.console import out
from microdeploy.project import path_variants, type_variants
from microdeploy.project.app_meta import APPS, parse_labels
from microdeploy.project.generate import init_project


def init(
    project: Annotated[Path, typer.Argument(help="Project folder to create or refresh.")],
    board: Annotated[str, typer.Option("--board", "-b", help="Board name (see `boards`).")],
    model: Annotated[
        Path | None, typer.Option("--model", "-m", help="Quantized .tflite model.")
    ] = None,
    example: Annotated[
        str | None, typer.Option("--example", help="An example from example_projects/.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite everything, including src/main.cpp.")
    ] = False,
    arena: Annotated[
        int | None, typer.Option("--arena", min=16, help="Tensor arena bytes (default: measured).")
    ] = None,
    app: Annotated[
        str | None, typer.Option("--app", help=f"Application kind: {', '.join(APPS)}.")
    ] = None,
    labels: Annotated[
        str | None,
        typer.Option("--labels", help="Class labels of output 0, in order: no_person,person."),
    ] = None,
    benchmark: Annotated[
        str | None,
        typer.Option("--benchmark", help="With --app mlperf-tiny: vww, kws, ic or ad."),
    ] = None,
    input_kind: Annotated[
        str,
        typer.Option(
            "--input",
            help=f"Where inputs come from: {' or '.join(INPUT_KINDS)} (the board's [camera], "
            "preprocessed on the device).",
        ),
    ] = "serial",
    tiling: Annotated[
        str,
        typer.Option(
            "--tiling",
            help="Patch-based execution of early layers: auto (when it saves >= 10% of the "
            "arena, or to fit --arena), off (layer by layer) or on (always).",
        ),
    ] = "auto",
    camera_frames: Annotated[
        Path | None,
        typer.Option(
            "--camera-frames",
            help="With --input camera: compile these .pgm/.ppm frames in and replay them as the "
            "camera (any board, e.g. the emulated one).",
        ),
    ] = None,
) -> None:
    """Generate a PlatformIO project that runs MODEL on BOARD."""
    result = init_project(
        project,
        board,
        model=model,
        example=example,
        force=force,
        arena_bytes=arena,
        app=app,
        labels=parse_labels(labels) if labels is not None else None,
        benchmark=benchmark,
        input_kind=input_kind,
        tiling=tiling,
        camera_frames=camera_frames,
    )
    verb = "Refreshed" if result.refreshed else "Created"
    out.print(f"{verb} project [bold]{result.project}[/] for board [bold]{result.board.name}[/]")
    out.print(
        f"  model {result.model.sha256[:16]} ({result.model.size} bytes), "
        f"ops: {', '.join(result.model.op_names)}"
    )
    out.print(f"  arena {result.arena_bytes} bytes ({result.arena_origin})")
    compiled_out = type_variants.compile_out_defines(result.model.model)
    if compiled_out:
        out.print(
            "  kernel type variants the model does not use, compiled out: " + " ".join(compiled_out)
        )
    dropped_paths = path_variants.compile_out_defines(result.model.model)
    if dropped_paths:
        out.print(
            "  kernel fallback paths the model does not use, compiled out on DSP cores: "
            + " ".join(dropped_paths)
        )
    if tiling != "auto":
        out.print(f"  patch-based execution (tiling): {tiling}")
    if result.app.benchmark:
        out.print(f"  app {result.app.app}, MLPerf Tiny benchmark {result.app.benchmark}")
    if result.app.labels:
        out.print(f"  app {result.app.app}, labels: {', '.join(result.app.labels)}")
    if result.camera is not None:
        camera = result.camera
        out.print(
            f"  input camera: {camera.summary}, {'centred crop' if camera.crop else 'stretched'}"
        )
        if "src/main.cpp" in result.user_kept:
            out.print(
                "  [yellow]src/main.cpp was kept as it was: pass --force for the camera main[/]"
            )
    vendored = sum(1 for f in result.written if f.startswith("lib/md_runtime/src/"))
    out.print(f"  wrote {len(result.written)} generated files ({vendored} runtime sources)")
    if result.user_created:
        out.print(f"  created your files: {', '.join(result.user_created)}")
    if result.user_kept:
        out.print(f"  kept your files: {', '.join(result.user_kept)}")
    if result.removed:
        out.print(f"  removed stale files: {', '.join(result.removed)}")
    out.print(f"Next: microdeploy build {project}")


def register(app: typer.Typer) -> None:
    app.command("init")(init)
