"""In-place aliasing (docs/architecture.md, arena planning step 2): outputs written over inputs
that die at the op, for the ops in IN_PLACE_RULES only, never over an input used later, a
subgraph output or a broadcast input; outputs stay bit-exact with TFLM and the C++ plan equals
the Python one."""

from __future__ import annotations

import numpy as np
import pytest
from test_planner import _assert_valid
from test_planner_parity import _compare

from microdeploy import host_runtime, reference
from microdeploy.model.reader import read_model
from microdeploy.model.writer import ModelBuilder
from microdeploy.planner import plan_arena

N = 48  # elements of the chain's tensors: 48 bytes, a multiple of the 16-byte alignment


def chain_model() -> bytes:
    """x -> QUANTIZE (int8 requantization) -> RESHAPE -> ADD(+broadcast row) -> MUL(by itself)
    -> LOGISTIC -> TANH -> RESHAPE -> y: every step may overwrite its input."""
    b = ModelBuilder()
    x = b.add_tensor([1, N], "int8", scale=0.1, zero_point=3)
    q = b.add_tensor([1, N], "int8", scale=0.07, zero_point=-5)
    r = b.add_tensor([1, 4, 12], "int8", scale=0.07, zero_point=-5)
    row = b.add_tensor(
        [12], "int8", data=(np.arange(12) * 9 - 50).astype(np.int8), scale=0.05, zero_point=2
    )
    a = b.add_tensor([1, 4, 12], "int8", scale=0.1, zero_point=-1)
    m = b.add_tensor([1, 4, 12], "int8", scale=0.3, zero_point=-20)
    s = b.add_tensor([1, 4, 12], "int8", scale=1 / 256, zero_point=-128)
    t = b.add_tensor([1, 4, 12], "int8", scale=1 / 128, zero_point=0)
    y = b.add_tensor([1, N], "int8", scale=1 / 128, zero_point=0)
    shape = b.add_tensor([2], "int32", data=np.array([1, 4 * 12], np.int32))
    b.add_operator("QUANTIZE", [x], [q])
    b.add_operator("RESHAPE", [q], [r], {"new_shape": [1, 4, 12]})
    b.add_operator("ADD", [row, r], [a])
    b.add_operator("MUL", [a, a], [m])
    b.add_operator("LOGISTIC", [m], [s])
    b.add_operator("TANH", [s], [t])
    b.add_operator("RESHAPE", [t, shape], [y])
    b.set_io([x], [y])
    return b.build()


def no_alias_model() -> bytes:
    """Cases that must not alias: an ADD input used by a later op, an input that only broadcasts
    to the output's shape (same bytes, other dims), and an op with no rule (SOFTMAX)."""
    b = ModelBuilder()
    x = b.add_tensor([1, 16], "int8", scale=0.1, zero_point=0)
    v = b.add_tensor([16], "int8", scale=0.1, zero_point=0)
    a = b.add_tensor([1, 16], "int8", scale=0.2, zero_point=1)
    c = b.add_tensor([1, 16], "int8", scale=0.2, zero_point=1)
    sm = b.add_tensor([1, 16], "int8", scale=1 / 256, zero_point=-128)
    shape = b.add_tensor([1], "int32", data=np.array([16], np.int32))
    k = b.add_tensor(
        [1, 16], "int8", data=(np.arange(16) * 5 - 40).astype(np.int8), scale=0.1, zero_point=0
    )
    b.add_operator("RESHAPE", [x, shape], [v])  # x is used again by op 2: v gets its own bytes
    b.add_operator("ADD", [v, k], [a])  # v ([16]) broadcasts to a ([1, 16]): not in place
    b.add_operator("ADD", [a, x], [c])  # a dies here, same dims: in place over a
    b.add_operator("SOFTMAX", [c], [sm], {"beta": 1.0})
    b.set_io([x], [sm])
    return b.build()


def _by_tensor(model: bytes) -> dict[int, object]:
    return {b.tensor: b for b in plan_arena(read_model(model)).buffers}


def test_a_chain_of_in_place_ops_needs_one_buffer() -> None:
    model = read_model(chain_model())
    plan = plan_arena(model)
    _assert_valid(plan, model)
    root = plan.for_tensor(0)
    assert root is not None and root.alias == -1
    aliased = [b for b in plan.buffers if b.tensor != 0]
    assert aliased and all(b.alias == root.id and b.offset == root.offset for b in aliased)
    assert plan.head == 48  # one 48-byte buffer instead of two alternating ones
    assert (root.first, root.last) == (0, len(model.operators) - 1)


def test_no_alias_where_the_rules_forbid_it() -> None:
    model = read_model(no_alias_model())
    plan = plan_arena(model)
    _assert_valid(plan, model)
    alias = {b.tensor: b.alias for b in plan.buffers}
    assert alias[1] == -1  # RESHAPE over x, which op 2 still reads
    assert alias[2] == -1  # ADD over v, whose dims differ from the output's
    assert alias[3] == plan.for_tensor(2).id  # ADD over a, which dies at op 2
    assert alias[4] == -1  # SOFTMAX has no in-place rule


@pytest.mark.parametrize("make", [chain_model, no_alias_model], ids=["chain", "no_alias"])
def test_cpp_plan_equals_python_plan(make) -> None:  # type: ignore[no-untyped-def]
    _compare(make())


@pytest.mark.skipif(not reference.available(), reason="tflite-micro not installed")
@pytest.mark.parametrize("make", [chain_model, no_alias_model], ids=["chain", "no_alias"])
@pytest.mark.parametrize("seed", range(3))
def test_in_place_outputs_equal_tflm(make, seed: int) -> None:  # type: ignore[no-untyped-def]
    model = make()
    shape = read_model(model).inputs[0].shape
    x = np.random.default_rng(seed).integers(-128, 128, size=shape, dtype=np.int8)
    ours = host_runtime.run_model(model, [x], repeat=2)
    theirs = reference.tflm_run(model, [x])
    assert np.array_equal(ours.outputs[0], theirs[0])
