"""The arena plan as a picture (`inspect --plot FILE`): x = op index, y = arena offset, one box
per planned buffer (tensor or kernel scratch) spanning the ops during which it is live.

SVG is written by hand (no dependency); PNG is drawn with matplotlib, an optional dependency
(the `plot` extra), imported only here. Both draw the same boxes from `timeline_boxes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from microdeploy.errors import MicrodeployError
from microdeploy.model.analysis import ModelReport

FORMATS = (".svg", ".png")
WIDTH, HEIGHT = 900, 480  # pixels (the PNG at 100 dpi)
# Left: room for a 7-digit offset and the axis title beside it.
_MARGIN_LEFT, _MARGIN_TOP, _MARGIN_RIGHT, _MARGIN_BOTTOM = 90, 40, 20, 50
_PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1")
# A box gets its tensor number written inside only when the text fits (pixels).
_LABEL_MIN_W, _LABEL_MIN_H = 40, 12
_MATPLOTLIB_HINT = "pip install matplotlib (or: pip install -e '.[plot]'), or write an .svg file"


@dataclass(frozen=True)
class TimelineBox:
    tensor: int  # -1: a kernel's scratch buffer
    first_op: int
    last_op: int  # inclusive
    offset: int
    size: int
    color: str

    @property
    def label(self) -> str:
        return str(self.tensor) if self.tensor >= 0 else "scratch"

    @property
    def tooltip(self) -> str:
        what = f"tensor {self.tensor}" if self.tensor >= 0 else "scratch"
        return f"{what}: {self.size} bytes at {self.offset}, ops {self.first_op}-{self.last_op}"


def timeline_boxes(report: ModelReport) -> list[TimelineBox]:
    return [
        TimelineBox(b.tensor, b.first, b.last, b.offset, b.size, _PALETTE[b.id % len(_PALETTE)])
        for b in report.plan.buffers
    ]


def _title(report: ModelReport) -> str:
    return f"Arena plan: {Path(report.name).name or 'model'} — head {report.plan.head} bytes"


def _plot_size() -> tuple[int, int]:
    return WIDTH - _MARGIN_LEFT - _MARGIN_RIGHT, HEIGHT - _MARGIN_TOP - _MARGIN_BOTTOM


def _labelled(box: TimelineBox, num_ops: int, head: int) -> bool:
    plot_w, plot_h = _plot_size()
    width = (box.last_op - box.first_op + 1) * plot_w / num_ops
    return width > _LABEL_MIN_W and box.size / head * plot_h > _LABEL_MIN_H


def _tick_ops(num_ops: int) -> range:
    return range(0, num_ops, max(1, num_ops // 20))


def timeline_svg(report: ModelReport) -> str:
    plan = report.plan
    num_ops, head = max(plan.num_ops, 1), max(plan.head, 1)
    left, top = _MARGIN_LEFT, _MARGIN_TOP
    plot_w, plot_h = _plot_size()
    op_w = plot_w / num_ops

    def y(offset: int) -> float:
        return top + plot_h - offset / head * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{left}" y="22" font-size="14">{_escape(_title(report))}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="black"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="black"/>',
        f'<text x="{left + plot_w / 2}" y="{HEIGHT - 12}" text-anchor="middle">operator</text>',
        f'<text x="14" y="{top + plot_h / 2}" transform="rotate(-90 14 {top + plot_h / 2})" '
        'text-anchor="middle">arena offset (bytes)</text>',
    ]
    for op in _tick_ops(num_ops):
        x = left + (op + 0.5) * op_w
        parts.append(f'<text x="{x:.1f}" y="{top + plot_h + 15}" text-anchor="middle">{op}</text>')
    for frac in (0, 0.25, 0.5, 0.75, 1):
        value = int(head * frac)
        parts.append(
            f'<text x="{left - 4}" y="{y(value) + 4:.1f}" text-anchor="end">{value}</text>'
        )
    for box in timeline_boxes(report):
        x0 = left + box.first_op * op_w
        w = (box.last_op - box.first_op + 1) * op_w
        y1, y0 = y(box.offset), y(box.offset + box.size)
        parts.append(
            f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{w:.1f}" height="{max(y1 - y0, 0.5):.1f}" '
            f'fill="{box.color}" fill-opacity="0.75" stroke="black" stroke-width="0.5">'
            f"<title>{_escape(box.tooltip)}</title></rect>"
        )
        if _labelled(box, num_ops, head):
            parts.append(
                f'<text x="{x0 + 3:.1f}" y="{y0 + 11:.1f}" fill="white">{box.label}</text>'
            )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def require_matplotlib() -> None:
    """Raises the one-line error (with the pip hint) when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401 - only whether it imports
    except ImportError:
        raise MicrodeployError(
            "--plot with a .png file needs matplotlib, which is not installed",
            hint=_MATPLOTLIB_HINT,
        ) from None


def write_timeline_png(report: ModelReport, path: Path) -> None:
    """Draws the same boxes as the SVG with matplotlib's Agg renderer (no pyplot, no display)."""
    require_matplotlib()
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    plan = report.plan
    num_ops, head = max(plan.num_ops, 1), max(plan.head, 1)
    figure = Figure(figsize=(WIDTH / 100, HEIGHT / 100), dpi=100)
    plot_w, plot_h = _plot_size()
    axes = figure.add_axes(
        (
            _MARGIN_LEFT / WIDTH,
            _MARGIN_BOTTOM / HEIGHT,
            plot_w / WIDTH,
            plot_h / HEIGHT,
        )
    )
    for box in timeline_boxes(report):
        width = box.last_op - box.first_op + 1
        axes.add_patch(
            Rectangle(
                (box.first_op, box.offset),
                width,
                box.size,
                facecolor=box.color,
                alpha=0.75,
                edgecolor="black",
                linewidth=0.5,
            )
        )
        if _labelled(box, num_ops, head):
            axes.text(
                box.first_op + 0.05,
                box.offset + box.size,
                box.label,
                color="white",
                fontsize=8,
                verticalalignment="top",
            )
    axes.set_xlim(0, num_ops)
    axes.set_ylim(0, head)
    ticks = list(_tick_ops(num_ops))
    axes.set_xticks([op + 0.5 for op in ticks], [str(op) for op in ticks])
    axes.tick_params(labelsize=9)
    axes.set_xlabel("operator")
    axes.set_ylabel("arena offset (bytes)")
    figure.suptitle(_title(report), x=_MARGIN_LEFT / WIDTH, horizontalalignment="left")
    try:
        figure.savefig(path, format="png")
    except OSError as exc:
        raise MicrodeployError(f"--plot {path}: cannot write ({exc.strerror})") from None


def write_timeline(report: ModelReport, path: Path) -> None:
    """Writes the picture in the format the file name asks for (see FORMATS)."""
    if path.suffix.lower() == ".png":
        write_timeline_png(report, path)
        return
    try:
        path.write_text(timeline_svg(report), encoding="utf-8")
    except OSError as exc:
        raise MicrodeployError(f"--plot {path}: cannot write ({exc.strerror})") from None
