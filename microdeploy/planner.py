"""The arena planner, the same algorithm as runtime_cpp/src/md/planner.cc (docs/architecture.md).

1. Buffers: every non-constant tensor used by subgraph 0 (its inputs/outputs, any op's inputs,
   outputs or intermediates), living [first op, last op] that touches it; subgraph inputs start
   at op 0, outputs end at the last op, variable tensors live the whole run. Scratch requests
   (known only to kernels; passed in by the caller) live [op, op]. Size = bytes rounded to 16.
2. In-place aliasing (`alias_in_place`): an op in IN_PLACE_RULES may write its only output over
   an input that dies at that op; the output then shares that input's bytes (its alias group's
   first buffer, whose lifetime grows to cover the output) and is not placed itself.
3. Placement order: size descending, first op ascending, buffer id ascending (tensors in tensor
   order first, then scratch in request order).
4. Each buffer goes to the lowest 16-aligned offset that overlaps no placed buffer whose lifetime
   intersects its own (first gap among those, scanned by offset).
5. Head = max(offset + size).
6. Patch-based execution (microdeploy/patching.py): steps 3-5 are also run with each candidate
   stage's buffers shrunk to row windows; the stage giving the smallest head is kept when the
   tiling policy says so (`tiling`: "auto" when it saves enough or is needed to fit
   `head_budget`, "off", "on").
7. Spare scratch (`grant_spare`; kernel.h RequestSpareScratch): once placed, each spare request
   in request order gets the largest run of head bytes that no buffer live at its op covers
   (earlier grants of the same op included; lowest offset on ties), capped at its max, when the
   run holds its min. Ops of the stage get none, nor any op when the head is WIDE_HEAD or more.
   Spare requests change nothing in steps 1-6.
tests/test_planner_parity.py and tests/test_spare_scratch.py check that both implementations give
the same offsets and grants.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from microdeploy.model.reader import Model
from microdeploy.patching import Buffers, Tiling, choose_stage

ALIGNMENT = 16
# A head this large keeps no spare scratch (the runtime's table holds a grant's offset / 16 in
# 16 bits).
WIDE_HEAD = 0xFFFF * ALIGNMENT


@dataclass(frozen=True)
class InPlaceRule:
    """Input positions an op's only output may overwrite; `same_dims`: the input must have the
    output's exact dims (element-wise kernels), else equal byte size is enough (RESHAPE)."""

    inputs: tuple[int, ...]
    same_dims: bool


# By builtin code, the same table as InPlaceRuleFor in runtime_cpp/src/md/planner.cc. Each kernel
# named here reads element i of the aliased input before writing element i of its output.
IN_PLACE_RULES: dict[int, InPlaceRule] = {
    22: InPlaceRule((0,), same_dims=False),  # RESHAPE
    0: InPlaceRule((0, 1), same_dims=True),  # ADD
    18: InPlaceRule((0, 1), same_dims=True),  # MUL
    14: InPlaceRule((0,), same_dims=True),  # LOGISTIC
    28: InPlaceRule((0,), same_dims=True),  # TANH
    114: InPlaceRule((0,), same_dims=True),  # QUANTIZE (same type only: requantization)
}


