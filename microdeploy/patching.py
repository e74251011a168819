"""Patch-based execution planning (docs/patch_execution.md), the same rules as
runtime_cpp/src/md/interpreter.cc (ReadStageOp, ChooseStage).

A stage is a chain of ops s..e (s < e, at most MAX_STAGE_OPS) that can each compute a band of
output rows: CONV_2D (one group) or DEPTHWISE_CONV_2D, int8 rank-4 input and output with batch 1,
no scratch request. Each intermediate tensor (output of op k < e) is op k+1's input 0 and used by
no other op, planned, not variable, no subgraph output. The runtime streams the stage row by row
(one output row of op e at a time, each earlier op producing just the rows the next one needs),
so an intermediate only needs a window of WindowRows(op k+1) rows: its buffer shrinks to that and
lives [s, e]; the stage's input lives at least to e (its group's first buffer) and its output
from s. The first intermediate's buffer also holds every stage op's kept call and per-channel
constants (band_constants_bytes each), computed once per op per inference instead of once per band.

The best stage is the candidate (s ascending, then e ascending) whose plan has the smallest head.
Whether it is streamed is the tiling policy (the same as md::Tiling in interpreter.h):
- "auto": when it lowers the head by at least AUTO_MIN_SAVING_PERCENT of the layer-by-layer head,
  or when the layer-by-layer head exceeds `head_budget` (the arena left for the head) and the
  stage's is lower;
- "off": never;
- "on": whenever the model has a candidate, even if it saves nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from microdeploy.errors import MicrodeployError
from microdeploy.model.reader import Model, Operator

MAX_STAGE_OPS = 16
AUTO_MIN_SAVING_PERCENT = 10
TILING_MODES = ("auto", "off", "on")
Tiling = Literal["auto", "off", "on"]
_CONV, _DEPTHWISE = 3, 4  # builtin codes
_INT8 = 9  # TensorType


@dataclass(frozen=True)
class StageOp:
    """Row geometry of one stage op (heights, filter, stride, dilation, top padding)."""

    kh: int
    dh: int
    sh: int
    pad_h: int
    in_h: int
    out_h: int
    out_row_bytes: int
    out_depth: int


def read_stage_op(model: Model, op: Operator) -> StageOp | None:
    """The op's geometry when it can run on a band of output rows, else None."""
    if op.builtin_code not in (_CONV, _DEPTHWISE) or len(op.outputs) != 1 or len(op.inputs) < 2:
        return None
    if op.inputs[0] < 0 or op.inputs[1] < 0 or op.outputs[0] < 0:
        return None
    x, f, y = (model.tensors[i] for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    if x.type != _INT8 or y.type != _INT8 or len(x.shape) != 4 or len(y.shape) != 4:
        return None
    if len(f.shape) != 4 or x.shape[0] != 1 or y.shape[0] != 1:
        return None
    if op.builtin_code == _CONV and f.shape[3] != x.shape[3]:
        return None
    sh = int(op.options.get("stride_h", 0))  # type: ignore[call-overload]
    dh = int(op.options.get("dilation_h_factor", 1))  # type: ignore[call-overload]
    kh = f.shape[1]
    in_h, out_h = x.shape[1], y.shape[1]
    if sh < 1 or dh < 1 or kh < 1 or in_h < 1 or out_h < 1:
        return None
    total = (out_h - 1) * sh + (kh - 1) * dh + 1 - in_h
    return StageOp(kh, dh, sh, max(total // 2, 0), in_h, out_h, y.shape[2] * y.shape[3], y.shape[3])


def parse_tiling(value: str) -> Tiling:
    """A user's --tiling value, or a one-line error naming the choices."""
    if value not in TILING_MODES:
        raise MicrodeployError(
            f"--tiling {value!r} is not a tiling policy",
            hint="use auto (stream early layers when it saves >= 10% of the arena or is needed to "
            "fit), off (layer by layer) or on (always stream)",
        )
    return value  # type: ignore[return-value]


# The op's call kept for its later bands (md::kBandCallBytes, sizeof(md::BandCall)).
BAND_CALL_BYTES = 80


def band_constants_bytes(channels: int) -> int:
    """One stage op's area: its kept call, then its per-channel constants.

    md::BandConstantsBytes in kernel.h.
    """
    return BAND_CALL_BYTES + _align(4 + 12 * channels)


def window_rows(consumer: StageOp) -> int:
    """Rows of the consumer's input kept while streaming it one output row at a time."""
    return min(max((consumer.kh - 1) * consumer.dh + 1, consumer.sh), consumer.in_h)


@dataclass
class Buffers:
    """The planner's per-buffer arrays (by buffer id), edited in place by apply_stage."""

    sizes: list[int]
    firsts: list[int]
    lasts: list[int]
    aliases: list[int]


def _candidates(
    model: Model, buffer_of: dict[int, int], scratch_ops: set[int], variables: set[int]
) -> list[tuple[int, int, list[StageOp]]]:
    graph = model.main
    ops = graph.operators
    uses: dict[int, int] = {}
    for op in ops:
        for t in (*op.inputs, *op.outputs, *op.intermediates):
            if t >= 0:
                uses[t] = uses.get(t, 0) + 1
    found = []
    for s, first in enumerate(ops):
        head = read_stage_op(model, first)
        if head is None or s in scratch_ops:
            continue
        chain = [head]
        for e in range(s + 1, min(len(ops), s + MAX_STAGE_OPS)):
            geometry = read_stage_op(model, ops[e])
            mid = ops[e - 1].outputs[0]
            if geometry is None or e in scratch_ops or ops[e].inputs[0] != mid:
                break
            if uses.get(mid) != 2 or mid not in buffer_of or mid in graph.outputs:
                break
            if mid in variables:
                break
            chain.append(geometry)
            found.append((s, e, list(chain)))
    return found


def apply_stage(
    model: Model, buffer_of: dict[int, int], b: Buffers, s: int, e: int, chain: list[StageOp]
) -> None:
    """Shrinks the stage's intermediates to their windows and stretches its input and output."""
    ops = model.main.operators
    for k in range(s, e):
        i = buffer_of[ops[k].outputs[0]]
        rows = window_rows(chain[k + 1 - s])
        b.sizes[i] = _align(rows * chain[k - s].out_row_bytes)
        b.firsts[i], b.lasts[i] = s, e
    first_window = buffer_of[ops[s].outputs[0]]
    b.sizes[first_window] += sum(band_constants_bytes(op.out_depth) for op in chain)
    x = buffer_of.get(ops[s].inputs[0])
    if x is not None:
        root = b.aliases[x] if b.aliases[x] >= 0 else x
        b.lasts[root] = max(b.lasts[root], e)
    y = buffer_of[ops[e].outputs[0]]
    b.firsts[y] = min(b.firsts[y], s)


def _align(size: int) -> int:
    return (size + 15) // 16 * 16


def stage_pays(stage_head: int, layer_head: int, head_budget: int | None) -> bool:
    """The "auto" policy: is streaming worth it (StagePays in interpreter.cc)?"""
    if head_budget is not None and layer_head > head_budget:
        return stage_head < layer_head
    return stage_head * 100 <= layer_head * (100 - AUTO_MIN_SAVING_PERCENT)


def choose_stage(
    model: Model,
    buffer_of: dict[int, int],
    b: Buffers,
    scratch_ops: set[int],
    place: Callable[
        [Sequence[int], Sequence[int], Sequence[int], Sequence[int]], tuple[list[int], int]
    ],
    tiling: Tiling = "auto",
    head_budget: int | None = None,
) -> tuple[int, int] | None:
    """The stage to run patch-based (applied to `b`), or None (see the policy above)."""
    if tiling not in TILING_MODES:
        raise ValueError(f"tiling must be one of {TILING_MODES}, not {tiling!r}")
    if tiling == "off":
        return None
    graph = model.main
    variables = {t.index for t in graph.tensors if t.is_variable}
    _, layer_head = place(b.sizes, b.firsts, b.lasts, b.aliases)
    best_head = 0xFFFFFFFF if tiling == "on" else layer_head
    best: tuple[int, int, list[StageOp]] | None = None
    for s, e, chain in _candidates(model, buffer_of, scratch_ops, variables):
        trial = Buffers(list(b.sizes), list(b.firsts), list(b.lasts), b.aliases)
        apply_stage(model, buffer_of, trial, s, e, chain)
        _, head = place(trial.sizes, trial.firsts, trial.lasts, trial.aliases)
        if head < best_head:
            best_head, best = head, (s, e, chain)
    if best is None:
        return None
    if tiling == "auto" and not stage_pays(best_head, layer_head, head_budget):
        return None
    apply_stage(model, buffer_of, b, *best)
    return best[0], best[1]
