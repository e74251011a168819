"""The comparison chart (PNG): ours vs TFLM per model, with the ratio written on each pair.

matplotlib is the optional `bench` extra (`pip install -e '.[bench]'`); it is imported only here.
Panels: arena bytes, host latency per inference (both log scale, ours and TFLM's bars side by
side) and, when the results have them, instructions per inference on the emulated board with
the board's kernels and with the reference kernels.
"""

from __future__ import annotations

from pathlib import Path

from microdeploy.errors import MicrodeployError, ToolchainError

_OURS = "#2b7bba"
_TFLM = "#e08a2b"
_REF = "#9bbfdc"


def _pyplot():  # noqa: ANN202 - matplotlib's module type
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ToolchainError(
            "the chart needs matplotlib, which is not installed",
            hint="pip install matplotlib (or: pip install -e '.[bench]')",
        ) from None
    return plt


def _pair_panel(ax, names, ours, theirs, ratios, title, unit) -> None:  # noqa: ANN001
    positions = range(len(names))
    width = 0.4
    ax.bar([p - width / 2 for p in positions], ours, width, label="microdeploy", color=_OURS)
    ax.bar([p + width / 2 for p in positions], theirs, width, label="TFLM", color=_TFLM)
    ax.set_yscale("log")
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(unit)
    for p, a, b, r in zip(positions, ours, theirs, ratios, strict=True):
        ax.annotate(f"{r:.2f}x", (p, max(a, b)), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(list(positions))
    ax.set_xticklabels(names, rotation=35, ha="right", fontsize=7)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(axis="y", which="major", alpha=0.3)


def render_chart(results: list[dict], path: Path) -> None:
    rows = [r for r in results if "error" not in r]
    if not rows:
        raise MicrodeployError("no measured model to chart", hint="every model failed; see above")
    plt = _pyplot()
    names = [r["model"].split("/", 1)[-1] for r in rows]
    device_rows = [r for r in rows if "instructions" in r]
    panels = 3 if device_rows else 2
    fig, axes = plt.subplots(panels, 1, figsize=(max(8, 0.75 * len(rows) + 3), 4.2 * panels))
    _pair_panel(
        axes[0],
        names,
        [r["arena_bytes"] for r in rows],
        [r["tflm_arena_bytes"] for r in rows],
        [r["arena_ratio"] for r in rows],
        "Arena bytes needed (label: ours / TFLM's)",
        "bytes",
    )
    _pair_panel(
        axes[1],
        names,
        [r["latency_us"] for r in rows],
        [r["tflm_latency_us"] for r in rows],
        [r["latency_ratio"] for r in rows],
        "Host latency per inference, median of interleaved runs (label: ours / TFLM's)",
        "microseconds",
    )
    if device_rows:
        ax = axes[2]
        board = device_rows[0]["board"]
        labels = [r["model"].split("/", 1)[-1] for r in device_rows]
        positions = range(len(device_rows))
        width = 0.4
        ours = [r["instructions"] for r in device_rows]
        ref = [r["reference_instructions"] for r in device_rows]
        ax.bar([p - width / 2 for p in positions], ours, width, color=_OURS, label="board kernels")
        ax.bar([p + width / 2 for p in positions], ref, width, color=_REF, label="reference")
        ax.set_yscale("log")
        ax.set_title(
            f"Instructions per inference on {board} (QEMU -icount); label: board kernels /"
            " reference kernels, MACs per instruction",
            fontsize=10,
        )
        ax.set_ylabel("instructions")
        for i, r in enumerate(device_rows):
            mpi = f"{r['macs_per_instruction']:.2f}" if r["macs"] else "-"
            ax.annotate(
                f"{r['instructions_vs_reference']:.2f}x\n{mpi}",
                (i, max(ours[i], ref[i])),
                ha="center",
                va="bottom",
                fontsize=6,
            )
        ax.set_xticks(list(positions))
        ax.set_xticklabels(labels, rotation=35, ha="right", fontsize=7)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.grid(axis="y", which="major", alpha=0.3)
    for ax in axes:
        bottom, top = ax.get_ylim()
        ax.set_ylim(bottom, top * 4)  # room for the labels above the tallest bars (log scale)
    fig.tight_layout()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
    except OSError as exc:
        raise MicrodeployError(
            f"cannot write {path}: {exc.strerror}", hint="choose another --chart path"
        ) from None
    finally:
        plt.close(fig)