def align(size: int) -> int:
    return (size + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


@dataclass(frozen=True)
class ScratchRequest:
    op: int
    size: int


@dataclass(frozen=True)
class SpareRequest:
    """A kernel's RequestSpareScratch(min_bytes, max_bytes) at op `op`."""

    op: int
    min_bytes: int
    max_bytes: int

    def __post_init__(self) -> None:
        if not 0 <= self.min_bytes <= self.max_bytes:
            raise ValueError(f"spare request needs 0 <= min <= max, got {self}")


@dataclass(frozen=True)
class SpareGrant:
    """What a spare request got: `bytes` at head `offset`, or bytes 0 and offset -1 for none."""

    op: int
    offset: int
    bytes: int


@dataclass(frozen=True)
class PlannedBuffer:
    id: int
    tensor: int  # -1 for a scratch buffer
    size: int
    first: int
    last: int
    offset: int
    alias: int = -1  # id of the buffer whose bytes it shares in place (-1: placed on its own)

    def live_at(self, op: int) -> bool:
        return self.first <= op <= self.last


@dataclass(frozen=True)
class ArenaPlan:
    buffers: tuple[PlannedBuffer, ...]
    head: int  # bytes of the planned region
    num_ops: int
    # Patch-based stage (first op, last op) streamed row by row (docs/patch_execution.md); its
    # intermediate tensors' buffers are row windows. None: layer-by-layer execution.
    stage: tuple[int, int] | None = None
    # One per spare request, in request order (step 7).
    spare: tuple[SpareGrant, ...] = ()

    def live_bytes(self, op: int) -> int:
        """Sum of the sizes of the distinct memory blocks alive during `op` (a lower bound for
        the head); buffers sharing bytes in place count once."""
        return sum(b.size for b in self.buffers if b.live_at(op) and b.alias < 0)

    def for_tensor(self, tensor: int) -> PlannedBuffer | None:
        return next((b for b in self.buffers if b.tensor == tensor), None)


def place(
    sizes: Sequence[int],
    firsts: Sequence[int],
    lasts: Sequence[int],
    aliases: Sequence[int] | None = None,
) -> tuple[list[int], int]:
    """Offsets for buffers given by id (list index), and the head size. Steps 3-5 above; an
    aliased buffer (aliases[i] >= 0) is not placed and takes its alias's offset."""
    n = len(sizes)
    alias = list(aliases) if aliases is not None else [-1] * n
    order = sorted((i for i in range(n) if alias[i] < 0), key=lambda i: (-sizes[i], firsts[i], i))
    offsets = [0] * n
    by_offset: list[int] = []  # placed ids sorted by offset; ties keep placement order
    head = 0
    for i in order:
        candidate = 0
        for other in by_offset:
            if not (firsts[i] <= lasts[other] and firsts[other] <= lasts[i]):
                continue
            if candidate + sizes[i] <= offsets[other]:
                break
            candidate = max(candidate, offsets[other] + sizes[other])
        offsets[i] = candidate
        head = max(head, candidate + sizes[i])
        position = len(by_offset)
        while position > 0 and offsets[by_offset[position - 1]] > candidate:
            position -= 1
        by_offset.insert(position, i)
    for i in range(n):
        if alias[i] >= 0:
            offsets[i] = offsets[alias[i]]
    return offsets, head


def alias_in_place(
    model: Model, buffer_of: dict[int, int], firsts: list[int], lasts: list[int]
) -> list[int]:
    """Step 2: each buffer's alias (-1 none); extends the alias groups' lasts in `lasts`.

    In op order, an op with a rule and one output writes it over the first allowed input that
    dies at this op, when both are planned, not variable, of the same type and byte size (and
    dims when the rule says so), the input is no subgraph output and the output no subgraph
    input, and the output is first used by this op.
    """
    graph = model.main
    alias = [-1] * len(firsts)
    for op in graph.operators:
        rule = IN_PLACE_RULES.get(op.builtin_code)
        if rule is None or len(op.outputs) != 1:
            continue
        out = op.outputs[0]
        ob = buffer_of.get(out)
        if ob is None or out in graph.inputs:
            continue
        ot = graph.tensors[out]
        if ot.is_variable or firsts[ob] != op.index or alias[ob] >= 0:
            continue
        for k in rule.inputs:
            if k >= len(op.inputs) or op.inputs[k] < 0 or op.inputs[k] == out:
                continue
            ib = buffer_of.get(op.inputs[k])
            if ib is None:
                continue
            it = graph.tensors[op.inputs[k]]
            if it.is_variable or lasts[ib] != op.index or op.inputs[k] in graph.outputs:
                continue
            if it.type != ot.type or it.nbytes != ot.nbytes:
                continue
            if rule.same_dims and tuple(it.shape) != tuple(ot.shape):
                continue
            root = alias[ib] if alias[ib] >= 0 else ib
            alias[ob] = root
            lasts[root] = max(lasts[root], lasts[ob])
            break
    return alias


def largest_free_run(ranges: Sequence[tuple[int, int]], head: int) -> tuple[int, int]:
    """(offset, bytes) of the largest run of [0, head) that no [start, end) in `ranges` covers,
    the lowest one on ties; (0, 0) when there is none (md::LargestFreeRun)."""
    best = (0, 0)
    covered = 0
    for start, end in [*sorted(r for r in ranges if r[1] > r[0]), (head, head)]:
        if start - covered > best[1]:
            best = (covered, start - covered)
        covered = max(covered, end)
    return best


def grant_spare(
    sizes: Sequence[int],
    firsts: Sequence[int],
    lasts: Sequence[int],
    offsets: Sequence[int],
    head: int,
    stage: tuple[int, int] | None,
    requests: Sequence[SpareRequest],
) -> tuple[SpareGrant, ...]:
    """Step 7 for placed buffers (by id, after the stage's edits), as the runtime grants them
    (Interpreter::GrantSpareScratch): each grant counts as live at its op for the next."""
    taken: list[tuple[int, int, int]] = []  # (op, start, end) of the grants so far
    grants = []
    for request in requests:
        op = request.op
        offset, run = 0, 0
        if head < WIDE_HEAD and not (stage is not None and stage[0] <= op <= stage[1]):
            live = [
                (offsets[i], offsets[i] + sizes[i])
                for i in range(len(sizes))
                if firsts[i] <= op <= lasts[i]
            ]
            live += [(start, end) for o, start, end in taken if o == op]
            offset, run = largest_free_run(live, head)
        granted = min(run, request.max_bytes) if run >= request.min_bytes else 0
        if granted == 0:
            grants.append(SpareGrant(op, -1, 0))
            continue
        taken.append((op, offset, offset + align(granted)))
        grants.append(SpareGrant(op, offset, granted))
    return tuple(grants)


def plan_arena(
    model: Model,
    scratch: Sequence[ScratchRequest] = (),
    tiling: Tiling = "auto",
    head_budget: int | None = None,
    spare: Sequence[SpareRequest] = (),
) -> ArenaPlan:
    """Plan subgraph 0's activations (and the given scratch requests), then grant the spare
    requests (step 7). `head_budget`: bytes the arena leaves for the head (the runtime's arena
    minus its tail), None for no limit."""
    graph = model.main
    num_ops = len(graph.operators)
    last_op = max(num_ops - 1, 0)
    first = [None] * len(graph.tensors)  # type: list[int | None]
    last = [-1] * len(graph.tensors)

    def touch(tensor: int, op: int) -> None:
        if tensor < 0:
            return
        first[tensor] = op if first[tensor] is None else min(first[tensor], op)  # type: ignore[type-var]
        last[tensor] = max(last[tensor], op)

    for t in graph.inputs:
        touch(t, 0)
    for op in graph.operators:
        for t in (*op.inputs, *op.outputs, *op.intermediates):
            touch(t, op.index)
    for t in graph.outputs:
        touch(t, last_op)

    tensor_ids: list[int] = []
    sizes: list[int] = []
    firsts: list[int] = []
    lasts: list[int] = []
    for tensor in graph.tensors:
        start = first[tensor.index]
        if start is None or tensor.is_constant:
            continue
        tensor_ids.append(tensor.index)
        sizes.append(align(tensor.nbytes))
        if tensor.is_variable:
            firsts.append(0)
            lasts.append(last_op)
        else:
            firsts.append(start)
            lasts.append(last[tensor.index])
    for request in scratch:
        tensor_ids.append(-1)
        sizes.append(align(request.size))
        firsts.append(request.op)
        lasts.append(request.op)

    buffer_of = {t: i for i, t in enumerate(tensor_ids) if t >= 0}
    aliases = alias_in_place(model, buffer_of, firsts, lasts)
    arrays = Buffers(sizes, firsts, lasts, aliases)
    scratch_ops = {r.op for r in scratch}
    stage = choose_stage(model, buffer_of, arrays, scratch_ops, place, tiling, head_budget)
    offsets, head = place(sizes, firsts, lasts, aliases)
    buffers = tuple(
        PlannedBuffer(i, tensor_ids[i], sizes[i], firsts[i], lasts[i], offsets[i], aliases[i])
        for i in range(len(sizes))
    )
    grants = grant_spare(sizes, firsts, lasts, offsets, head, stage, spare)
    return ArenaPlan(buffers, head, num_ops, stage, grants)
