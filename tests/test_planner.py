"""The Python arena planner: valid (no live overlaps), deterministic, at least the live lower
bound, and following the documented lifetime rules, on the real models and random graphs."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from microdeploy import paths
from microdeploy.model.reader import Model, read_model
from microdeploy.model.writer import ModelBuilder
from microdeploy.planner import (
    ALIGNMENT,
    IN_PLACE_RULES,
    ArenaPlan,
    ScratchRequest,
    place,
    plan_arena,
)


def _shared_models() -> list[Path]:
    d = paths.shared_models_dir()
    if not d.is_dir():
        pytest.skip(f"reference models folder {d} is absent")
    return sorted(d.glob("*/*.tflite"))


def own_lifetimes(model: Model) -> dict[int, tuple[int, int]]:
    """Each non-constant tensor's [first, last] op, recomputed here from the documented rules."""
    last_op = max(len(model.operators) - 1, 0)
    spans: dict[int, tuple[int, int]] = {}

    def touch(t: int, op: int) -> None:
        if t >= 0 and not model.tensors[t].is_constant:
            first, last = spans.get(t, (op, op))
            spans[t] = (min(first, op), max(last, op))

    for t in model.main.inputs:
        touch(t, 0)
    for op in model.operators:
        for t in (*op.inputs, *op.outputs, *op.intermediates):
            touch(t, op.index)
    for t in model.main.outputs:
        touch(t, last_op)
    for t in spans:
        if model.tensors[t].is_variable:
            spans[t] = (0, last_op)
    return spans


def _assert_in_place_groups_are_handoffs(plan: ArenaPlan, model: Model) -> None:
    """Buffers sharing bytes form chains x0 -> x1 -> ...: x(k+1) is the only output of the op
    where x(k) is last used, that op reads x(k) and has an in-place rule; the group's first
    buffer is planned over the whole chain."""
    spans = own_lifetimes(model)
    groups: dict[int, list[int]] = {}
    for b in plan.buffers:
        if b.alias >= 0:
            root = plan.buffers[b.alias]
            assert root.alias == -1 and root.offset == b.offset and root.size == b.size, b
            assert (b.first, b.last) == spans[b.tensor]
            groups.setdefault(root.id, [root.tensor]).append(b.tensor)
    for root_id, tensors in groups.items():
        chain = sorted(tensors, key=lambda t: spans[t][0])
        for before, after in zip(chain, chain[1:], strict=False):
            handoff = spans[before][1]
            op = model.operators[handoff]
            assert spans[after][0] == handoff and op.outputs == (after,), (before, after)
            assert before in op.inputs and op.builtin_code in IN_PLACE_RULES
        root = plan.buffers[root_id]
        assert root.first == spans[chain[0]][0]
        if plan.stage is None:
            assert root.last == spans[chain[-1]][1]
        else:  # the group may feed a patch-based stage, which reads it up to the stage's end
            assert root.last in (spans[chain[-1]][1], plan.stage[1])


def _assert_valid(plan: ArenaPlan, model: Model | None = None) -> None:
    for b in plan.buffers:
        assert b.offset % ALIGNMENT == 0 and b.size % ALIGNMENT == 0
        assert b.offset + b.size <= plan.head
    if model is not None:
        _assert_in_place_groups_are_handoffs(plan, model)
    else:
        assert all(b.alias == -1 for b in plan.buffers)
    # An alias group's first buffer is planned over the group's whole lifetime, so checking
    # the unaliased buffers covers every byte in use.
    placed = [b for b in plan.buffers if b.alias == -1]
    for i, a in enumerate(placed):
        for b in placed[i + 1 :]:
            lifetimes_meet = a.first <= b.last and b.first <= a.last
            memory_meets = a.offset < b.offset + b.size and b.offset < a.offset + a.size
            assert not (lifetimes_meet and memory_meets), (a, b)
    peak_live = max((plan.live_bytes(op) for op in range(max(plan.num_ops, 1))), default=0)
    assert plan.head >= peak_live
    if plan.buffers:
        assert plan.head == max(b.offset + b.size for b in plan.buffers)


def random_graph_model(seed: int) -> bytes:
    """A random DAG of FULLY_CONNECTED and ADD ops (ops the runtime supports), int8, with some
    branches kept alive across many ops, several outputs, a variable tensor and intermediates."""
    rnd = random.Random(seed)
    b = ModelBuilder()
    width = rnd.choice([3, 8, 17, 64, 200])
    x = b.add_tensor([1, width], "int8", scale=0.5, zero_point=1)
    live = [(x, width)]
    outputs = []
    for _ in range(rnd.randint(1, 12)):
        src, n = rnd.choice(live)
        if rnd.random() < 0.3 and len([t for t in live if t[1] == n]) > 1:
            other = rnd.choice([t for t in live if t[1] == n and t[0] != src])[0]
            y = b.add_tensor([1, n], "int8", scale=0.5, zero_point=0)
            b.add_operator("ADD", [src, other], [y])
            live.append((y, n))
            continue
        m = rnd.choice([1, 4, 16, 33, 100, 256])
        w = b.add_tensor(
            [m, n], "int8", data=[rnd.randint(-127, 127) for _ in range(m * n)], scale=0.01
        )
        bias = b.add_tensor(
            [m], "int32", data=[rnd.randint(-99, 99) for _ in range(m)], scale=0.005
        )
        y = b.add_tensor([1, m], "int8", scale=0.5, zero_point=-2)
        b.add_operator("FULLY_CONNECTED", [src, w, bias], [y])
        live.append((y, m))
        if rnd.random() < 0.2:
            outputs.append(y)
    final = live[-1][0]
    outputs = sorted({*outputs, final})
    b.set_io([x], outputs)
    return b.build()


