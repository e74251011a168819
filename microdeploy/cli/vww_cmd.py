"""`microdeploy vww-dataset`: person / no-person folders from COCO annotations (the work is in
microdeploy.vww.dataset)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from microdeploy.cli.console import err, out
from microdeploy.vww.dataset import DEFAULT_FRACTION, MANIFEST, build_dataset


def vww_dataset(
    annotations: Annotated[
        Path,
        typer.Option("--annotations", help="COCO instances file, e.g. instances_val2017.json."),
    ],
    images: Annotated[Path, typer.Option("--images", help="Folder with the annotated images.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder (person/, no_person/).")],
    fraction: Annotated[
        float,
        typer.Option(
            "--fraction", help="Person when a person box covers more than this share of the image."
        ),
    ] = DEFAULT_FRACTION,
    category: Annotated[
        str, typer.Option("--category", help="COCO category of the foreground class.")
    ] = "person",
    link: Annotated[
        bool, typer.Option("--link", help="Symlink images instead of copying.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Build a Visual Wake Words dataset by the paper's rule (a person box > 0.5% of the image)."""
    with Progress(
        TextColumn("[bold]Labelling"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
        disable=as_json or not err.is_terminal,
    ) as progress:
        task = progress.add_task("images", total=None)

        def on_image(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        report = build_dataset(
            annotations, images, out_dir, fraction, category, link=link, on_image=on_image
        )
    if as_json:
        counts = {**report.counts, "missing": len(report.missing)}
        summary = {"out": str(report.out), "fraction": report.fraction, "counts": counts}
        print(json.dumps({**summary, "manifest": str(report.out / MANIFEST)}))
        return
    out.print(f"[green]Wrote[/] {report.total} images to {report.out} (rule: {category} box > "
              f"{fraction:.2%} of the image)")  # fmt: skip
    for label, count in report.counts.items():
        out.print(f"  {label:<10} {count}")
    if report.small_person_only:
        out.print(f"  ({report.small_person_only} no_person images hold only smaller people)")
    if report.missing:
        out.print(f"  [yellow]{len(report.missing)} annotated images not found[/] in {images}")
    out.print(f"  manifest: {report.out / MANIFEST}")


def register(app: typer.Typer) -> None:
    app.command("vww-dataset")(vww_dataset)
