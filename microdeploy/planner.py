"""The arena planner, the same algorithm as runtime_cpp/src/md/planner.cc (docs/architecture.md).

1. Buffers: every non-constant tensor used by subgraph 0 (its inputs/outputs, any op's inputs,
   outputs or intermediates), living [first op, last op] that touches it; subgraph inputs start
   at op 0, outputs end at the last op, variable tensors live the whole run. Scratch requests
   (known only to kernels; passed in by the caller) live [op, op].
2. Size = bytes rounded up to 16.
3. Placement order: size descending, first op ascending, buffer id ascending (tensors in tensor
   order first, then scratch in request order).
4. Each buffer goes to the lowest 16-aligned offset that overlaps no placed buffer whose lifetime
   intersects its own (first gap among those, scanned by offset).
5. Head = max(offset + size).
tests/test_planner_parity.py checks that both implementations give the same offsets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from microdeploy.model.reader import Model

ALIGNMENT = 16


def align(size: int) -> int:
    return (size + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


@dataclass(frozen=True)
class ScratchRequest:
    op: int
    size: int


@dataclass(frozen=True)
class PlannedBuffer:
    id: int
    tensor: int  # -1 for a scratch buffer
    size: int
    first: int
    last: int
    offset: int

    def live_at(self, op: int) -> bool:
        return self.first <= op <= self.last


@dataclass(frozen=True)
class ArenaPlan:
    buffers: tuple[PlannedBuffer, ...]
    head: int  # bytes of the planned region
    num_ops: int

    def live_bytes(self, op: int) -> int:
        """Sum of the sizes of the buffers alive during `op` (a lower bound for the head)."""
        return sum(b.size for b in self.buffers if b.live_at(op))

    def for_tensor(self, tensor: int) -> PlannedBuffer | None:
        return next((b for b in self.buffers if b.tensor == tensor), None)


def place(
    sizes: Sequence[int], firsts: Sequence[int], lasts: Sequence[int]
) -> tuple[list[int], int]:
    """Offsets for buffers given by id (list index), and the head size. Steps 3-5 above."""
    n = len(sizes)
    order = sorted(range(n), key=lambda i: (-sizes[i], firsts[i], i))
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
    return offsets, head


def plan_arena(model: Model, scratch: Sequence[ScratchRequest] = ()) -> ArenaPlan:
    """Plan subgraph 0's activations (and the given scratch requests)."""
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

    offsets, head = place(sizes, firsts, lasts)
    buffers = tuple(
        PlannedBuffer(i, tensor_ids[i], sizes[i], firsts[i], lasts[i], offsets[i])
        for i in range(len(sizes))
    )
    return ArenaPlan(buffers, head, num_ops)