def test_plans_of_the_real_models_are_valid_and_deterministic() -> None:
    for path in _shared_models():
        model = read_model(path)
        plan = plan_arena(model)
        _assert_valid(plan, model)
        assert plan == plan_arena(read_model(path))


def test_person_detect_needs_at_least_its_largest_layer_pair() -> None:
    path = paths.shared_models_dir() / "tflm/person_detect.tflite"
    if not path.is_file():
        pytest.skip("person_detect.tflite is absent")
    model = read_model(path)
    plan = plan_arena(model, tiling="off")
    largest_pair = max(
        sum(
            model.tensors[t].nbytes
            for t in (*op.inputs, *op.outputs)
            if t >= 0 and not model.tensors[t].is_constant
        )
        for op in model.operators
    )
    assert plan.head >= largest_pair
    tiled = plan_arena(model)  # patch-based execution goes below that limit
    assert tiled.stage is not None and tiled.head < largest_pair


@pytest.mark.parametrize("seed", range(40))
def test_random_graph_plans_are_valid(seed: int) -> None:
    model = read_model(random_graph_model(seed))
    plan = plan_arena(model)
    _assert_valid(plan, model)
    assert {b.tensor for b in plan.buffers} == {t.index for t in model.tensors if not t.is_constant}


@pytest.mark.parametrize("seed", range(200))
def test_place_on_random_buffers_is_valid(seed: int) -> None:
    rnd = random.Random(seed)
    n = rnd.randint(0, 30)
    sizes = [rnd.choice([0, 16, 32, 48, 160, 1024, 4096]) for _ in range(n)]
    firsts = [rnd.randint(0, 10) for _ in range(n)]
    lasts = [f + rnd.randint(0, 5) for f in firsts]
    offsets, head = place(sizes, firsts, lasts)
    assert (offsets, head) == place(sizes, firsts, lasts)
    for op in range(16):
        live = [i for i in range(n) if firsts[i] <= op <= lasts[i]]
        assert head >= sum(sizes[i] for i in live)
        spans = sorted((offsets[i], offsets[i] + sizes[i]) for i in live if sizes[i])
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            assert end <= start


def test_greedy_order_and_reuse_on_a_chain() -> None:
    # a -> b -> c: a and c never live together, so c reuses a's bytes; b sits after a.
    offsets, head = place([64, 32, 64], [0, 0, 1], [0, 1, 1])
    assert offsets == [0, 64, 0] and head == 96


def _chain(variable: bool = False) -> Model:
    b = ModelBuilder()
    x = b.add_tensor([1, 10], "int8", scale=1.0)
    y = b.add_tensor([1, 10], "int8", scale=1.0)
    z = b.add_tensor([1, 10], "int8", scale=1.0)
    v = b.add_tensor([1, 3], "int16", scale=1.0, is_variable=variable)
    unused = b.add_tensor([1, 99], "int8", scale=1.0)
    b.add_operator("ADD", [x, x], [y])
    b.add_operator("ADD", [y, y], [z])
    b.add_operator("ADD", [z, z], [x], intermediates=[v])
    b.set_io([x], [y])
    assert unused == 4
    return read_model(b.build())


def test_lifetime_rules_inputs_outputs_variables_unused_and_scratch() -> None:
    plan = plan_arena(_chain(), scratch=[ScratchRequest(op=1, size=5)])
    by_tensor = {b.tensor: b for b in plan.buffers}
    assert 4 not in by_tensor  # touched by nothing
    assert (by_tensor[0].first, by_tensor[0].last) == (0, 2)  # input, rewritten by op 2
    assert (by_tensor[1].first, by_tensor[1].last) == (0, 2)  # output lives to the last op
    assert (by_tensor[3].first, by_tensor[3].last) == (2, 2)  # intermediate of op 2
    assert by_tensor[0].size == 16 and by_tensor[3].size == 16
    scratch = by_tensor[-1]
    assert (scratch.first, scratch.last, scratch.size, scratch.id) == (1, 1, 16, 4)
    variable = plan_arena(_chain(variable=True)).for_tensor(3)
    assert (variable.first, variable.last) == (0, 2)
